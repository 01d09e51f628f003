"""Each seed trial end to end: ``oligotrial demo`` with a small cohort, then the checks a trial
statistician makes of the result (issue 18's acceptance):

- the audit chain verifies;
- the CONSORT counts reconcile with themselves and with the ADTTE export (the allocated
  participants are exactly those of the export, in the same arms);
- the report's PFS and OS analyses equal ``oligotrial analysis survival`` run on the export
  (one group in the single-arm trial);
- STOP-2's blinded statistician's report (through the API) carries no arm information anywhere,
  while the DSMB's has the arms.

STOP-2 runs on SQLite and on PostgreSQL; the other four on SQLite.
"""

from __future__ import annotations

import csv
import json
import os

import pytest
from typer.testing import CliRunner

from oligotrial.adapters.cli.main import app
from oligotrial.domain.trial.blinding import find_arm_information
from trialops_db import PG_URL, PgSchema, require_postgres

runner = CliRunner()
TRIALS = ["NCT06918951", "NCT06523673", "NCT07014202", "NCT05906329", "NCT06592612"]
CANDIDATES = 24


def _flat(doc, path="$"):
    """A document as (path, value) pairs with numbers kept apart (for a tolerant comparison)."""
    if isinstance(doc, dict):
        return [x for k in sorted(doc) for x in _flat(doc[k], f"{path}.{k}")]
    if isinstance(doc, list):
        return [x for i, v in enumerate(doc) for x in _flat(v, f"{path}[{i}]")]
    return [(path, "number" if isinstance(doc, int | float) and not isinstance(doc, bool) else doc)]


def _numbers(doc):
    if isinstance(doc, dict):
        return [x for k in sorted(doc) for x in _numbers(doc[k])]
    if isinstance(doc, list):
        return [x for v in doc for x in _numbers(v)]
    return [doc] if isinstance(doc, int | float) and not isinstance(doc, bool) else []


def _env(out) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (out / "oligotrial.env").read_text().splitlines() if line)


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    """One demo per trial (and STOP-2 again on PostgreSQL), run once for the module."""
    made = {}
    schema = None
    for trial in [*TRIALS, "NCT06918951@postgres"]:
        out = tmp_path_factory.mktemp(trial.replace("@", "_"))
        args = ["demo", "--trial", trial.split("@")[0], "--patients", str(CANDIDATES), "--seed", "3", "--list-seed", "3", "--out", str(out)]
        env = {}
        if trial.endswith("@postgres"):
            if os.environ.get("CI", "").lower() != "true":
                try:
                    require_postgres()
                except pytest.skip.Exception:
                    continue
            schema = PgSchema()
            args += ["--database", PG_URL]
            env = {"OLIGOTRIAL_DATABASE_SCHEMA": schema.name}
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
        made[trial] = (out, result.output)
    yield made
    if schema is not None:
        schema.drop()


def _container(out):
    from oligotrial.bootstrap import bootstrap
    from oligotrial.config import Settings

    env = _env(out)
    return bootstrap(Settings(**{k.removeprefix("OLIGOTRIAL_").lower(): v for k, v in env.items()}))


