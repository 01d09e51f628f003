"""The CLI through typer's runner: screen, protocols, schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from oligotrial.adapters.cli.main import app
from oligotrial.adapters.io.records import example_paths

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def test_help_lists_the_commands():
    r = run("--help")
    assert r.exit_code == 0
    for cmd in ("screen", "protocols", "schema"):
        assert cmd in r.output


def test_screen_json_follows_the_format(tmp_path):
    src = next(p for p in example_paths() if p.name == "stop2_eligible.json")
    # STOP-2 EX-01 now asks for the investigator's answer on other serious comorbidities
    rec = json.loads(src.read_text())
    rec["attestations"].append({"key": "serious_comorbidity_precludes_radiotherapy", "value": False,
                                "by": "Dr Review", "date": rec["as_of"]})
    ex = tmp_path / "stop2_eligible.json"
    ex.write_text(json.dumps(rec))
    r = run("screen", str(ex), "--trial", "STOP-2", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["format"] == "oligotrial.screening/1" and doc["patient"] == "EX-STOP2-ELIG"
    res = doc["results"][0]
    assert res["trial"] == "NCT06918951" and res["verdict"] == "eligible"
    assert {"definition", "progressing_lesions", "sites", "organs", "intracranial_sites",
            "largest_progressing_mm"} <= set(res["disease_state"])
    for c in res["criteria"]:
        assert {"id", "kind", "source_text", "verdict", "reason", "missing"} <= set(c)


def test_screen_table_gives_reasons(tmp_path):
    ex = next(p for p in example_paths() if p.name == "hcc_ineligible.json")
    r = run("screen", str(ex), "--trial", "HCC-OPD")
    assert r.exit_code == 0
    assert "ineligible" in r.output and "HCC-IN-05" in r.output


def test_directory_with_a_malformed_file_screens_the_others_and_exits_1(tmp_path: Path):
    for p in example_paths()[:3]:
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "zz_bad.json").write_text('{"format": "oligotrial.patient/1", "id": "X", "ecog": 1}')
    (tmp_path / "zz_notjson.json").write_text("{not json")
    r = run("screen", str(tmp_path), "--json")
    assert r.exit_code == 1
    docs = json.loads(r.stdout)
    assert len(docs) == 5
    errors = [d for d in docs if "error" in d]
    assert len(errors) == 2 and all(d["file"].endswith(("zz_bad.json", "zz_notjson.json")) for d in errors)
    assert errors[0]["error"]["errors"][0]["path"] == "ecog"
    assert sum(1 for d in docs if "results" in d) == 3


def test_workers_screen_in_other_processes_with_the_same_documents_in_the_same_order(tmp_path: Path, monkeypatch):
    from oligotrial.adapters.cli import screen as screen_cli

    for p in example_paths():
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "m_bad.json").write_text('{"format": "oligotrial.patient/1", "id": "X", "ecog": 1}')
    (tmp_path / "m_notjson.json").write_text("{not json")
    pools = []

    class CountingPool(screen_cli.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            pools.append(args[0] if args else kwargs.get("max_workers"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(screen_cli, "ProcessPoolExecutor", CountingPool)
    one = run("screen", str(tmp_path), "--json", "--as-of", "2026-06-01")
    assert pools == []
    two = run("screen", str(tmp_path), "--json", "--as-of", "2026-06-01", "--workers", "2")
    assert pools == [2]
    assert one.exit_code == two.exit_code == 1  # the malformed files are still reported
    docs = json.loads(two.stdout)
    assert docs == json.loads(one.stdout)
    assert [Path(d["file"]).name for d in docs] == sorted(q.name for q in tmp_path.iterdir())
    assert sum("error" in d for d in docs) == 2 and sum("results" in d for d in docs) == len(example_paths())


def test_workers_with_one_trial_load_that_trial_in_each_worker(tmp_path: Path):
    for p in example_paths()[:4]:
        shutil.copy(p, tmp_path / p.name)
    r = run("screen", str(tmp_path), "--json", "--trial", "STOP-2", "-j", "2")
    assert r.exit_code == 0, r.output
    assert {res["short_name"] for d in json.loads(r.stdout) for res in d["results"]} == {"STOP-2"}


def test_cli_json_text_is_the_standard_librarys_text_for_screening_documents():
    import datetime as dt

    from oligotrial.adapters.cli._common import json_text
    from oligotrial.adapters.cli.screen import _json_list, _screen_file
    from oligotrial.protocols import list_protocols

    protocols = list_protocols()
    for assume in (False, True):
        docs = [_screen_file(p, protocols, assume, dt.date(2026, 6, 1)) for p in example_paths()]
        want = json.dumps(docs, indent=2, ensure_ascii=False, default=str) + "\n"
        assert json_text(docs) == want
        # the list assembled from each document's own text (what worker processes hand back)
        assert _json_list([json_text(d)[:-1] for d in docs]) == want
        assert _json_list([json_text(docs[0])[:-1]]) == json.dumps(docs[0], indent=2, ensure_ascii=False) + "\n"


def test_cli_json_text_writes_only_json():
    import datetime as dt

    import numpy as np

    from oligotrial.adapters.cli._common import json_text

    got = json.loads(json_text({"nan": float("nan"), "inf": float("-inf"), "n": np.int64(5), "x": np.float64(1.5),
                                1: dt.date(2026, 1, 2), "t": ("é", None)}))
    assert got == {"nan": None, "inf": None, "n": 5, "x": 1.5, "1": "2026-01-02", "t": ["é", None]}
    assert json.loads(json_text({"big": 2**70})) == {"big": 2**70}  # beyond orjson: the standard library


def test_negative_workers_is_a_usage_error_naming_the_option():
    r = run("screen", "--examples", "--workers", "-1")
    assert r.exit_code == 2 and "--workers -1" in r.output


def test_assume_attested_is_labelled():
    ex = next(p for p in example_paths() if p.name == "edge_incomplete_record.json")
    r = run("screen", str(ex), "--trial", "OPPRESS", "--json", "--assume-attested")
    doc = json.loads(r.output)
    assert doc["assumed_attested"] is True and doc["results"][0]["assumed_attested"] is True


def test_unknown_trial_is_a_usage_error():
    ex = example_paths()[0]
    r = run("screen", str(ex), "--trial", "NOPE")
    assert r.exit_code == 2 and "NOPE" in r.output


def test_protocols_list_and_show_json():
    r = run("protocols", "list", "--json")
    assert r.exit_code == 0
    ids = [p["id"] for p in json.loads(r.output)]
    assert ids == sorted(["NCT06523673", "NCT07014202", "NCT05906329", "NCT06592612", "NCT06918951"])
    r = run("protocols", "show", "STOP-2", "--json")
    doc = json.loads(r.output)
    assert [a["id"] for a in doc["arms"]] == ["palliative", "sabr"] and all(a["label"] for a in doc["arms"])
    assert run("protocols", "show", "NCT06592612").exit_code == 0


def test_schema_patient_prints_json_schema():
    r = run("schema", "patient")
    assert r.exit_code == 0 and json.loads(r.output)["title"] == "oligotrial.patient/1"
