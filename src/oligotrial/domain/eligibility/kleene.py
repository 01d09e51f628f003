"""Tri-state eligibility: criteria evaluate to met / not_met / unknown / not_applicable.

A criterion's rule is a tree of ``all``, ``any``, ``not``, ``at_least``/``at_most`` and
``applies_if`` nodes over leaves (``oligotrial.domain.eligibility.criteria``). Trees are compiled once per
protocol (unknown leaves or parameters are a :class:`ProtocolError` at load time) and evaluated
as written, without DNF expansion, with strong Kleene logic; every criterion is evaluated and
reported, even after the trial verdict is known.

Missing data is ``unknown`` and says what would decide it; it never turns silently into false.

References
----------
Kleene SC. Introduction to Metamathematics. 1952 (strong three-valued logic).
``not_applicable`` children are neutral in ``all``/``any`` (e.g. a pregnancy test for a man).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from oligotrial.domain.kernel import Explained, Reason
from oligotrial.domain.protocol.schema import Protocol


class Verdict(str, Enum):
    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return self.value


MET, NOT_MET, UNKNOWN, NA = Verdict.MET, Verdict.NOT_MET, Verdict.UNKNOWN, Verdict.NOT_APPLICABLE


class Outcome(Explained):
    """A verdict with why it was reached, what it read and what would decide it.

    ``reason`` may be given as a string or as a zero-argument callable that builds it: the
    explanation is then formatted only when somebody reads it (a screen of a whole registry
    reads the verdicts; one coordinator reads the reasons). It is built at most once.
    """

    __slots__ = ("assumed", "inputs", "missing", "verdict")

    def __init__(
        self,
        verdict: Verdict,
        reason: Reason,
        inputs: tuple[str, ...] = (),
        missing: tuple[str, ...] = (),
        assumed: tuple[str, ...] = (),
    ) -> None:
        self.verdict = verdict
        self._reason = reason
        self.inputs = inputs
        self.missing = missing
        self.assumed = assumed

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return (self.verdict, self.reason, self.inputs, self.missing, self.assumed) == (
            other.verdict,
            other.reason,
            other.inputs,
            other.missing,
            other.assumed,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Outcome(verdict={self.verdict!r}, reason={self.reason!r}, inputs={self.inputs!r}, "
            f"missing={self.missing!r}, assumed={self.assumed!r})"
        )


def met(reason: Reason, inputs=(), assumed=()) -> Outcome:
    return Outcome(MET, reason, tuple(inputs), (), tuple(assumed))


def not_met(reason: Reason, inputs=()) -> Outcome:
    return Outcome(NOT_MET, reason, tuple(inputs))


def unknown(reason: Reason, missing, inputs=()) -> Outcome:
    return Outcome(UNKNOWN, reason, tuple(inputs), tuple(missing))


def not_applicable(reason: Reason, inputs=()) -> Outcome:
    return Outcome(NA, reason, tuple(inputs))


Node = Callable[["Context"], Outcome]


@dataclass(slots=True)
class Context:
    """Everything a rule may look at; facts derived from the record are computed once."""

    patient: Any
    as_of: dt.date
    protocol: Protocol
    assume_attested: bool = False
    cache: dict[str, Any] = field(default_factory=dict)
    shared: dict[Any, Any] = field(default_factory=dict)

    def memo(self, key: str, make: Callable[..., Any], *args: Any) -> Any:
        """Per-(patient, protocol) memo: ``make(*args)`` the first time ``key`` is asked for."""
        try:
            return self.cache[key]
        except KeyError:
            value = self.cache[key] = make(*args)
            return value

    def patient_memo(self, key: Hashable, make: Callable[..., Any], *args: Any) -> Any:
        """Per-patient memo, shared by every protocol the patient is screened against:
        ``make(*args)`` the first time ``key`` is asked for (pass a function and its arguments,
        so that no closure is built on every call)."""
        try:
            return self.shared[key]
        except KeyError:
            value = self.shared[key] = make(*args)
            return value


def _uniq(parts) -> tuple[str, ...]:
    return tuple(dict.fromkeys(parts))


class _Derived(Outcome):
    """A combinator's outcome: its verdict now; ``inputs``, ``missing`` and ``assumed`` derived
    from its children's outcomes the first time one of them is read (a registry screen reads the
    verdicts; a coordinator reads the reasons of a few criteria). Same values as computing them
    eagerly (:func:`_explain`)."""

    __slots__ = ("_deciding", "_evaluated", "_parts")

    def __init__(
        self, verdict: Verdict, reason: Reason, deciding: list[Outcome], evaluated: list[Outcome] | None = None
    ) -> None:
        self.verdict = verdict
        self._reason = reason
        self._deciding = deciding
        self._evaluated = evaluated
        self._parts: tuple | None = None

    def _explain(self) -> tuple:
        """(inputs, missing, assumed): inputs/missing from the deciding children (missing only
        for an unknown verdict); assumed attestations from every evaluated child, so a result
        always says which attestations were assumed."""
        parts = self._parts
        if parts is None:
            outcomes, verdict = self._deciding, self.verdict
            if len(outcomes) == 1:
                o = outcomes[0]
                inputs, missing = o.inputs, (o.missing if verdict is UNKNOWN else ())
            else:
                inputs = _uniq(i for o in outcomes for i in o.inputs)
                missing = _uniq(m for o in outcomes for m in o.missing) if verdict is UNKNOWN else ()
            src = self._evaluated if self._evaluated is not None else outcomes
            assumed = _uniq(a for o in src for a in o.assumed) if any(o.assumed for o in src) else ()
            parts = self._parts = (inputs, missing, assumed)
            self._deciding = self._evaluated = None  # type: ignore[assignment]
        return parts

    inputs = property(lambda self: self._explain()[0])
    missing = property(lambda self: self._explain()[1])
    assumed = property(lambda self: self._explain()[2])


class _Negated(Outcome):
    """``not``: the child's verdict flipped (met <-> not met), everything else the child's, read
    from the child when read."""

    __slots__ = ("_child",)

    def __init__(self, verdict: Verdict, child: Outcome) -> None:
        self.verdict = verdict
        self._reason = child._reason
        self._child = child

    @property
    def reason(self) -> str:  # the child's text, formatted once (by the child)
        return self._child.reason

    inputs = property(lambda self: self._child.inputs)
    missing = property(lambda self: self._child.missing)
    assumed = property(lambda self: self._child.assumed)


class _Inapplicable(Outcome):
    """``applies_if`` whose condition is not met: not applicable, citing the condition's inputs
    (read from the condition when read)."""

    __slots__ = ("_cond",)

    def __init__(self, cond: Outcome) -> None:
        self.verdict = NA
        self._reason = lambda: f"does not apply: {cond.reason}"
        self._cond = cond

    inputs = property(lambda self: self._cond.inputs)
    missing = property(lambda self: ())
    assumed = property(lambda self: ())


def _merge(
    outcomes: list[Outcome], verdict: Verdict, reason: Reason, evaluated: list[Outcome] | None = None
) -> Outcome:
    """Combine children: inputs/missing from the deciding ``outcomes``; assumed attestations from
    every ``evaluated`` child (derived when first read)."""
    return _Derived(verdict, reason, outcomes, evaluated)


def _join(outcomes: list[Outcome]) -> Reason:
    """The children's reasons joined, built when read."""
    if len(outcomes) == 1:
        return outcomes[0]._reason
    return lambda: "; ".join(r for o in outcomes if (r := o.reason))


