"""The public surface and the layering: the domain core does no I/O and depends on no adapter."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import oligotrial

SRC = Path(oligotrial.__file__).parent
FORBIDDEN_IN_DOMAIN = {"sqlalchemy", "fastapi", "typer", "rich", "httpx", "yaml", "pydicom", "matplotlib.pyplot",
                       "oligotrial.adapters", "oligotrial.service", "oligotrial.bootstrap", "oligotrial.config"}


def test_all_is_sorted_and_exported():
    assert list(oligotrial.__all__) == sorted(oligotrial.__all__)
    for name in oligotrial.__all__:
        assert hasattr(oligotrial, name), name


def test_every_error_family_is_in_the_public_facade():
    """A user catches a family by importing it from ``oligotrial``: every error class that
    errors.py defines is exported there (AnalysisError was once missing)."""
    from oligotrial import errors

    families = {n for n, v in vars(errors).items()
                if isinstance(v, type) and issubclass(v, errors.OligotrialError) and v.__module__ == errors.__name__}
    assert families <= set(oligotrial.__all__), sorted(families - set(oligotrial.__all__))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_domain_imports_no_adapter_framework_or_io_library():
    for path in (SRC / "domain").rglob("*.py"):
        bad = {m for m in _imports(path) if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_IN_DOMAIN)}
        assert not bad, f"{path.name} imports {bad}"


def test_domain_does_not_open_files():
    for path in (SRC / "domain").rglob("*.py"):
        text = path.read_text()
        assert "open(" not in text and ".read_text(" not in text, path.name


def test_protocols_package_depends_on_domain_never_the_reverse():
    for path in (SRC / "domain").rglob("*.py"):
        assert not any(m.startswith("oligotrial.protocols.loader") for m in _imports(path)), path.name


def test_every_module_imports():
    for mod in pkgutil.walk_packages(oligotrial.__path__, "oligotrial."):
        if ".migrations" in mod.name:  # alembic's env.py and revisions run only under alembic
            continue
        importlib.import_module(mod.name)
