"""Issue 27 item 2: the service passes its own today to every record parse, so that "not in the
future" and the date of a record without ``as_of`` are judged by the service clock, at
registration as at follow-up, never by the machine's date (the domain's one fallback, for callers
outside the package, is made to fail here)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from oligotrial.domain.record import patient as patient_module
from oligotrial.domain.record.patient import parse_patient
from oligotrial.protocols import load_protocol
from oligotrial.service import enrolment, lesion_response, randomization
from oligotrial.service.ports import Actor
from service_fakes import make_ctx

RECORD = json.loads((Path(__file__).parents[2] / "data" / "format_example_patient.json").read_text())
UNDATED = {k: v for k, v in RECORD.items() if k != "as_of"}  # a record without its own date
STOP2 = load_protocol("STOP-2")
COORD, TREATER = Actor("coord", {STOP2.id: "coordinator"}), Actor("treater", {STOP2.id: "treating_oncologist"})
ASSESSOR = Actor("assessor", {STOP2.id: "outcome_assessor"})


class _NoWallClock(dt.date):
    @classmethod
    def today(cls):  # type: ignore[override]
        raise AssertionError("the machine's date was read: a record was parsed without the service's today")


@pytest.fixture
def no_wall_clock(monkeypatch):
    monkeypatch.setattr(patient_module, "dt", SimpleNamespace(date=_NoWallClock))


def test_the_fallback_is_made_to_fail_so_the_check_can_catch_a_parse_without_today(no_wall_clock):
    with pytest.raises(AssertionError, match="machine's date"):
        parse_patient(UNDATED)
    assert parse_patient(UNDATED, today=dt.date(2026, 3, 2)).as_of == dt.date(2026, 3, 2)
    assert parse_patient(RECORD).as_of == dt.date(2026, 3, 2)  # a dated record needs no today


def test_every_record_parse_of_a_participants_life_uses_the_service_clocks_today(no_wall_clock):
    ctx, store, _ = make_ctx()
    randomization.generate_list(ctx, STOP2.id, seed=3, size_per_stratum=10)
    pid = enrolment.register(ctx, COORD, STOP2.id, UNDATED)["id"]  # registration
    enrolment.screen(ctx, COORD, STOP2.id, pid)
    enrolment.consent(ctx, COORD, STOP2.id, pid, {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, COORD, STOP2.id, pid)
    randomization.randomize(ctx, COORD, STOP2.id, pid, {})
    store["db"].allocs[pid].arm_ct = ctx.cipher.encrypt("palliative", f"alloc|{STOP2.id}|{pid}")
    store["clock"][0] = dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC)
    rt = {"start": "2026-03-10", "end": "2026-03-10", "dose_gy": 8, "fractions": 1, "technique": "conventional"}
    assert enrolment.record_radiotherapy(ctx, TREATER, STOP2.id, pid, rt)["radiotherapy"]["check"]  # the RT check
    assert lesion_response.spider(ctx, COORD, STOP2.id, pid)["series"] is not None  # the response plot
    finding = {"lesion": RECORD["lesions"][0]["id"], "diameter_mm": 20}
    preview = lesion_response.preview_assessment(
        ctx, ASSESSOR, STOP2.id, pid, {"date": "2026-03-09", "modality": "CT", "findings": [finding]}
    )
    assert preview["date"] == "2026-03-09"