def all_of(children: list[Node]) -> Node:
    """Strong Kleene conjunction; not_applicable children are neutral."""

    def node(ctx: Context) -> Outcome:
        outs = [c(ctx) for c in children]
        vs = [o.verdict for o in outs]
        if NOT_MET in vs:
            bad = [o for o in outs if o.verdict is NOT_MET]
            return _Derived(NOT_MET, _join(bad), bad, outs)
        if UNKNOWN in vs:
            return _Derived(UNKNOWN, _join([o for o in outs if o.verdict is UNKNOWN]), outs)
        if MET in vs:
            return _Derived(MET, _join(outs if NA not in vs else [o for o in outs if o.verdict is MET]), outs)
        return _Derived(NA, _join(outs), outs)

    return node


def any_of(children: list[Node]) -> Node:
    """Strong Kleene disjunction; not_applicable children are neutral."""

    def node(ctx: Context) -> Outcome:
        outs = [c(ctx) for c in children]
        vs = [o.verdict for o in outs]
        if MET in vs:
            ok = [o for o in outs if o.verdict is MET]
            return _Derived(MET, _join(ok), ok, outs)
        if UNKNOWN in vs:
            return _Derived(UNKNOWN, _join([o for o in outs if o.verdict is UNKNOWN]), outs)
        if NOT_MET in vs:
            bad = outs if NA not in vs else [o for o in outs if o.verdict is NOT_MET]
            return _Derived(NOT_MET, _join(bad), bad, outs)
        return _Derived(NA, _join(outs), outs)

    return node


_FLIP = {MET: NOT_MET, NOT_MET: MET, UNKNOWN: UNKNOWN, NA: NA}


def negate(child: Node) -> Node:
    def node(ctx: Context) -> Outcome:
        o = child(ctx)
        return _Negated(_FLIP[o.verdict], o)

    return node


def count_of(children: list[Node], n: int, *, at_least: bool) -> Node:
    """``at_least`` / ``at_most`` n children met, deciding only when the unknowns cannot matter."""
    word = "at least" if at_least else "at most"

    def node(ctx: Context) -> Outcome:
        outs = [c(ctx) for c in children]
        vs = [o.verdict for o in outs]
        k_met = vs.count(MET)
        k_unk = vs.count(UNKNOWN)
        lo, hi = k_met, k_met + k_unk
        n_outs = len(outs)

        def why() -> str:
            return f"{k_met} of {n_outs} met ({k_unk} unknown), {word} {n} required"

        if at_least:
            verdict = MET if lo >= n else (NOT_MET if hi < n else UNKNOWN)
        else:
            verdict = MET if hi <= n else (NOT_MET if lo > n else UNKNOWN)
        return _Derived(verdict, why, outs)

    return node


def applies_if(condition: Node, then: Node) -> Node:
    """``then`` where ``condition`` holds; not_applicable where it does not (material implication
    when the condition is unknown: met only if ``then`` is met regardless)."""

    def node(ctx: Context) -> Outcome:
        c = condition(ctx)
        cv = c.verdict
        if cv is NOT_MET:
            return _Inapplicable(c)
        t = then(ctx)
        if cv is MET or cv is NA:
            return t
        if t.verdict is MET or t.verdict is NA:
            return _Derived(t.verdict, t._reason, [c, t])
        return _Derived(UNKNOWN, lambda: f"{c.reason}; {t.reason}", [c, t])

    return node
