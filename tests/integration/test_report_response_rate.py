"""The trial report's response rates count the best response the registry's endpoint asks for
(issue 25 item 7): NCT05906329 (LDRT-IO, single arm, iRECIST) registers "objective response rate
(ORR) ... according to ... iRECIST" as its primary endpoint, and RECIST 1.1 s.4.6.1 asks for
confirmation "in non-randomised trials where response is the primary endpoint": the report
counts the ADRS CBOR records, and iRECIST's iCR and iPR are responses (Seymour 2017)."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from oligotrial.adapters.cli.main import app

runner = CliRunner()


def test_the_ldrt_report_counts_confirmed_irecist_responses(tmp_path):
    out = tmp_path / "ldrt"
    res = runner.invoke(app, ["demo", "--trial", "NCT05906329", "--patients", "24", "--seed", "3", "--list-seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    env = dict(line.split("=", 1) for line in (out / "oligotrial.env").read_text().splitlines() if line)
    res = runner.invoke(app, ["export", "adrs", "--trial", "NCT05906329", "--out", str(out / "adrs.csv")], env=env)
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((out / "adrs.csv").open(encoding="utf-8", newline="")))
    cbor = {r["USUBJID"]: r["AVALC"] for r in rows if r["PARAMCD"] == "CBOR"}
    bor = {r["USUBJID"]: r["AVALC"] for r in rows if r["PARAMCD"] == "BOR"}
    confirmed = sum(v in ("iCR", "iPR") for v in cbor.values())
    unconfirmed = sum(v in ("iCR", "iPR") for v in bor.values())
    assert 0 < confirmed < unconfirmed  # the demo has responses, some of them never confirmed
    report = json.loads((out / "report.json").read_text())
    (arm,) = report["response"]["orr"]["arms"].values()
    assert arm["responders"] == confirmed
    (dcr,) = report["response"]["dcr"]["arms"].values()
    assert dcr["responders"] == sum(v in ("iCR", "iPR", "iSD", "NON-iCR/NON-iUPD") for v in cbor.values())
    assert "ADRS CBOR" in report["response"]["criteria"]
