"""The whole suite's conftest: the markers, and the hook that puts them on tests by what they use.

- ``postgres``: a case that needs a PostgreSQL server (OLIGOTRIAL_TEST_POSTGRES_URL): a
  ``postgres`` parameter (``[postgres]`` in its id, from the ``api``, ``db_settings``, ``backend``
  ... parametrizations), a ``...@postgres`` parameter, or the ``pg_settings`` fixture; or marked
  by hand.
- ``browser``: a test in a module that drives Chromium (it imports ``browser.chromium``).
- ``slow``: longer-running tests, marked by hand (``@pytest.mark.slow``) or listed in ``SLOW``.

``scripts/test.sh --fast`` deselects all three over tests/unit; ``-m "not postgres"`` is the
suite without a PostgreSQL server. Test helpers shared by several folders live in tests/helpers/
(on pytest's ``pythonpath``)."""

from __future__ import annotations

import pytest

MARKERS = {
    "postgres": "needs a PostgreSQL server (OLIGOTRIAL_TEST_POSTGRES_URL); put on automatically by tests/conftest.py",
    "browser": "drives Debian's Chromium (scripts/browser.sh); put on automatically by tests/conftest.py",
    "slow": "longer-running tests, left out of scripts/test.sh --fast",
}

#: test modules (path relative to tests/) whose tests are all slow; single tests carry the mark
SLOW: frozenset[str] = frozenset()


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def needs_postgres(item: pytest.Item) -> bool:
    """Whether ``item`` runs against PostgreSQL (by its parameters or the fixtures it uses)."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        for value in callspec.params.values():
            if isinstance(value, str) and (value == "postgres" or value.endswith("@postgres")):
                return True
    return "pg_settings" in getattr(item, "fixturenames", ())


def drives_a_browser(item: pytest.Item) -> bool:
    """Whether ``item``'s module drives Chromium (it imports the helper ``browser.chromium``)."""
    module = getattr(item, "module", None)
    chromium = getattr(module, "chromium", None)
    return chromium is not None and getattr(chromium, "__module__", "") == "browser"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rootdir = config.rootpath / "tests"
    for item in items:
        if needs_postgres(item):
            item.add_marker(pytest.mark.postgres)
        if drives_a_browser(item):
            item.add_marker(pytest.mark.browser)
        try:
            rel = item.path.relative_to(rootdir).as_posix()
        except ValueError:
            continue
        if rel in SLOW:
            item.add_marker(pytest.mark.slow)
