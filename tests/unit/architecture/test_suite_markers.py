"""The test suite's own shape: the markers land on the tests they describe (tests/conftest.py,
tests/helpers/suite_markers.py), every listed slow test exists, and ``scripts/test.sh --fast``
runs the unit layer without them."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import suite_markers

TESTS = Path(__file__).parents[2]
REPO = TESTS.parent


def _item(params=None, fixtures=(), module=None):
    return SimpleNamespace(
        callspec=SimpleNamespace(params=params) if params is not None else None,
        fixturenames=list(fixtures),
        module=module,
    )


def test_a_postgres_parameter_or_the_pg_settings_fixture_means_postgres():
    assert suite_markers.needs_postgres(_item({"backend": "postgres"}))
    assert suite_markers.needs_postgres(_item({"trial": "NCT06918951@postgres"}))
    assert suite_markers.needs_postgres(_item(fixtures=["pg_settings", "tmp_path"]))
    assert not suite_markers.needs_postgres(_item({"backend": "sqlite"}, fixtures=["api"]))
    assert not suite_markers.needs_postgres(_item())


def test_a_module_that_imports_the_chromium_helper_drives_a_browser():
    import browser

    assert suite_markers.drives_a_browser(_item(module=SimpleNamespace(chromium=browser.chromium)))
    assert not suite_markers.drives_a_browser(_item(module=SimpleNamespace(chromium=None)))
    assert not suite_markers.drives_a_browser(_item(module=SimpleNamespace()))


def test_a_listed_slow_test_covers_its_parameters_and_a_listed_module_its_tests():
    slow = ("unit/stats/test_a.py::test_b", "unit/stats/test_c.py")
    assert suite_markers.is_slow("unit/stats/test_a.py::test_b", slow)
    assert suite_markers.is_slow("unit/stats/test_a.py::test_b[x-1]", slow)
    assert suite_markers.is_slow("unit/stats/test_c.py::test_d", slow)
    assert not suite_markers.is_slow("unit/stats/test_a.py::test_bb", slow)
    assert not suite_markers.is_slow("unit/stats/test_a.py::test_c", slow)


def test_every_listed_slow_test_exists():
    for entry in suite_markers.SLOW:
        path, _, name = entry.partition("::")
        assert (TESTS / path).is_file(), entry
        if name:
            tree = ast.parse((TESTS / path).read_text(encoding="utf-8"))
            names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
            assert name in names, entry


def _collect(*args: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-o", "addopts=", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode in (0, 5), out.stdout + out.stderr  # 5: nothing selected
    return [line for line in out.stdout.splitlines() if "::" in line]


def test_the_conftest_marks_the_real_postgres_and_browser_tests():
    files = ["tests/security/test_backup_restore.py", "tests/e2e/test_web_admin_browser.py"]
    postgres = _collect("-m", "postgres", *files)
    assert postgres and all("[postgres]" in t or "test_postgres_client_tools" in t for t in postgres), postgres
    assert any(t.endswith("test_postgres_client_tools_are_there") for t in postgres)  # marked by hand
    browser = _collect("-m", "browser", *files)
    assert browser == [
        "tests/e2e/test_web_admin_browser.py::test_the_account_and_unblinding_pages_show_errors_beside_their_fields_"
        + "and_pass_axe"
    ]
    rest = _collect("-m", "not postgres and not browser", *files)
    assert rest and not set(rest) & (set(postgres) | set(browser))
    assert all("[sqlite]" in t or "[" not in t for t in rest)


def test_test_sh_fast_runs_the_given_unit_tests_without_the_slow_ones():
    slow_file = suite_markers.SLOW[0].partition("::")[0]
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    out = subprocess.run(
        ["bash", "scripts/test.sh", "--fast", "--collect-only", "-q", "-o", "addopts=", "-p", "no:cacheprovider"]
        + [f"tests/{slow_file}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    ids = [line for line in out.stdout.splitlines() if "::" in line]
    assert ids and all(t.startswith(f"tests/{slow_file}::") for t in ids)  # the path given, not tests/unit
    assert not [t for t in ids if suite_markers.is_slow(t.removeprefix("tests/"))]
    assert "deselected" in out.stdout
