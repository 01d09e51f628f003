"""The report page's downloads and the dashboard's per-site panel, on the STOP-2 demo database:
a role that may export downloads ADTTE and ADRS from the page, with the arm only where the
protocol does not blind it (the same CSV as the API's); a role that may not export sees no link
and is refused; the dashboard counts participants per site once the trial has sites."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from oligotrial.domain.trial.blinding import find_arm_information, is_blinded
from oligotrial.protocols import load_protocol
from oligotrial.service import enrolment
from oligotrial.service.ports import Actor
from web_demo import build, sign_in

STOP2 = load_protocol("STOP-2")
ARM_IDS, LABELS = [a.id for a in STOP2.arms], [a.label for a in STOP2.arms]
RECORD = json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text())


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = build(tmp_path_factory.mktemp("webexports"))
    yield d
    d.container.dispose()


def _client(demo, role):
    from fastapi.testclient import TestClient

    from oligotrial.adapters.web.app import create_app

    client = TestClient(create_app(demo.container), raise_server_exceptions=False)
    assert sign_in(client, *demo.accounts[role]).url.path == "/trials"
    return client


@pytest.mark.parametrize("role", ["coordinator", "statistician", "dsmb", "data_manager"])
def test_the_report_page_offers_the_analysis_datasets_with_the_arm_only_where_unblinded(demo, role):
    c = _client(demo, role)
    page = c.get(f"/trials/{demo.trial}/report")
    assert page.status_code == 200
    blinded = is_blinded(STOP2.masking.blinded_roles, role)
    for dataset in ("adtte", "adrs"):
        assert f'href="/trials/{demo.trial}/exports/{dataset}.csv"' in page.text
        r = c.get(f"/trials/{demo.trial}/exports/{dataset}.csv")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert f'filename="{demo.trial}-{dataset}.csv"' in r.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert rows, dataset
        assert ("ARM" in rows[0]) is (not blinded), (role, list(rows[0]))
        found = find_arm_information(rows, ARM_IDS, LABELS)
        assert (found == []) is blinded, (role, found)


def test_a_role_that_may_not_export_gets_no_link_and_is_refused(demo):
    c = _client(demo, "admin")  # the administrator reads the pooled report, never the datasets
    page = c.get(f"/trials/{demo.trial}/report")
    assert page.status_code == 200 and "/exports/" not in page.text
    r = c.get(f"/trials/{demo.trial}/exports/adtte.csv")
    assert r.status_code == 403 and "export" in r.text and not find_arm_information([r.text], ARM_IDS, LABELS)


def test_an_unknown_dataset_is_a_not_found_page_naming_the_field(demo):
    r = _client(demo, "coordinator").get(f"/trials/{demo.trial}/exports/adsl.csv")
    assert r.status_code == 404 and "dataset" in r.text and "adtte or adrs" in r.text


def test_the_dashboard_counts_participants_per_site_once_the_trial_has_sites(demo):
    c = _client(demo, "coordinator")
    assert "By site" not in c.get("/trials").text  # the demo registers no site
    coord = Actor(demo.accounts["coordinator"][0], {demo.trial: "coordinator"})
    for n, site in enumerate(("royal-marsden", "royal-marsden", "christie"), 1):
        enrolment.register(demo.container.ctx, coord, demo.trial, {**RECORD, "id": f"SITE-{n}"}, site)
    dash = c.get("/trials").text
    assert "By site" in dash
    assert '<th scope="row">christie</th><td class="num">1</td>' in dash
    assert '<th scope="row">royal-marsden</th><td class="num">2</td>' in dash
    assert '<th scope="row">no site</th>' in dash  # the demo's own participants
