"""Issue 26 item 6: ``oligotrial screen DIR --json`` with bad files among good ones names each bad
file's error (an ``oligotrial.screening-error/1`` object naming the field, the value and what was
expected), still screens the others, prints no traceback and exits 1. Before the fix a lab
``test`` given as a list stopped the whole batch with ``TypeError: unhashable type: 'list'``.

Run as the console script runs (a new process), so that a traceback on stderr would be seen."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from oligotrial.adapters.io.records import example_paths

SCRIPT = "from oligotrial.adapters.cli.main import main; main()"


def _screen(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[3] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", SCRIPT, "screen", *args], capture_output=True, text=True,
                          env=env, timeout=300, check=False)


def test_bad_files_are_named_the_others_screened_no_traceback_exit_1(tmp_path: Path):
    good = json.loads(next(p for p in example_paths() if p.name == "oppress_eligible.json").read_text())
    (tmp_path / "a_good.json").write_text(json.dumps(good))
    (tmp_path / "b_malformed.json").write_text('{"id": "X", ')
    lab = {"date": good["as_of"], "test": ["hemoglobin"], "value": 120, "unit": "g/L"}
    (tmp_path / "c_lab_list.json").write_text(json.dumps({**good, "id": "LAB-LIST", "labs": [lab]}))
    unit = {"date": good["as_of"], "test": "hemoglobin", "value": 120, "unit": {"g": "L"}}
    (tmp_path / "d_unit_object.json").write_text(json.dumps({**good, "id": "UNIT-OBJ", "labs": [unit]}))
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()  # the command's today is the machine's
    (tmp_path / "e_future.json").write_text(json.dumps({**good, "id": "FUTURE",
                                                        "events": [{"kind": "death", "date": tomorrow}]}))
    (tmp_path / "f_good_too.json").write_text(json.dumps({**good, "id": "GOOD-2"}))

    r = _screen(str(tmp_path), "--json", "--trial", "OPPRESS")

    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    docs = json.loads(r.stdout)
    by_file = {Path(d["file"]).name: d for d in docs}
    assert sorted(by_file) == ["a_good.json", "b_malformed.json", "c_lab_list.json", "d_unit_object.json",
                               "e_future.json", "f_good_too.json"]
    for name in ("a_good.json", "f_good_too.json"):
        assert by_file[name]["format"] == "oligotrial.screening/1" and by_file[name]["results"]
    errors = {n: d["error"] for n, d in by_file.items() if d.get("format") == "oligotrial.screening-error/1"}
    assert set(errors) == {"b_malformed.json", "c_lab_list.json", "d_unit_object.json", "e_future.json"}
    assert errors["b_malformed.json"]["code"] == "record_not_json"
    assert errors["c_lab_list.json"]["errors"][0] == {
        "path": "labs[0].test", "value": ["hemoglobin"], "expected": "text (the test's name), not a list"}
    assert errors["d_unit_object.json"]["errors"][0]["path"] == "labs[0].unit"
    assert "not an object" in errors["d_unit_object.json"]["errors"][0]["expected"]
    future = errors["e_future.json"]["errors"][0]
    assert future["path"] == "events[0].date" and future["value"] == tomorrow
    assert f"a date not after today ({dt.date.today().isoformat()})" in future["expected"]


def test_without_json_the_bad_file_is_reported_on_stderr_without_a_traceback(tmp_path: Path):
    good = json.loads(next(p for p in example_paths() if p.name == "oppress_eligible.json").read_text())
    (tmp_path / "a_good.json").write_text(json.dumps(good))
    lab = {"date": good["as_of"], "test": {"name": "hemoglobin"}, "value": 120, "unit": "g/L"}
    (tmp_path / "b_bad.json").write_text(json.dumps({**good, "id": "LAB-OBJ", "labs": [lab]}))
    r = _screen(str(tmp_path), "--trial", "OPPRESS")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "b_bad.json: not screened" in r.stderr and "labs[0].test" in r.stderr
    assert "1 record(s) screened against 1 trial(s); 1 could not be screened." in r.stdout
