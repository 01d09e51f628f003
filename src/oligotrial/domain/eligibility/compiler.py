"""Compile a rule expression (decoded protocol YAML) into a Kleene node tree, once per protocol:
an unknown leaf or a bad parameter is a :class:`~oligotrial.errors.ProtocolError` at load time.
"""

from __future__ import annotations

from typing import Any

from oligotrial.domain.eligibility import criteria  # noqa: F401  (importing it registers every leaf)
from oligotrial.domain.eligibility.kleene import (
    Node,
    all_of,
    any_of,
    applies_if,
    count_of,
    negate,
)
from oligotrial.domain.eligibility.registry import registered
from oligotrial.errors import ProtocolError


def leaf_names() -> list[str]:
    return sorted(registered())


def compile_rule(expr: Any, where: str = "rule") -> Node:
    """Compile a rule expression (decoded YAML) into a Node, checking every leaf."""
    if not isinstance(expr, dict) or len(expr) != 1:
        raise ProtocolError(f"{where}: expected a mapping with exactly one operator, got {expr!r}")
    ((op, arg),) = expr.items()
    if op in ("all", "any"):
        if not isinstance(arg, list) or not arg:
            raise ProtocolError(f"{where}.{op}: expected a non-empty list")
        children = [compile_rule(e, f"{where}.{op}[{i}]") for i, e in enumerate(arg)]
        return all_of(children) if op == "all" else any_of(children)
    if op == "not":
        return negate(compile_rule(arg, f"{where}.not"))
    if op in ("at_least", "at_most"):
        if not isinstance(arg, dict) or set(arg) != {"n", "of"}:
            raise ProtocolError(f"{where}.{op}: expected {{n: int, of: [rules]}}")
        children = [compile_rule(e, f"{where}.{op}.of[{i}]") for i, e in enumerate(arg["of"])]
        return count_of(children, int(arg["n"]), at_least=op == "at_least")
    if op == "applies_if":
        if not isinstance(arg, dict) or set(arg) != {"if", "then"}:
            raise ProtocolError(f"{where}.applies_if: expected {{if: rule, then: rule}}")
        return applies_if(compile_rule(arg["if"], f"{where}.if"), compile_rule(arg["then"], f"{where}.then"))
    factory = registered().get(op)
    if factory is None:
        raise ProtocolError(
            f"{where}: unknown rule {op!r}; expected one of all, any, not, at_least, at_most, "
            f"applies_if, {', '.join(sorted(registered()))}"
        )
    try:
        return factory(arg)
    except ProtocolError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise ProtocolError(f"{where}.{op}: invalid parameters {arg!r} ({exc})") from None
