"""docs/architecture.md names only what exists: every file and folder of its map, every path, file
name and dotted ``module.symbol`` it quotes, every name it quotes, and the packages and domain
contexts of its dependency diagrams. Each check is shown catching a planted wrong name.

How a quoted name (in backticks, outside the fenced diagrams) is read:

- a path (it has a ``/`` or a file suffix): a file or folder under the repository, ``src/oligotrial/``
  or ``tests/unit/`` (``<placeholder>`` parts and ``*`` match any name); a bare file name
  (``labs.py``) is found anywhere under ``src/oligotrial/``, ``tests/unit/`` or ``tests/helpers/``;
- a dotted name (``oligotrial.errors``, ``eligibility.registry``): a module, or a module and one
  of its attributes, under ``oligotrial`` or ``oligotrial.domain``;
- a name (``find_arm_information``, ``ALLOWED``, ``@leaf("name")``'s ``leaf``): a word in the
  package's source or data, in pyproject.toml or in the architecture tests;
- anything with a space in it is an excerpt (a YAML line, ``if TYPE_CHECKING:``) and is not read.
"""

from __future__ import annotations

import importlib
import re
from functools import cache
from pathlib import Path

import oligotrial

SRC = Path(oligotrial.__file__).parent  # src/oligotrial
REPO = SRC.parents[1]
DOC = REPO / "docs" / "architecture.md"
#: where a quoted path may start
PATH_BASES = (REPO, SRC, REPO / "tests" / "unit")
#: where a dotted name may start
PACKAGES = ("oligotrial", "oligotrial.domain")

_FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
_QUOTED = re.compile(r"`([^`\n]+)`")
#: an entry of the map: a folder or file, then its description two spaces on (or nothing)
_TREE_ENTRY = re.compile(r"^( *)((?:[\w.-]+/)+|[\w.-]+\.py)(?=\s{2,}|$)")
#: a folder (``cli/``) or a file (``loader.py``, ``docs/months.md``) in a description; not ``BED/EQD2``
_PATHLIKE = re.compile(r"(?<![\w./-])((?:[\w-]+/)*[\w-]+(?:/|\.(?:py|yaml|md|json)))(?=[\s,;:)]|$)")
_WORD = re.compile(r"^@?([A-Za-z_]\w*)")


def _is_dotted(name: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", name))


# ---- what exists ---------------------------------------------------------------------------------


@cache
def path_exists(path: str, bases: tuple[Path, ...] = PATH_BASES) -> bool:
    """Whether ``path`` (``<placeholder>`` and ``*`` match any name) names a file or folder under a
    base; a bare file name anywhere under ``src/oligotrial/``, ``tests/unit/`` or ``tests/helpers/``."""
    pattern = re.sub(r"<[^>]+>", "*", path.rstrip("/"))
    if "/" not in pattern:
        return any(any(root.rglob(pattern)) for root in (SRC, REPO / "tests" / "unit", REPO / "tests" / "helpers"))
    return any(any(base.glob(pattern)) if "*" in pattern else (base / pattern).exists() for base in bases)


@cache
def dotted_exists(name: str) -> bool:
    """Whether ``name`` is a module, or a module and one attribute, under one of :data:`PACKAGES`."""
    for package in PACKAGES:
        full = f"{package}.{name}" if not name.startswith("oligotrial") else name
        try:
            importlib.import_module(full)
            return True
        except ImportError:
            pass
        module, _, attr = full.rpartition(".")
        try:
            if hasattr(importlib.import_module(module), attr):
                return True
        except ImportError:
            pass
    return False


@cache
def _haystack() -> str:
    files = [p for p in SRC.rglob("*") if p.suffix in (".py", ".yaml", ".yml", ".json", ".html")]
    tests = [p for p in (REPO / "tests" / "unit" / "architecture").glob("*.py") if p.name != Path(__file__).name]
    files += [REPO / "pyproject.toml", *tests]  # (not this file: it names the planted wrong names)
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)


