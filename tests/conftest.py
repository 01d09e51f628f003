"""The whole suite's conftest: it registers the markers (``postgres``, ``browser``, ``slow``) and
puts them on tests by what they use (tests/helpers/suite_markers.py says how). Helpers shared by
several folders live in tests/helpers/ (on pytest's ``pythonpath``)."""

from __future__ import annotations

import pytest

import suite_markers


def pytest_configure(config: pytest.Config) -> None:
    for name, text in suite_markers.MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by them
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    suite_markers.apply(items, config.rootpath / "tests")
