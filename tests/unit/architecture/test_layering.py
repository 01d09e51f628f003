"""The domain's layering: which context may import which, no import cycle anywhere, and imports
across a context boundary go through that context's public surface.

Every import counts: module level and inside functions and methods. A package's own ``__init__``
importing its sub-modules is not a cycle (Python starts the parent first); a sub-module importing
a name back from its parent package is an edge like any other. Imports under ``if TYPE_CHECKING:`` are type-only: they
are no edge of the cycle check, but the layering rules hold for them as for any other import (the
protocol schema is the domain's own bottom context, ``domain/protocol``, so nothing outside the
domain needs naming there).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import oligotrial

SRC = Path(oligotrial.__file__).parent
DOMAIN = "oligotrial.domain"

#: context -> the contexts it may import (besides itself). Lower contexts never import higher ones;
#: nothing outside ``trial`` in the domain uses ``trial``.
ALLOWED: dict[str, set[str]] = {
    "kernel": set(),
    "protocol": {"kernel"},
    "record": {"kernel"},
    "response": {"protocol", "record", "kernel"},
    "radiotherapy": {"protocol", "record", "kernel"},
    "eligibility": {"protocol", "response", "radiotherapy", "record", "kernel"},
    "trial": {"protocol", "response", "record", "kernel"},
}
#: what the domain may import outside itself at run time
DOMAIN_MAY_IMPORT = {"oligotrial.errors"}
MAX_LINES = 600


# ---- reading imports ---------------------------------------------------------------------------

def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in SRC.rglob("*.py") if "migrations" not in p.parts}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports(name: str, source: str, *, is_package: bool = False) -> list[tuple[str, str | None, bool]]:
    """Every import in ``source`` at any depth: (module, imported name or None, type_only)."""
    tree = ast.parse(source)
    type_only = _type_checking_lines(tree)
    out: list[tuple[str, str | None, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno in type_only) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out += [(module, a.name, node.lineno in type_only) for a in node.names]
    return out


def context_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and module.startswith(DOMAIN + ".") else None


# ---- the checks, as functions so that they can be shown to catch what they claim ------------------

def layering_violations(module: str, source: str, *, is_package: bool = False) -> list[str]:
    """Imports of a domain module that break the context rules."""
    ctx = context_of(module)
    if ctx is None:
        return []
    bad = []
    for target, _name, type_only in imports(module, source, is_package=is_package):
        if not target.startswith("oligotrial"):
            continue
        if target in DOMAIN_MAY_IMPORT or target == DOMAIN:
            continue
        other = context_of(target)
        if other is None:
            bad.append(f"{module} imports {target} (the domain imports only itself and oligotrial.errors)")
        elif other != ctx and other not in ALLOWED[ctx]:
            bad.append(f"{module} ({ctx}) imports {target} ({other}); {ctx} may import "
                       f"{sorted(ALLOWED[ctx]) or 'no other context'}")
    return bad


def surface_violations(module: str, source: str, public: dict[str, set[str]], *,
                       is_package: bool = False) -> list[str]:
    """Imports into a domain context from outside it that bypass its public surface: a name must be
    in the context's ``__all__``, or a public (non-underscore) name of a public sub-module."""
    ctx = context_of(module)
    bad = []
    for target, name, _type_only in imports(module, source, is_package=is_package):
        other = context_of(target)
        if other is None or other == ctx:
            continue
        parts = target.split(".")
        if len(parts) == 3:  # from oligotrial.domain.<ctx> import name
            if name not in public[other]:
                bad.append(f"{module} imports {name!r} from {target}, which is not in its __all__")
        elif parts[3] not in public[other]:
            bad.append(f"{module} imports from {target}: {parts[3]!r} is not a public module of {other}")
        elif name is not None and name.startswith("_"):
            bad.append(f"{module} imports the private name {name!r} from {target}")
    return bad


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules it imports (a lazily exported name of a context package points at the
    package and at the module that defines it)."""
    exports = {ctx: getattr(importlib.import_module(f"{DOMAIN}.{ctx}"), "_EXPORTS", {}) for ctx in ALLOWED}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for target, imported, type_only in imports(name, path.read_text(), is_package=path.name == "__init__.py"):
            if type_only or not target.startswith("oligotrial"):
                continue
            sub = f"{target}.{imported}" if imported else None
            if sub in modules:
                deps.add(sub)
            elif context_of(target) and target.count(".") == 2 and imported in exports[context_of(target)]:
                deps.update((target, f"{target}.{exports[context_of(target)][imported]}"))
            else:
                deps.add(target)
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan 1972), iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root, targets in graph.items():
        if root in index:
            continue
        work = [(root, iter(sorted(targets)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on_stack.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def _public() -> dict[str, set[str]]:
    return {ctx: set(importlib.import_module(f"{DOMAIN}.{ctx}").__all__) for ctx in ALLOWED}


# ---- the tests ---------------------------------------------------------------------------------

def test_every_domain_module_belongs_to_a_known_context():
    for name in all_modules():
        if name.startswith(DOMAIN + "."):
            assert context_of(name) in ALLOWED, f"{name}: a domain module outside the contexts {sorted(ALLOWED)}"


def test_contexts_import_only_the_contexts_below_them():
    bad = []
    for name, path in all_modules().items():
        bad += layering_violations(name, path.read_text(), is_package=path.name == "__init__.py")
    assert not bad, "\n".join(bad)


def test_imports_across_a_context_boundary_use_its_public_surface():
    public = _public()
    bad = []
    for name, path in all_modules().items():
        bad += surface_violations(name, path.read_text(), public, is_package=path.name == "__init__.py")
    assert not bad, "\n".join(bad)


def test_no_import_cycle_anywhere_in_the_package():
    found = cycles(import_graph(all_modules()))
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_each_context_says_what_it_owns_and_exports_a_sorted_resolvable_surface():
    for ctx in ALLOWED:
        pkg = importlib.import_module(f"{DOMAIN}.{ctx}")
        assert pkg.__doc__ and len(pkg.__doc__.split()) > 15, f"{ctx}: docstring says what it owns"
        assert list(pkg.__all__) == sorted(pkg.__all__), ctx
        for name in pkg.__all__:
            assert getattr(pkg, name) is not None, f"{ctx}.{name}"
        with pytest.raises(AttributeError):
            pkg.no_such_name  # noqa: B018


@pytest.mark.parametrize("path", sorted((SRC / "domain").rglob("*.py")), ids=lambda p: p.relative_to(SRC).as_posix())
def test_no_domain_module_passes_600_lines(path: Path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.name}: {n} lines; split it by concept before it passes {MAX_LINES}"


# ---- the checks catch what they claim (each fails on a planted violation) -------------------------

def test_layering_check_catches_a_lower_context_importing_a_higher_one_even_inside_a_function():
    planted = "def f():\n    from oligotrial.domain.eligibility import screening\n    return screening\n"
    assert layering_violations("oligotrial.domain.record.patient", planted)
    assert layering_violations("oligotrial.domain.response.recist.timepoint",
                               "from oligotrial.domain.trial.workflow import Participant\n")
    assert layering_violations("oligotrial.domain.kernel.reasons", "import oligotrial.domain.record.units\n")
    assert layering_violations("oligotrial.domain.record.patient", "from oligotrial.service import screening\n")
    # the protocol is the bottom context: it imports no clinical context, and the loader (file
    # I/O) stays outside the domain, type-only or not
    assert layering_violations("oligotrial.domain.protocol.schema", "from oligotrial.domain.record import Patient\n")
    assert layering_violations("oligotrial.domain.trial.schedule",
                               "if TYPE_CHECKING:\n    from oligotrial.protocols.loader import load_protocol\n")
    # allowed: a higher context importing a lower one, the protocol schema included
    assert not layering_violations("oligotrial.domain.eligibility.screening",
                                   "from oligotrial.domain.response import evaluate_disease_state\n")
    assert not layering_violations("oligotrial.domain.radiotherapy.prescription",
                                   "from oligotrial.domain.protocol.rt_schema import Regimen\n")


def test_surface_check_catches_private_modules_and_names():
    public = _public()
    assert surface_violations("oligotrial.service.x", "from oligotrial.domain.eligibility.criteria._shared import _age\n",
                              public)
    assert surface_violations("oligotrial.service.x", "from oligotrial.domain.eligibility import registry\n", public)
    assert surface_violations("oligotrial.domain.response.x",
                              "from oligotrial.domain.record.patient import _consistency_issues\n", public)
    assert not surface_violations("oligotrial.service.x", "from oligotrial.domain.record import Patient\n", public)


def test_cycle_check_finds_a_cycle_through_a_function_level_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    # the old criteria <-> eligibility pair: the leaf registry imported inside compile_rule
    source = "def compile_rule():\n    from oligotrial.domain.eligibility import criteria\n"
    deps = {t for t, _n, _ in imports("oligotrial.domain.eligibility.kleene", source)}
    assert deps == {"oligotrial.domain.eligibility"}
