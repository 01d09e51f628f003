"""The layers outside the domain depend inward (docs/architecture.md, "Direction of dependencies"):

    adapters  ->  service  ->  protocols, stats  ->  domain  ->  errors
    bootstrap wires adapters into services; nothing imports bootstrap except the entry points.

The service imports no adapter and no bootstrap; stats and protocols import no service, adapter
or bootstrap; the adapters import one another only along the arrows found in the code when this
test was written (``ADAPTER_ARROWS``: the command line starts the web server, runs migrations and
backups and draws plots; the web pages render the HTML report), and only the command line (the
``oligotrial`` entry point) imports bootstrap. Every import counts, at module level or inside a
function, type-only ones included. The domain's own rules are test_layering.py's. Each check is
shown catching a planted violation.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import oligotrial

SRC = Path(oligotrial.__file__).parent

#: layer -> the layers it may import besides itself (the arrows of the diagram, followed inward)
MAY_IMPORT: dict[str, set[str]] = {
    "errors": set(),
    "oligotrial": {"errors"},  # the facade
    "config": {"errors"},
    "clock": set(),  # the one wall clock (issue 27): the standard library only; the domain takes `today`
    "examples": set(),  # example records (data files)
    "domain": {"errors", "protocols"},  # protocols type-only: test_layering.py
    "protocols": {"domain", "errors", "clock"},
    "stats": {"domain", "errors"},
    "service": {"protocols", "stats", "domain", "errors", "clock"},
    "bootstrap": {"adapters.db", "adapters.io", "config", "service", "protocols", "stats", "domain", "errors", "clock"},
}
#: adapter -> the other adapters it may import
ADAPTER_ARROWS: dict[str, set[str]] = {
    "cli": {"db", "io", "web"},  # db migrate/backup, plots, serve -> web.app.create_app
    "web": {"io"},  # the report page renders io.report_html
    "db": set(),
    "io": set(),
}
#: the entry points: the only layers that may import bootstrap (pyproject's [project.scripts])
ENTRY_POINTS = {"adapters.cli"}
for _adapter, _others in ADAPTER_ARROWS.items():
    MAY_IMPORT[f"adapters.{_adapter}"] = {f"adapters.{o}" for o in _others} | {
        "config",
        "clock",
        "service",
        "protocols",
        "stats",
        "domain",
        "errors",
    }
for _entry in ENTRY_POINTS:
    MAY_IMPORT[_entry].add("bootstrap")


_LAYERS = set(MAY_IMPORT) | {"data", "examples", "adapters"}


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    """``oligotrial.adapters.web.pages.views`` -> ``adapters.web``; ``oligotrial.service.x`` ->
    ``service``; None outside the package."""
    parts = module.split(".")
    if parts[0] != "oligotrial":
        return None
    if len(parts) == 1:
        return "oligotrial"
    if parts[1] == "adapters":
        return ".".join(parts[1:3]) if len(parts) > 2 else "adapters"
    return parts[1]


def imported_modules(module: str, source: str, *, is_package: bool = False) -> list[tuple[str, int]]:
    """Every ``oligotrial`` module ``source`` imports, at any depth: (module, line)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # ``from oligotrial import bootstrap``: the layer is the name's
                full = f"{target}.{alias.name}"
                out.append(
                    (
                        full
                        if layer_of(target) in ("oligotrial", "adapters") and layer_of(full) in _LAYERS
                        else target,
                        node.lineno,
                    )
                )
    return [(t, line) for t, line in out if t == "oligotrial" or t.startswith("oligotrial.")]


def outer_violations(module: str, source: str, *, is_package: bool = False) -> list[str]:
    """The imports of ``module`` that break :data:`MAY_IMPORT`."""
    own = layer_of(module)
    if own is None or own not in MAY_IMPORT:
        return []
    bad = []
    for target, line in imported_modules(module, source, is_package=is_package):
        other = layer_of(target)
        if other is None or other == own or other in MAY_IMPORT[own]:
            continue
        why = (
            "only the entry points import bootstrap"
            if other == "bootstrap"
            else f"{own} may import {sorted(MAY_IMPORT[own])}"
        )
        bad.append(f"{module}:{line} imports {target} ({other}); {why}")
    return bad


def _modules() -> list[tuple[str, Path]]:
    return [(module_name(p), p) for p in sorted(SRC.rglob("*.py"))]


# ---- the tests -----------------------------------------------------------------------------------


def test_every_layer_of_the_package_is_in_the_table():
    layers = {layer_of(name) for name, _ in _modules()}
    assert layers - set(MAY_IMPORT) == {"adapters"}, layers - set(MAY_IMPORT)  # adapters/__init__ only
    assert layers >= set(MAY_IMPORT) - {"adapters"}


def test_the_outer_layers_depend_inward():
    bad = [
        v
        for name, path in _modules()
        for v in outer_violations(name, path.read_text(), is_package=path.name == "__init__.py")
    ]
    assert bad == []


@pytest.mark.parametrize(
    ("module", "source", "said"),
    [
        ("oligotrial.service.enrolment", "from oligotrial.adapters.db.repository import X", "service may import"),
        ("oligotrial.service.report", "def f():\n    from ..adapters.io import plots", "service may import"),
        (
            "oligotrial.service.context",
            "from oligotrial.bootstrap import bootstrap",
            "only the entry points import bootstrap",
        ),
        (
            "oligotrial.service.ports",
            "if TYPE_CHECKING:\n    from oligotrial.adapters.web import app",
            "service may import",
        ),
        ("oligotrial.stats.survival", "from oligotrial.service import report", "stats may import"),
        ("oligotrial.stats.cea", "import oligotrial.adapters.io.plots", "stats may import"),
        ("oligotrial.protocols.loader", "from oligotrial.service.ports import Clock", "protocols may import"),
        ("oligotrial.adapters.db.repository", "from oligotrial.adapters.web import app", "adapters.db may import"),
        ("oligotrial.adapters.db.backup", "from oligotrial.adapters.cli import _common", "adapters.db may import"),
        ("oligotrial.adapters.web.routes", "from oligotrial.adapters.cli.main import app", "adapters.web may import"),
        ("oligotrial.adapters.web.pages.views", "from ...db import tables", "adapters.web may import"),
        (
            "oligotrial.adapters.io.plots",
            "from oligotrial.adapters.web.app import create_app",
            "adapters.io may import",
        ),
        (
            "oligotrial.adapters.web.app",
            "from oligotrial.bootstrap import bootstrap",
            "only the entry points import bootstrap",
        ),
        ("oligotrial.adapters.db.engine", "from oligotrial import bootstrap", "only the entry points import bootstrap"),
        ("oligotrial.bootstrap", "from oligotrial.adapters.cli import main", "bootstrap may import"),
        ("oligotrial.config", "from oligotrial.service import context", "config may import"),
    ],
)
def test_each_check_catches_a_planted_violation(module, source, said):
    found = outer_violations(module, source)
    assert len(found) == 1 and said in found[0], found


def test_what_is_allowed_is_not_reported():
    assert outer_violations("oligotrial.adapters.cli.serve", "from oligotrial.adapters.web.app import create_app") == []
    assert (
        outer_violations("oligotrial.adapters.cli.db", "def f():\n    from oligotrial.bootstrap import bootstrap") == []
    )
    assert outer_violations("oligotrial.adapters.web.pages.views", "from ...io import report_html") == []
    assert outer_violations("oligotrial.service.report", "from oligotrial import stats") == []
    assert outer_violations("oligotrial.bootstrap", "from oligotrial.adapters.db import engine") == []