@cache
def word_exists(word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", _haystack()) is not None


# ---- what the page names -------------------------------------------------------------------------


def tree_paths(doc: str) -> list[tuple[str, tuple[str, ...]]]:
    """The paths of the map (the fenced block that starts ``src/oligotrial/``), each as (what the
    page says, where it may be): an entry joined to its parents by indentation; a folder (``cli/``)
    or file (``loader.py``) named in an entry's description, under that entry (a longer path,
    ``docs/months.md``, from a base too)."""
    block = next((b for b in _FENCE.findall(doc) if "\nsrc/oligotrial/" in b), "")
    out: list[tuple[str, tuple[str, ...]]] = []
    stack: list[tuple[int, str]] = []  # (indent, path)
    for line in block.splitlines()[1:-1]:
        rest = line
        if m := _TREE_ENTRY.match(line):
            indent = len(m.group(1))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            path = (stack[-1][1] if stack else "") + m.group(2)
            out.append((path, (path,)))
            if path.endswith("/"):
                stack.append((indent, path))
            rest = line[m.end() :]
        here = stack[-1][1] if stack else ""
        out += [
            (word, (here + word, word) if "/" in word.rstrip("/") else (here + word,))
            for word in _PATHLIKE.findall(rest)
        ]
    return out


def diagram_names(doc: str) -> tuple[list[str], list[str]]:
    """(the packages of the outer diagram, the contexts of the ``inside domain/`` diagram)."""
    block = next((b for b in _FENCE.findall(doc) if "inside domain/" in b), "")
    outer, _, inner = block.partition("inside domain/")
    first = next((line for line in outer.splitlines() if "->" in line), "")
    return re.findall(r"[a-z_]+", first), re.findall(r"[a-z_]+", inner)


def missing(doc: str) -> list[str]:
    """What the page names that does not exist, each with how it was read."""
    bad: list[str] = []
    for said, where in tree_paths(doc):
        if not any(path_exists(p) for p in where):
            bad.append(f"map: {said}")
    packages, contexts = diagram_names(doc)
    for name in packages:
        if not ((SRC / name).is_dir() or (SRC / f"{name}.py").is_file()):
            bad.append(f"diagram: package {name}")
    for name in contexts:
        if not (SRC / "domain" / name).is_dir():
            bad.append(f"diagram: domain context {name}")
    prose = _FENCE.sub("", doc)
    for quoted in _QUOTED.findall(prose):
        if " " in quoted:
            continue  # an excerpt
        if "/" in quoted or re.search(r"\.(py|yaml|yml|md|json|toml)$", quoted):
            if not path_exists(quoted):
                bad.append(f"path: {quoted}")
        elif _is_dotted(quoted):
            if not dotted_exists(quoted):
                bad.append(f"module.symbol: {quoted}")
        else:
            m = _WORD.match(quoted)
            word = quoted if re.fullmatch(r"[\w-]+", quoted) or not m else m.group(1)
            if not word_exists(word):
                bad.append(f"name: {quoted}")
    return bad


# ---- the tests -----------------------------------------------------------------------------------


def test_everything_docs_architecture_names_exists():
    doc = DOC.read_text(encoding="utf-8")
    assert tree_paths(doc) and _QUOTED.findall(_FENCE.sub("", doc))  # the page is read at all
    assert missing(doc) == []


def test_the_map_is_read_as_a_tree():
    paths = dict(tree_paths(DOC.read_text(encoding="utf-8")))
    assert paths["src/oligotrial/domain/response/"] == ("src/oligotrial/domain/response/",)
    assert "src/oligotrial/bootstrap.py" in paths
    assert paths["loader.py"] == ("src/oligotrial/protocols/loader.py",)  # named in a description
    assert "BED/EQD2" not in paths and "alpha/beta" not in paths  # words, not paths


def test_a_planted_wrong_name_of_each_kind_is_caught():
    doc = DOC.read_text(encoding="utf-8")
    plants = {
        "`domain/trial/blinding.py`": ("`domain/trial/blinds.py`", "path: domain/trial/blinds.py"),
        "`labs.py`": ("`lab_values.py`", "path: lab_values.py"),
        "`eligibility.registry`": ("`eligibility.registri`", "module.symbol: eligibility.registri"),
        "`oligotrial.errors`": ("`oligotrial.errours`", "module.symbol: oligotrial.errours"),
        "`find_arm_information`": ("`find_arm_informations`", "name: find_arm_informations"),
        "  bootstrap.py ": ("  bootstraps.py ", "map: src/oligotrial/bootstraps.py"),
        "    dvh, oar": ("    dvh, oar, plans.py", "map: plans.py"),
        "adapters  ->  service": ("adapter  ->  service", "diagram: package adapter"),
        "    trial ----": ("    trials ----", "diagram: domain context trials"),
    }
    for original, (planted, report) in plants.items():
        assert original in doc, original
        found = missing(doc.replace(original, planted, 1))
        assert any(f.startswith(report) for f in found), (planted, found)


def test_a_dotted_name_may_be_a_module_or_a_module_and_its_attribute():
    assert dotted_exists("oligotrial.errors") and dotted_exists("response.recist")
    assert dotted_exists("trial.blinding.find_arm_information")
    assert not dotted_exists("trial.blinding.find_arm_informations")