@pytest.mark.parametrize("trial", [*TRIALS, "NCT06918951@postgres"])
def test_a_demo_runs_the_trial_end_to_end_and_its_report_reconciles(demos, trial, tmp_path):
    from oligotrial.service import audit, endpoints, followup

    if trial not in demos:
        require_postgres()
    out, printed = demos[trial]
    assert f"report: {out / 'report.html'}" in printed and "database: " in printed
    assert "refused by the service" not in printed  # every step of the synthetic trial was legal
    report = json.loads((out / "report.json").read_text())
    assert report["format"] == "oligotrial.trial-report/1" and report["trial"] == trial.split("@")[0]
    c = _container(out)
    try:
        assert audit.verify(c.ctx).ok
        protocol = c.ctx.load_protocol(report["trial"])
        single = followup.single_group(protocol)
        flow = report["consort"]
        assert flow["assessed_for_eligibility"] == CANDIDATES
        assert flow["assessed_for_eligibility"] == flow["randomized"] + flow["not_randomized"]["total"]
        assert sum(flow["not_randomized"]["reasons"].values()) == flow["not_randomized"]["total"]
        assert flow["randomized"] == sum(flow["allocated"].values()) > 0
        for arm, n in flow["allocated"].items():
            assert n == flow["received_allocated_intervention"][arm] + \
                flow["did_not_receive_allocated_intervention"][arm]["total"]
            assert flow["analysed"][arm] == n
        assert flow["not_randomized"]["reasons"].get("not eligible", 0) > 0  # the cohort has realistic failures
        # the export: one row per allocated participant and endpoint, arms as the flow counts them
        lines, _ = endpoints.export(c.ctx, None, protocol.id, "adtte")
        path = tmp_path / "adtte.csv"
        path.write_text("".join(lines))
        rows = list(csv.DictReader(path.open()))
    finally:
        c.dispose()
    per_arm: dict[str, set] = {}
    for r in rows:
        per_arm.setdefault(r["ARM"], set()).add(r["USUBJID"])
    assert {a: len(p) for a, p in per_arm.items()} == {a: n for a, n in flow["allocated"].items() if n}
    if single:
        assert len(flow["allocated"]) == 1 and report["reference_arm"] is None
    # the report's PFS and OS equal `oligotrial analysis survival` run on the export
    for param in ("PFS", "OS"):
        if param not in report["endpoints"]:
            assert param == "OS" and single  # the single-arm trial names no OS
            continue
        doc = report["endpoints"][param]
        data = tmp_path / f"{param}.csv"
        with data.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["time", "event", "arm"])
            for r in rows:
                if r["PARAMCD"] == param:
                    w.writerow([repr(int(r["AVAL"]) / 30.4375), 1 - int(r["CNSR"]), r["ARM"]])
        args = ["analysis", "survival", str(data), "--time", "time", "--event", "event", "--group", "arm",
                "--at", "6,12", "--json"]
        tau = doc["groups"][0]["rmst"]["tau"] if doc["groups"][0].get("rmst") else None
        if tau is not None:
            args += ["--tau", repr(tau)]
        if report["reference_arm"]:
            args += ["--reference", report["reference_arm"]]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        cli = json.loads(res.output)
        mine = {k: v for k, v in doc.items() if k != "time_unit"}
        # the same figures; the last bit of a sum may differ with the order rows were read in
        assert _flat(mine) == _flat(cli), param
        assert _numbers(mine) == pytest.approx(_numbers(cli), rel=1e-12, abs=1e-15), param
        assert (doc["logrank"] is None) == single


