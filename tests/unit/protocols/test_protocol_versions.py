"""Protocol versions and amendments: several versions of one trial side by side, the current one
chosen by effective date, a named one on request, and what an amendment changes (``diff``).

The amendment is a test fixture: ``tests/data/protocol_amendments/NCT06918951_stop2_r2.yaml``,
a copy of the shipped STOP-2 (2025-12-15.r1) as version 2026-06-01.r2."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oligotrial.adapters.cli import _common
from oligotrial.adapters.cli.main import app
from oligotrial.errors import ProtocolError
from oligotrial.protocols import (
    diff_protocols,
    list_protocols,
    load_library,
    load_protocol,
    load_protocol_file,
    loader,
    protocol_versions,
)
from oligotrial.protocols.diff import diff_document

AMENDMENTS = Path(__file__).parents[2] / "data" / "protocol_amendments"
LIBRARY = Path(loader.__file__).parent / "library"
STOP2 = "NCT06918951"
R1, R2 = "2025-12-15.r1", "2026-06-01.r2"
runner = CliRunner()

#: exactly the changes the fixture makes: (section, id, kind)
EXPECTED = [
    ("criteria", "STOP2-IN-04", "removed"),
    ("criteria", "STOP2-IN-05", "changed"),
    ("criteria", "STOP2-IN-13", "changed"),
    ("criteria", "STOP2-EX-14", "added"),
    ("windows", "restaging", "changed"),
    ("endpoint_rules", "pfs", "changed"),
]


@pytest.fixture
def amended(monkeypatch):
    """The amendment directory named in OLIGOTRIAL_PROTOCOL_DIRS."""
    monkeypatch.setenv(loader.ENV_DIRS, str(AMENDMENTS))
    return AMENDMENTS


@pytest.fixture
def wide(monkeypatch):
    monkeypatch.setattr(_common.console, "_width", 4000)


# ---- the shipped library ---------------------------------------------------------------------------

def test_shipped_protocols_have_one_version_each_with_the_effective_date_of_their_version(monkeypatch):
    monkeypatch.delenv(loader.ENV_DIRS, raising=False)
    lib = load_library()
    assert len(lib) == 5 and all(len(vs) == 1 for vs in lib.values())
    for p in list_protocols():
        assert p.effective_date == dt.date.fromisoformat(p.version[:10]) and p.amends is None
        assert load_protocol(p.id) == p == load_protocol(p.id, version=p.version)
    for path in sorted(LIBRARY.glob("*.yaml")):
        assert f"effective_date: {load_protocol_file(path).effective_date.isoformat()}\n" in path.read_text()


def test_existing_calls_work_unchanged(monkeypatch):
    monkeypatch.delenv(loader.ENV_DIRS, raising=False)
    assert load_protocol("stop-2").id == STOP2 and load_protocol(" nct06918951 ").version == R1
    with pytest.raises(ProtocolError) as e:
        load_protocol("NOPE")
    assert e.value.code == "protocol_not_found"


# ---- versions beside each other ------------------------------------------------------------------

def test_the_loader_loads_the_amendment_beside_the_shipped_protocol(amended):
    versions = protocol_versions("STOP-2")
    assert [p.version for p in versions] == [R1, R2]
    assert [p.effective_date for p in versions] == [dt.date(2025, 12, 15), dt.date(2026, 6, 1)]
    assert versions[1].amends == R1 and versions[0].amends is None
    assert load_library()[STOP2] == versions
    assert load_protocol(STOP2, version=R1).version == R1
    assert load_protocol("STOP-2", R2).version == R2
    # list_protocols still gives one (the current) version per trial
    assert len(list_protocols(on="2026-07-01")) == 5


def test_extra_dirs_parameter_works_without_the_environment(monkeypatch):
    monkeypatch.delenv(loader.ENV_DIRS, raising=False)
    assert [p.version for p in protocol_versions(STOP2)] == [R1]
    assert [p.version for p in protocol_versions(STOP2, extra_dirs=[AMENDMENTS])] == [R1, R2]
    assert load_protocol(STOP2, R2, extra_dirs=[AMENDMENTS]).amends == R1


@pytest.mark.parametrize(("day", "version"), [
    ("2025-12-15", R1), ("2026-05-31", R1), ("2026-06-01", R2), ("2027-01-01", R2)])
def test_load_protocol_picks_the_version_in_effect_on_a_date(amended, day, version):
    assert load_protocol(STOP2, on=day).version == version
    assert load_protocol(STOP2, on=dt.date.fromisoformat(day)).version == version


@pytest.mark.parametrize(("today", "version"), [(dt.date(2026, 3, 5), R1), (dt.date(2026, 6, 2), R2)])
def test_load_protocol_without_a_date_uses_today(amended, monkeypatch, today, version):
    monkeypatch.setattr(loader, "_today", lambda: today)
    assert load_protocol("STOP-2").version == version
    assert {p.id: p.version for p in list_protocols()}[STOP2] == version


def test_no_version_in_effect_and_an_unknown_version_are_errors(amended):
    with pytest.raises(ProtocolError) as e:
        load_protocol(STOP2, on="2025-01-01")
    assert e.value.code == "protocol_not_in_effect"
    with pytest.raises(ProtocolError) as e:
        load_protocol(STOP2, version="2030-01-01.r9")
    assert e.value.code == "protocol_version_not_found" and R1 in e.value.message and R2 in e.value.message


def _copy_with(tmp_path: Path, name: str, **replace: str) -> Path:
    text = (AMENDMENTS / "NCT06918951_stop2_r2.yaml").read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return path


def test_two_files_with_the_same_id_and_version_are_an_error_naming_both(tmp_path):
    shutil.copy(LIBRARY / "NCT06918951_stop2.yaml", tmp_path / "copy_of_stop2.yaml")
    with pytest.raises(ProtocolError) as e:
        load_library(extra_dirs=[tmp_path])
    msg = e.value.message
    assert "NCT06918951_stop2.yaml" in msg and "copy_of_stop2.yaml" in msg and R1 in msg


def test_two_versions_taking_effect_on_the_same_day_are_an_error_when_chosen(tmp_path):
    _copy_with(tmp_path, "r3.yaml", **{'version: "2026-06-01.r2"': 'version: "2026-06-01.r3"'})
    dirs = [AMENDMENTS, tmp_path]
    assert [p.version for p in protocol_versions(STOP2, extra_dirs=dirs)] == [R1, R2, "2026-06-01.r3"]
    with pytest.raises(ProtocolError) as e:
        load_protocol(STOP2, on="2026-07-01", extra_dirs=dirs)
    assert e.value.code == "protocol_ambiguous" and R2 in e.value.message and "2026-06-01.r3" in e.value.message
    assert load_protocol(STOP2, on="2026-05-01", extra_dirs=dirs).version == R1  # before the tie: fine
    assert load_protocol(STOP2, version="2026-06-01.r3", extra_dirs=dirs).version == "2026-06-01.r3"


def test_an_amendment_of_a_version_that_is_not_there_is_an_error(tmp_path):
    _copy_with(tmp_path, "r2.yaml", **{'amends: "2025-12-15.r1"': 'amends: "2025-01-01.r0"'})
    with pytest.raises(ProtocolError, match="2025-01-01.r0"):
        load_library(extra_dirs=[tmp_path])


def test_a_missing_extra_directory_is_an_error(tmp_path):
    with pytest.raises(ProtocolError, match="not a directory"):
        load_library(extra_dirs=[tmp_path / "nope"])


# ---- diff ----------------------------------------------------------------------------------------

def test_the_amendment_fixture_is_generated_from_the_shipped_stop2():
    """The fixture is the shipped file plus exactly the listed changes; when the shipped file
    changes, regenerate it: ``python tests/data/protocol_amendments/make_stop2_r2.py``."""
    spec = importlib.util.spec_from_file_location("make_stop2_r2", AMENDMENTS / "make_stop2_r2.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    expected = gen.amend((LIBRARY / "NCT06918951_stop2.yaml").read_text(encoding="utf-8"))
    assert (AMENDMENTS / "NCT06918951_stop2_r2.yaml").read_text(encoding="utf-8") == expected, (
        "the STOP-2 amendment fixture is stale: run python tests/data/protocol_amendments/make_stop2_r2.py")


def _pair():
    return (load_protocol(STOP2, R1, extra_dirs=[AMENDMENTS]), load_protocol(STOP2, R2, extra_dirs=[AMENDMENTS]))


def test_diff_lists_exactly_the_amendments_changes():
    r1, r2 = _pair()
    changes = diff_protocols(r1, r2)
    assert [(c.section, c.id, c.kind) for c in changes] == EXPECTED
    by_id = {c.id: c for c in changes}
    ecog = by_id["STOP2-IN-05"]
    assert set(ecog.fields) == {"source_text", "rule"}
    assert ecog.before["rule"] == {"performance": {"scale": "ECOG", "max": 2}}
    assert ecog.after["rule"] == {"performance": {"scale": "ECOG", "max": 1}}
    assert by_id["STOP2-IN-13"].fields == ("source_text",)
    assert by_id["restaging"].before["days"] == 84 and by_id["restaging"].after["days"] == 56
    assert by_id["pfs"].fields == ("metastasis_directed_therapy_censors",)
    assert by_id["pfs"].before == {"metastasis_directed_therapy_censors": False}
    assert by_id["STOP2-EX-14"].after["rule"] == {"condition": {"any_of": ["other_malignancy"], "within_days": 1095}}
    assert by_id["STOP2-IN-04"].before["kind"] == "inclusion" and by_id["STOP2-IN-04"].after is None


def test_diff_of_a_version_with_itself_is_empty_and_reversing_swaps_added_and_removed():
    r1, r2 = _pair()
    assert diff_protocols(r1, r1) == []
    back = {(c.section, c.id): c.kind for c in diff_protocols(r2, r1)}
    assert back[("criteria", "STOP2-IN-04")] == "added" and back[("criteria", "STOP2-EX-14")] == "removed"


def test_diff_sees_arms_regimens_and_endpoints():
    r1, _ = _pair()
    sabr = r1.arm("sabr")
    reg = sabr.radiotherapy.regimens[0].model_copy(update={"fractions": sabr.radiotherapy.regimens[0].fractions.model_copy(update={"max": 5})})
    rt = sabr.radiotherapy.model_copy(update={"regimens": [reg]})
    arms = [r1.arm("palliative"), sabr.model_copy(update={"radiotherapy": rt, "label": "SABR arm"})]
    eps = r1.endpoints.model_copy(update={"secondary": r1.endpoints.secondary[1:]})
    changed = r1.model_copy(update={"arms": arms, "endpoints": eps})
    got = {(c.section, c.id, c.kind) for c in diff_protocols(r1, changed)}
    assert ("arms", "sabr", "changed") in got
    assert ("regimens", f"sabr/{reg.label}", "changed") in got
    assert ("endpoints", r1.endpoints.secondary[0].id, "removed") in got


def test_diff_document_is_data():
    r1, r2 = _pair()
    doc = diff_document(r1, r2)
    assert doc["from"]["version"] == R1 and doc["to"] == {"version": R2, "effective_date": "2026-06-01", "amends": R1}
    assert doc["summary"] == {"added": 1, "removed": 1, "changed": 4}
    json.dumps(doc)


# ---- the CLI -------------------------------------------------------------------------------------

def test_cli_diff_prints_the_changes_in_words(amended, wide):
    r = runner.invoke(app, ["protocols", "diff", "STOP-2", R1, R2])
    assert r.exit_code == 0, r.output
    out = r.output
    assert f"from: {R1} (effective 2025-12-15)" in out
    assert f"to: {R2} (effective 2026-06-01, amends {R1})" in out
    assert "6 change(s): 1 added, 1 removed, 4 changed" in out
    assert "criterion STOP2-IN-04 removed" in out
    assert 'criterion STOP2-IN-05 changed: source text "ECOG performance status 0-2" -> "ECOG performance status 0-1"' in out
    assert "criterion STOP2-EX-14 added (exclusion)" in out
    assert "window restaging changed: days 84 -> 56" in out
    assert "endpoint rule pfs changed: metastasis directed therapy censors false -> true" in out


def test_cli_diff_json_parses_and_matches_the_function(monkeypatch):
    monkeypatch.delenv(loader.ENV_DIRS, raising=False)
    r = runner.invoke(app, ["protocols", "diff", STOP2, R1, R2, "--dir", str(AMENDMENTS), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert [(c["section"], c["id"], c["kind"]) for c in doc["changes"]] == EXPECTED


def test_cli_diff_of_an_unknown_version_fails_naming_it(amended):
    r = runner.invoke(app, ["protocols", "diff", "STOP-2", R1, "1999-01-01.r0"])
    assert r.exit_code == 2 and "1999-01-01.r0" in r.output


def test_cli_show_prints_the_version_and_effective_date(amended, wide, monkeypatch):
    monkeypatch.setattr(loader, "_today", lambda: dt.date(2026, 7, 1))
    r = runner.invoke(app, ["protocols", "show", "STOP-2"])
    assert r.exit_code == 0, r.output
    assert f"(version {R2}, effective 2026-06-01, amends {R1})" in r.output
