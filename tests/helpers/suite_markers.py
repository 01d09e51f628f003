"""The suite's markers and which tests carry them (applied by tests/conftest.py at collection).

- ``postgres``: a case that needs a PostgreSQL server (OLIGOTRIAL_TEST_POSTGRES_URL): a
  ``postgres`` parameter (``[postgres]`` in its id, from the ``api``, ``db_settings``,
  ``backend`` ... parametrizations), a ``...@postgres`` parameter, or the ``pg_settings`` fixture
  (``pg_container`` uses it); a test that asks for PostgreSQL another way carries the mark itself.
- ``browser``: a test in a module that drives Chromium (it imports ``browser.chromium``).
- ``slow``: a test listed in :data:`SLOW` (or marked by hand): each takes seconds of CPU on its
  own (Monte Carlo power, DICOM phantoms, worker processes, subprocess start-ups).

``scripts/test.sh --fast`` deselects all three over tests/unit; ``-m "not postgres"`` is the
suite without a PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

MARKERS = {
    "postgres": "needs a PostgreSQL server (OLIGOTRIAL_TEST_POSTGRES_URL); applied by tests/conftest.py",
    "browser": "drives Debian's Chromium (scripts/browser.sh); applied by tests/conftest.py",
    "slow": "takes seconds of CPU on its own; left out of scripts/test.sh --fast (tests/helpers/suite_markers.py)",
}

#: node ids (relative to tests/; a test's name covers all its parameters, a module path all its
#: tests) of the slow tests. Listed here rather than marked in place so that the list is one place.
SLOW: tuple[str, ...] = (
    # Monte Carlo power and type I error against rpact and the analytic values
    "unit/stats/test_design_simulate.py::test_power_within_mc_error_of_rpact",
    "unit/stats/test_design_simulate.py::test_power_within_mc_error_of_analytic",
    "unit/stats/test_design_simulate.py::test_even_entry_matches_rpact_and_narrows_the_analysis_time",
    "unit/stats/test_design_simulate.py::test_stratified_test_keeps_type_one_error_and_matches_array_backend",
    "unit/stats/test_design_simulate.py::test_sweep_is_reproducible_across_schedulers",
    "unit/stats/test_design_logrank.py::test_batch_kernel_equals_single_test_row_by_row",
    "unit/stats/test_survival.py::test_logrank_and_cox_equal_r_on_random_grouped_data_sets",
    # a fresh interpreter per test (what a command imports)
    "unit/stats/test_design_startup.py",
    # DICOM phantoms voxelized on fine grids (the module: its last test reads what the cases recorded)
    "unit/radiotherapy/test_rt_dvh_phantoms.py",
    "unit/radiotherapy/test_rt_geometry.py::test_rt_plan_sphere_diameter_and_volume",
    "unit/radiotherapy/test_rt_geometry.py::test_rt_plan_brain_met_over_35mm_is_excluded",
    "unit/radiotherapy/test_rt_cli.py::test_fraction_dose_of_a_multi_group_plan_is_scaled_by_its_own_group",
    # worker processes
    "unit/eligibility/test_core_cli.py::test_workers_screen_in_other_processes_with_the_same_documents_in_the_same_order",
    "unit/eligibility/test_core_cli.py::test_workers_with_one_trial_load_that_trial_in_each_worker",
    "unit/eligibility/test_screen_compact.py::test_workers_give_the_same_summary",
    # many draws or hashes
    "unit/service/test_trialops_services.py::test_stratified_blocks_any_ratio_and_frozen_strata",
    "unit/service/test_report_cea_order.py::test_the_psa_does_not_depend_on_the_participants_ids",
    "unit/trial/test_trialops_domain.py::test_the_chain_link_computed_from_parts_is_the_entry_hash",
    # pytest in a subprocess (the suite's own markers and scripts/test.sh --fast)
    "unit/architecture/test_suite_markers.py::test_the_conftest_marks_the_real_postgres_and_browser_tests",
    "unit/architecture/test_suite_markers.py::test_test_sh_fast_runs_the_given_unit_tests_without_the_slow_ones",
    # crawls of every page as every role, and a trial's whole calendar through the pages
    "e2e/test_web_crawl.py",
    "e2e/test_web_every_trial.py",
    "e2e/test_free_text_crawl.py",
    "e2e/test_web_queries.py::test_blinded_roles_crawl_the_query_pages_without_an_arm_or_a_refusal",
)


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
    chromium = getattr(getattr(item, "module", None), "chromium", None)
    return chromium is not None and getattr(chromium, "__module__", "") == "browser"


def is_slow(nodeid: str, slow: Iterable[str] = SLOW) -> bool:
    """Whether ``nodeid`` (relative to tests/) is, or is a parameter or test of, a listed one."""
    return any(nodeid == s or nodeid.startswith((s + "[", s + "::")) for s in slow)


def apply(items: list[pytest.Item], tests_root: Path) -> None:
    for item in items:
        if needs_postgres(item):
            item.add_marker(pytest.mark.postgres)
        if drives_a_browser(item):
            item.add_marker(pytest.mark.browser)
        try:
            rel = item.path.relative_to(tests_root).as_posix()
        except ValueError:
            continue
        if is_slow(rel + item.nodeid[len(item.nodeid.split("::")[0]) :]):
            item.add_marker(pytest.mark.slow)