def test_the_blinded_statistician_sees_arms_pooled_and_the_dsmb_sees_arms(demos):
    from fastapi.testclient import TestClient

    from oligotrial.adapters.web.app import create_app
    from oligotrial.service import users

    out, _ = demos["NCT06918951"]
    c = _container(out)
    try:
        users.add_user(c.ctx, "stat-b", "role-password-1", "statistician", "NCT06918951")
        users.add_user(c.ctx, "dsmb-b", "role-password-1", "dsmb", "NCT06918951")
        users.add_user(c.ctx, "assessor-b", "role-password-1", "outcome_assessor", "NCT06918951")
        users.add_user(c.ctx, "admin-b", "role-password-1", "admin", "NCT06918951")
        protocol = c.ctx.load_protocol("NCT06918951")
        ids, labels = [a.id for a in protocol.arms], [a.label for a in protocol.arms]
        client = TestClient(create_app(c))

        def get(user: str, path: str = "/api/v1/trials/stop-2/report?data_cut=2026-11-15"):
            tok = client.post("/api/v1/auth/token", data={"username": user, "password": "role-password-1"})
            return client.get(path, headers={"Authorization": f"Bearer {tok.json()['access_token']}"})

        blind = get("stat-b")
        assert blind.status_code == 200, blind.text
        doc = blind.json()
        assert doc["blinded"] is True and doc["consort"]["randomized"] > 0
        assert find_arm_information(doc, ids, labels) == [], find_arm_information(doc, ids, labels)[:5]
        for param, analysis in doc["endpoints"].items():
            assert len(analysis["groups"]) == 1 and analysis["logrank"] is None and analysis["cox"] is None, param
        assert "forest" not in doc and "cost_effectiveness" not in doc
        dsmb = get("dsmb-b").json()
        assert dsmb["blinded"] is False and set(dsmb["consort"]["allocated"]) == set(ids)
        assert dsmb["endpoints"]["PFS"]["cox"]["reference"] == "palliative"
        assert find_arm_information(dsmb, ids, labels)  # the DSMB's report is by arm
        assert get("assessor-b").status_code == 403  # the outcome assessor gets no report
        admin = get("admin-b").json()  # the administrator is kept blind, as on the audit trail
        assert admin["blinded"] is True and find_arm_information(admin, ids, labels) == []
    finally:
        c.dispose()
    # once the trial is unblinded (final analysis locked), the statistician's report has the arms
    env = _env(out)
    short = runner.invoke(app, ["report", "unblind", "--trial", "STOP-2", "--reason", "too short"], env=env)
    assert short.exit_code == 2 and "reason" in short.output
    res = runner.invoke(app, ["report", "unblind", "--trial", "STOP-2", "--reason",
                              "final analysis database locked 2026-11-30"], env=env)
    assert res.exit_code == 0, res.output
    c = _container(out)
    try:
        client = TestClient(create_app(c))
        after = get("stat-b").json()
        assert after["blinded"] is False and set(after["consort"]["allocated"]) == set(ids)
    finally:
        c.dispose()


def test_a_report_is_kept_signed_and_never_overwritten(demos, tmp_path):
    out, printed = demos["NCT06918951"]
    report_id = next(line.split(": ", 1)[1] for line in printed.splitlines() if line.startswith("report id: "))
    env = _env(out)
    archived = out / "archive" / report_id / "report.json"
    assert archived.read_bytes() == (out / "report.json").read_bytes()
    res = runner.invoke(app, ["report", "sign", "--trial", "STOP-2", "--report", report_id, "--by", "A. Statistician"],
                        env=env)
    assert res.exit_code == 0, res.output
    bad = runner.invoke(app, ["report", "sign", "--trial", "STOP-2", "--report", "nope", "--by", "X"], env=env)
    assert bad.exit_code == 2 and "not recorded" in bad.output
    # a second report at an earlier cut goes into its own archive; the first stays as it was
    before = archived.read_bytes()
    res = runner.invoke(app, ["report", "--trial", "STOP-2", "--data-cut", "2026-03-15", "--out", str(out)], env=env)
    assert res.exit_code == 0, res.output
    second = next(line.split(": ", 1)[1] for line in res.output.splitlines() if line.startswith("report id: "))
    assert second != report_id and archived.read_bytes() == before
    early = json.loads((out / "archive" / second / "report.json").read_text())
    assert early["data_cut"] == "2026-03-15"
    assert early["consort"]["assessed_for_eligibility"] < CANDIDATES  # the snapshot hides what came later
    listed = runner.invoke(app, ["report", "list", "--trial", "STOP-2", "--json"], env=env)
    stored = {r["report_id"]: r for r in json.loads(listed.output)}
    assert stored[report_id]["signatures"][0]["by"] == "A. Statistician"
    assert stored[report_id]["sha256"]["report.json"] and second in stored
    # a demo refuses a database that already holds a trial
    again = runner.invoke(app, ["demo", "--trial", "STOP-2", "--patients", "4", "--out", str(out)])
    assert again.exit_code == 2 and "holds data" in again.output
