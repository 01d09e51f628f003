"""`screen --json --compact`: the oligotrial.screening-summary/1 list agrees with the full
oligotrial.screening/1 documents, carries no registry text, and is always a list."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

from typer.testing import CliRunner

from oligotrial.adapters.cli.main import app

runner = CliRunner()


def _examples(tmp_path: Path) -> Path:
    folder = tmp_path / "reg"
    folder.mkdir()
    for p in resources.files("oligotrial.examples").iterdir():
        if p.name.endswith(".json"):
            shutil.copy(str(p), folder / p.name)
    (folder / "zz_broken.json").write_text('{"format": "oligotrial.patient/1", "id": "X", "birth_date": "soon"}')
    return folder


def test_the_summary_says_what_the_full_document_says(tmp_path):
    folder = _examples(tmp_path)
    full = json.loads(runner.invoke(app, ["screen", str(folder), "--json"]).output)
    r = runner.invoke(app, ["screen", str(folder), "--json", "--compact"])
    assert r.exit_code == 1  # the broken file, reported in its place
    summary = json.loads(r.output)
    assert isinstance(summary, list) and len(summary) == len(full)
    assert "source_text" not in r.output
    for f, s in zip(full, summary):
        if "error" in f:
            assert s == f
            continue
        assert s["format"] == "oligotrial.screening-summary/1" and s["patient"] == f["patient"]
        for fr, sr in zip(f["results"], s["results"]):
            assert sr["verdict"] == fr["verdict"] and sr["trial"] == fr["trial"]
            exclude = [{"id": c["id"], "kind": c["kind"], "verdict": c["verdict"], "reason": c["reason"]}
                       for c in fr["criteria"] if c["verdict"] == ("not_met" if c["kind"] == "inclusion" else "met")]
            unknown = [{"id": c["id"], "kind": c["kind"], "reason": c["reason"], "missing": c["missing"]}
                       for c in fr["criteria"] if c["verdict"] == "unknown"]
            assert sr["failing"] == exclude and sr["unknown"] == unknown
            assert sr["disease_state"]["sites"] == fr["disease_state"]["sites"]


def test_one_file_is_still_a_list_and_compact_needs_json(tmp_path):
    one = next(p for p in resources.files("oligotrial.examples").iterdir() if p.name == "stop2_eligible.json")
    r = runner.invoke(app, ["screen", str(one), "--json", "--compact"])
    assert r.exit_code == 0 and isinstance(json.loads(r.output), list)
    r = runner.invoke(app, ["screen", str(one), "--compact"])
    assert r.exit_code == 2 and "--compact" in r.output


def test_workers_give_the_same_summary(tmp_path):
    folder = _examples(tmp_path)
    one = runner.invoke(app, ["screen", str(folder), "--json", "--compact"]).output
    two = runner.invoke(app, ["screen", str(folder), "--json", "--compact", "--workers", "2"]).output
    assert one == two
