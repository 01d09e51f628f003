"""Recording radiotherapy in the workflow checks the course against the participant's allocated
arm (issue 4's checker): pass, not evaluable (recorded, flagged), fail (refused with the field,
value and expected range, or recorded as a documented deviation). In-memory fakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oligotrial.domain.trial.blinding import find_arm_information
from oligotrial.errors import DoseError, RecordError
from oligotrial.protocols import load_protocol
from oligotrial.service import access, audit, enrolment, randomization
from oligotrial.service.ports import Actor
from service_fakes import committed, make_ctx

RECORD = json.loads((Path(__file__).parents[2] / "data" / "format_example_patient.json").read_text())
STOP2 = load_protocol("STOP-2")
OPPRESS = load_protocol("OPPRESS")
ARM_IDS = [a.id for a in STOP2.arms]
ARM_LABELS = [a.label for a in STOP2.arms]


def _actors(trial):
    return (Actor("coord", {trial: "coordinator"}), Actor("treater", {trial: "treating_oncologist"}),
            Actor("enroller", {trial: "enrolling_oncologist"}), Actor("stat", {trial: "statistician"}))


COORD, TREATER, ENROLLER, STAT = _actors(STOP2.id)


def randomized_to(arm: str, protocol=STOP2, n: int = 1):
    """A fake context with one participant randomized, then (fakes only) pinned to ``arm``."""
    ctx, store, _ = make_ctx()
    coord = _actors(protocol.id)[0]
    randomization.generate_list(ctx, protocol.id, seed=3, size_per_stratum=10)
    pid = enrolment.register(ctx, coord, protocol.id, {**RECORD, "id": f"P-{n:04d}"})["id"]
    enrolment.screen(ctx, coord, protocol.id, pid)
    enrolment.consent(ctx, coord, protocol.id, pid, {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, coord, protocol.id, pid)
    randomization.randomize(ctx, coord, protocol.id, pid, {})
    store["db"].allocs[pid].arm_ct = ctx.cipher.encrypt(arm, f"alloc|{protocol.id}|{pid}")
    return ctx, store, pid


def course(**kw):
    """A course starting on 10 March 2026: one fraction that day, more ending seven weeks later
    (room for up to 35 fractions at five a week, 7 at one a week)."""
    end = "2026-03-10" if kw.get("fractions", 1) == 1 else "2026-04-28"
    return {"start": "2026-03-10", "end": end, "dose_gy": 8, "fractions": 1, **kw}


def _nothing_recorded(store, pid, entries_before):
    p = store["db"].participants[pid]
    assert p.state == "randomized" and p.radiotherapy is None
    assert committed(store).participants.visits(pid) == [] and len(store["db"].audit) == entries_before


@pytest.mark.parametrize("arm,rt", [
    ("palliative", course(technique="conventional")),
    ("sabr", course(dose_gy=35, fractions=5, technique="SABR", lesions=["L1", "L2"])),
])
def test_a_course_that_fits_the_arm_is_recorded_with_its_check(arm, rt):
    ctx, store, pid = randomized_to(arm)
    view = enrolment.record_radiotherapy(ctx, TREATER, STOP2.id, pid, rt)
    check = view["radiotherapy"]["check"]
    assert view["state"] == "treated" and check["status"] == "pass" and not check["deviation"]
    assert [v["lesion"] for v in check["lesions"]] == (rt.get("lesions") or ["course"])
    assert check["lesions"][0]["bed10_gy"] == pytest.approx(rt["dose_gy"] * (1 + rt["dose_gy"] / rt["fractions"] / 10))
    assert "arm" not in check  # the arm is stored only in the encrypted allocation
    entry = store["db"].audit[-1]
    assert entry["action"] == "radiotherapy.record" and entry["new"]["check"] == {
        "status": "pass", "codes": [], "deviation": False}
    assert len(committed(store).participants.visits(pid)) == 7


@pytest.mark.parametrize("arm,rt,field,expected", [
    ("palliative", course(dose_gy=30, fractions=10), "dose_gy", "above the allowed 8 Gy"),
    ("palliative", course(dose_gy=8, fractions=2, end="2026-03-11"), "fractions", "above the allowed 1"),
    ("sabr", course(dose_gy=8, fractions=1, technique="SABR"), "dose_gy", "below the allowed 16-60 Gy"),
    ("sabr", course(dose_gy=35, fractions=5, technique="conventional"), "technique", "allowed: SBRT, SABR, SRS"),
    ("sabr", course(dose_gy=35, fractions=5, technique="SABR", lesions=[f"L{i}" for i in range(6)]), "lesions",
     "treats at most 5"),
])
def test_a_course_outside_the_arm_is_refused_naming_field_value_and_range(arm, rt, field, expected):
    ctx, store, pid = randomized_to(arm)
    before = len(store["db"].audit)
    with pytest.raises(DoseError) as e:
        enrolment.record_radiotherapy(ctx, TREATER, STOP2.id, pid, rt)
    err = e.value
    assert err.code == "rt_outside_arm" and err.field == field
    assert f"{field} {rt[field]!r}" in err.message and expected in err.message, err.message
    assert f"arm {arm!r}" in err.message and "override.reason" in err.message
    _nothing_recorded(store, pid, before)


def test_an_arm_with_palliative_radiotherapy_only_refuses_an_sbrt_course():
    # OPPRESS SOC: "Palliative radiotherapy is acceptable." (review fix: it used to refuse any course)
    ctx, store, pid = randomized_to("soc", OPPRESS)
    before = len(store["db"].audit)
    with pytest.raises(DoseError) as e:
        enrolment.record_radiotherapy(ctx, _actors(OPPRESS.id)[1], OPPRESS.id, pid,
                                      course(dose_gy=30, fractions=5, technique="SBRT"))
    assert e.value.field == "technique" and "palliative radiotherapy only" in e.value.message
    _nothing_recorded(store, pid, before)


def test_a_documented_override_records_the_course_as_a_protocol_deviation():
    ctx, store, pid = randomized_to("palliative")
    rt = course(dose_gy=20, fractions=5, end="2026-03-14", technique="conventional")
    with pytest.raises(DoseError):  # a reason too short to document anything
        enrolment.record_radiotherapy(ctx, TREATER, STOP2.id, pid, {**rt, "override": {"reason": "PI ok"}})
    reason = "cord compression: PI prescribed 20 Gy/5 instead of 8 Gy/1"
    view = enrolment.record_radiotherapy(ctx, TREATER, STOP2.id, pid, {**rt, "override": {"reason": reason}})
    check = view["radiotherapy"]["check"]
    assert check["status"] == "fail" and check["deviation"] is True
    assert check["override"] == {"reason": reason, "by": "treater"}
    assert check["lesions"][0]["reasons"][0]["code"] == "dose_out_of_range"
    entry = store["db"].audit[-1]
    assert entry["reason"] == reason and entry["new"]["check"]["deviation"] is True
    assert "dose_out_of_range" in entry["new"]["check"]["codes"]
    note = committed(store).participants.notifications(STOP2.id)[-1]
    assert note["kind"] == "radiotherapy_deviation" and reason in note["message"]
    rep = audit.verify(ctx)  # the chain holds; the allocation randomized_to pinned is (rightly) reported
    assert not (rep.altered or rep.removed or rep.inserted)
    assert rep.allocation_problems == [
        f"allocation of {pid}: differs from the row its audit entry recorded (swapped or altered)"
    ]


def test_a_course_the_arm_cannot_judge_is_recorded_and_flagged_for_review():
    ctx, store, pid = randomized_to("sabr")  # SABR needs a technique; none recorded
    view = enrolment.record_radiotherapy(ctx, TREATER, STOP2.id, pid, course(dose_gy=35, fractions=5))
    check = view["radiotherapy"]["check"]
    assert check["status"] == "not_evaluable" and not check["deviation"] and check["override"] is None
    assert check["lesions"][0]["reasons"][0]["code"] == "technique_missing"
    assert store["db"].audit[-1]["new"]["check"]["codes"] == ["technique_missing"]


def test_bad_new_fields_are_refused_before_anything_is_read():
    ctx, _store, pid = randomized_to("palliative")
    for data, field in [(course(override="yes"), "override"), (course(fractions_per_week=0), "fractions_per_week"),
                        (course(lesions=["L1", "L1"]), "lesions"), (course(lesions=[""]), "lesions")]:
        with pytest.raises(RecordError) as e:
            enrolment.record_radiotherapy(ctx, TREATER, STOP2.id, pid, data)
        assert e.value.field == field


def test_blinded_roles_learn_no_arm_from_the_check_or_its_refusal(monkeypatch):
    ctx, store, pid = randomized_to("palliative")
    # a blinded role may not record radiotherapy at all: refused before the check runs
    with pytest.raises(Exception) as e:
        enrolment.record_radiotherapy(ctx, ENROLLER, STOP2.id, pid, course(dose_gy=30, fractions=10))
    assert e.value.code == "forbidden" and find_arm_information(e.value.to_dict(), ARM_IDS, ARM_LABELS) == []
    # were one allowed to (a site's permission change), the refusal still names no arm or range
    monkeypatch.setitem(access.PERMISSIONS, "radiotherapy",
                        access.PERMISSIONS["radiotherapy"] | {"enrolling_oncologist"})
    with pytest.raises(DoseError) as e:
        enrolment.record_radiotherapy(ctx, ENROLLER, STOP2.id, pid, course(dose_gy=30, fractions=10))
    msg = json.dumps(e.value.to_dict())
    assert e.value.field == "dose_gy" and find_arm_information(e.value.to_dict(), ARM_IDS, ARM_LABELS) == []
    assert "8 Gy" not in msg and "palliative" not in msg.lower() and "allocated arm" in msg
    # recorded by the treating oncologist: blinded views show neither the course nor its check
    enrolment.record_radiotherapy(ctx, TREATER, STOP2.id, pid, course(technique="conventional"))
    for actor in (ENROLLER, STAT):
        view = enrolment.get_participant(ctx, actor, STOP2.id, pid)
        assert view["radiotherapy"] == {"delivered": True, "start": "2026-03-10"}
    trail = [e for e in audit.trail(ctx, STAT, STOP2.id) if e["action"] == "radiotherapy.record"]
    assert trail and trail[0]["new"] == "withheld: would reveal the arm"
    assert find_arm_information(store["db"].audit[-1]["new"], ARM_IDS, ARM_LABELS) == []


LDRT = load_protocol("NCT05906329")


def _enrolled_single_group():
    ctx, store, _ = make_ctx()
    coord = _actors(LDRT.id)[0]
    pid = enrolment.register(ctx, coord, LDRT.id, {**RECORD, "id": "P-LDRT-1"})["id"]
    enrolment.screen(ctx, coord, LDRT.id, pid)
    enrolment.consent(ctx, coord, LDRT.id, pid, {"date": "2026-03-01", "form_version": "v1"})
    enrolment.enrol(ctx, coord, LDRT.id, pid, {"override": {"reason": "test participant, verdict not eligible"}})
    return ctx, store, pid, coord


def test_a_single_group_trial_treats_an_enrolled_participant_with_its_one_arm():
    """NCT05906329 has one arm and no randomization: radiotherapy follows enrolment, is checked
    against that arm, and visits anchored to 'randomization' count from enrolment (day 0)."""
    ctx, store, pid, coord = _enrolled_single_group()
    p = store["db"].participants[pid]
    assert p.state == "enrolled" and p.randomized_on is None
    view = enrolment.record_radiotherapy(ctx, coord, LDRT.id, pid, course(
        start="2026-03-10", end="2026-04-14", dose_gy=50, fractions=25, technique="conventional", lesions=["L1"]))
    assert view["state"] == "treated"
    assert view["radiotherapy"]["check"]["status"] in ("pass", "not_evaluable")
    enrolled_on = p.enrolment["at"][:10]
    visits = {v["code"]: v for v in committed(store).participants.visits(pid)}
    import datetime as dt
    assert visits["followup_m3"]["target"] == (dt.date.fromisoformat(enrolled_on) + dt.timedelta(days=91)).isoformat()
    assert visits["rt_toxicity_4w"]["target"] == "2026-04-07"


def test_a_single_group_course_outside_its_arm_is_refused_and_nothing_is_recorded():
    ctx, store, pid, coord = _enrolled_single_group()
    before = len(store["db"].audit)
    with pytest.raises(DoseError) as exc:
        enrolment.record_radiotherapy(ctx, coord, LDRT.id, pid, course(dose_gy=8, fractions=1, technique="SABR"))
    assert exc.value.code == "rt_outside_arm"
    p = store["db"].participants[pid]
    assert p.state == "enrolled" and p.radiotherapy is None and len(store["db"].audit) == before


def test_a_randomized_trial_still_needs_randomization_before_radiotherapy():
    ctx, _store, _ = make_ctx()
    pid = enrolment.register(ctx, COORD, STOP2.id, {**RECORD, "id": "P-0099"})["id"]
    enrolment.screen(ctx, COORD, STOP2.id, pid)
    enrolment.consent(ctx, COORD, STOP2.id, pid, {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, COORD, STOP2.id, pid, {"override": {"reason": "test participant, verdict not eligible"}})
    from oligotrial.errors import WorkflowError
    with pytest.raises(WorkflowError) as exc:
        enrolment.record_radiotherapy(ctx, TREATER, STOP2.id, pid, course(technique="conventional"))
    assert exc.value.code == "illegal_step"


def test_observation_lesions_are_the_records_untreated_lesions_with_recist_measurability():
    from oligotrial.domain.record.patient import parse_patient
    from oligotrial.service import radiotherapy

    patient = parse_patient(RECORD)
    obs = {o["id"]: o["measurable"] for o in radiotherapy.observation_lesions(patient, ["L1"], "2026-03-10")}
    # L2: node, 12 mm short axis (< 15 mm); L7: new, 11 mm longest diameter (>= 10 mm); L3 never measured
    assert obs == {"L2": False, "L3": False, "L7": True}
    report = radiotherapy.check(LDRT, LDRT.arms[0].id, course(dose_gy=50, fractions=25, technique="conventional",
                                                              lesions=["L1", "L7"]), patient)
    assert "observation_lesion_missing" in {f.code for f in report.findings}  # only L2, L3 left: neither measurable
    report = radiotherapy.check(LDRT, LDRT.arms[0].id, course(dose_gy=50, fractions=25, technique="conventional",
                                                              lesions=["L1"]), patient)
    assert "observation_lesion_missing" not in {f.code for f in report.findings}


def test_five_fractions_with_first_and_last_on_one_day_are_refused_whatever_the_override():
    """Issue 25 item 3: "first and last fraction on one day for 5 fractions passes the check"."""
    ctx, store, pid = randomized_to("sabr")
    before = len(store["db"].audit)
    rt = {"start": "2026-03-09", "end": "2026-03-09", "dose_gy": 35, "fractions": 5, "technique": "SABR"}
    for data in (rt, {**rt, "override": {"reason": "PI approved the schedule for this patient"}}):
        with pytest.raises(RecordError) as e:
            enrolment.record_radiotherapy(ctx, TREATER, STOP2.id, pid, data)
        assert e.value.field == "end" and e.value.errors[0]["value"] == "2026-03-09"
        # 5 fractions, one a day at most: the last on 13 March at the earliest
        assert "on or after 2026-03-13" in e.value.errors[0]["expected"]
    _nothing_recorded(store, pid, before)
    view = enrolment.record_radiotherapy(ctx, TREATER, STOP2.id, pid, {**rt, "end": "2026-03-13"})
    assert view["radiotherapy"]["check"]["status"] == "pass"


def test_a_one_fraction_course_falls_on_one_day_any_day():
    ctx, store, pid = randomized_to("palliative")
    before = len(store["db"].audit)
    with pytest.raises(RecordError) as e:
        enrolment.record_radiotherapy(ctx, TREATER, STOP2.id, pid, course(start="2026-03-14", end="2026-03-15"))
    assert e.value.field == "end" and "2026-03-14 (the start)" in e.value.errors[0]["expected"]
    _nothing_recorded(store, pid, before)
    # a Sunday is as good as any day for 8 Gy/1
    view = enrolment.record_radiotherapy(ctx, TREATER, STOP2.id, pid, course(start="2026-03-15", end="2026-03-15",
                                                                           technique="conventional"))
    assert view["radiotherapy"]["check"]["status"] == "pass"


def test_more_fractions_a_week_than_the_regimen_allows_is_refused_or_a_documented_deviation():
    """STOP-2's SABR regimen: at most five fractions a week, a labelled assumption (the registry
    gives no schedule). 7 fractions on 7 consecutive days (9-15 March) need 17 March at the
    earliest."""
    ctx, store, pid = randomized_to("sabr")
    before = len(store["db"].audit)
    rt = {"start": "2026-03-09", "end": "2026-03-15", "dose_gy": 56, "fractions": 7, "technique": "SABR"}
    with pytest.raises(DoseError) as e:
        enrolment.record_radiotherapy(ctx, TREATER, STOP2.id, pid, rt)
    err = e.value
    assert err.code == "rt_outside_arm" and err.field == "end" and "end '2026-03-15'" in err.message
    (problem,) = err.errors
    assert problem["path"] == "end" and problem["value"] == "2026-03-15"
    assert "on or after 2026-03-17" in problem["expected"] and "Not registry text" in problem["expected"]
    _nothing_recorded(store, pid, before)
    reason = "linac downtime: the missed fractions were given at the weekend"
    view = enrolment.record_radiotherapy(ctx, TREATER, STOP2.id, pid, {**rt, "override": {"reason": reason}})
    check = view["radiotherapy"]["check"]
    assert check["deviation"] is True and check["lesions"][0]["reasons"][0]["code"] == "fraction_dates_too_close"
    assert committed(store).participants.notifications(STOP2.id)[-1]["kind"] == "radiotherapy_deviation"
