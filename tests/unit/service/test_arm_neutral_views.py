"""A masked role's views of NCT06592612's participants are the same whichever the arm (issue 25):
"HCC's masked assessor sees the arm. In NCT06592612 the outcome assessor's view shows
'radiotherapy delivered' and the RT-toxicity visit, which only the SBRT arm has." The registry:
"Masking: Single (Outcomes Assessor)"; "Patients in the SBRT arm will receive second-line systemic
therapy combined with SBRT" and the control arm systemic therapy alone. Checked on the participant
view, the participant list, the visits due, the dashboard's and the summary's counts by state,
and the state an entry's answer reports; STOP-2 (both arms irradiated) keeps the treated state."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from oligotrial.protocols import load_protocol
from oligotrial.service import dashboard, enrolment, followup, randomization
from oligotrial.service.ports import Actor
from service_fakes import make_ctx

RECORD = json.loads((Path(__file__).parents[2] / "data" / "format_example_patient.json").read_text())
HCC = load_protocol("HCC-OPD")
STOP2 = load_protocol("STOP-2")


def actor(trial, role):
    return Actor(role, {trial.id: role})


def one_per_arm(ctx, trial):
    """An enrolled participant randomized to each arm (arm -> participant id)."""
    coord = actor(trial, "coordinator")
    randomization.generate_list(ctx, trial.id, seed=3, size_per_stratum=20)
    out: dict[str, str] = {}
    for n in range(20):
        pid = enrolment.register(ctx, coord, trial.id, {**RECORD, "id": f"P-{n:04d}"})["id"]
        enrolment.screen(ctx, coord, trial.id, pid)
        enrolment.consent(ctx, coord, trial.id, pid, {"date": "2026-03-01", "form_version": "v2"})
        enrolment.enrol(ctx, coord, trial.id, pid)
        randomization.randomize(ctx, coord, trial.id, pid, {})
        out.setdefault(randomization.arm_of(ctx, trial.id, pid), pid)
        if len(out) == len(trial.arms):
            return out
    raise AssertionError(out)


def treat(ctx, trial, pid, course):
    # the last fraction at the earliest date the fractions allow (one a day, five a week)
    n = course["fractions"] - 1
    end = dt.date(2026, 3, 10) + dt.timedelta(days=7 * (n // 5) + n % 5)
    enrolment.record_radiotherapy(ctx, actor(trial, "treating_oncologist"), trial.id, pid, {
        "start": "2026-03-10", "end": end.isoformat(), "lesions": ["L1"], **course,
        "override": {"reason": "course recorded for the test whatever the check says"}})


def test_hccs_masked_assessor_sees_the_sbrt_and_the_control_participant_alike():
    ctx, store, _ = make_ctx("eligible")
    arms = one_per_arm(ctx, HCC)
    treat(ctx, HCC, arms["sbrt"], {"dose_gy": 40, "fractions": 5, "technique": "SBRT"})
    store["clock"][0] = dt.datetime(2026, 4, 7, 9, tzinfo=dt.UTC)  # the toxicity review (day 28 of SBRT) is due
    coord, assessor, admin = actor(HCC, "coordinator"), actor(HCC, "outcome_assessor"), actor(HCC, "admin")
    # the coordinator sees what happened: the SBRT participant treated, their toxicity review due
    seen = enrolment.get_participant(ctx, coord, HCC.id, arms["sbrt"])
    assert seen["state"] == "treated" and seen["radiotherapy"]["dose_gy"] == 40
    assert "rt_toxicity_4w" in [v["code"] for v in seen["visits"]]
    assert "rt_toxicity_4w" in [w["code"] for w in enrolment.get_participant(ctx, coord, HCC.id, arms["control"])
                                ["visits_waiting"]]
    assert [v["code"] for v in enrolment.visits_due(ctx, coord, HCC.id)] == ["rt_toxicity_4w"]
    assert dashboard.recruitment(ctx, coord, HCC.id)["by_state"] == {"randomized": 1, "treated": 1}
    # the masked assessor: the same state, radiotherapy, visits (scheduled and waiting) for both
    views = {arm: enrolment.get_participant(ctx, assessor, HCC.id, pid) for arm, pid in arms.items()}
    for v in views.values():
        assert v["state"] == "randomized" and v["radiotherapy"] == {"masked": True}
        assert "rt_toxicity_4w" not in [x["code"] for x in v["visits"] + v["visits_waiting"]]
    assert [(x["code"], x["status"], x["target"]) for x in views["sbrt"]["visits"]] == \
        [(x["code"], x["status"], x["target"]) for x in views["control"]["visits"]]
    assert views["sbrt"]["visits_waiting"] == views["control"]["visits_waiting"] == [
        {"code": "post_progression_m3", "label": "Survival status 3 months after progression", "anchor": "progression"}]
    assert {r["state"] for r in enrolment.list_participants(ctx, assessor, HCC.id)} == {"randomized"}
    assert enrolment.visits_due(ctx, assessor, HCC.id) == []
    assert dashboard.recruitment(ctx, assessor, HCC.id)["by_state"] == {"randomized": 2}
    # the administrator, kept blind in a blinded trial, counts no treated participant either
    assert enrolment.summary(ctx, admin, HCC.id)["by_state"] == {"randomized": 2}
    assert enrolment.summary(ctx, actor(HCC, "dsmb"), HCC.id)["by_state"] == {"randomized": 1, "treated": 1}
    # the answer to the assessor's own entry reports the state both arms share
    scan = {"date": "2026-04-07", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 30}]}
    states = {arm: followup.record_entry(ctx, assessor, HCC.id, pid, "assessment", scan)["participant_state"]
              for arm, pid in arms.items()}
    assert states == {"sbrt": "randomized", "control": "randomized"}
    # an adverse event's attribution to radiotherapy: only the SBRT arm has radiotherapy to blame
    dm = actor(HCC, "data_manager")
    for arm, pid in arms.items():
        followup.record_entry(ctx, dm, HCC.id, pid, "adverse_event", {
            "date": "2026-04-07", "term": "Fatigue", "grade": 1, "serious": False,
            **({"attribution_radiotherapy": "probable"} if arm == "sbrt" else {})})
    assert [e["data"].get("attribution_radiotherapy") for e in enrolment.get_participant(
        ctx, coord, HCC.id, arms["sbrt"])["entries"] if e["kind"] == "adverse_event"] == ["probable"]
    seen = [[e["data"] for e in enrolment.get_participant(ctx, assessor, HCC.id, pid)["entries"]
             if e["kind"] == "adverse_event"] for pid in arms.values()]
    assert seen[0] == seen[1] and seen[0][0]["attribution_radiotherapy"] == "masked"


def test_in_stop2_both_arms_are_irradiated_so_a_masked_role_sees_treated_and_the_start_only():
    ctx, _, _ = make_ctx("eligible")
    arms = one_per_arm(ctx, STOP2)
    treat(ctx, STOP2, arms["sabr"], {"dose_gy": 35, "fractions": 5, "technique": "SABR"})
    treat(ctx, STOP2, arms["palliative"], {"dose_gy": 8, "fractions": 1, "technique": "conventional"})
    for role in STOP2.masking.blinded_roles:
        views = [enrolment.get_participant(ctx, actor(STOP2, role), STOP2.id, pid) for pid in arms.values()]
        assert [(v["state"], v["radiotherapy"]) for v in views] == \
            [("treated", {"delivered": True, "start": "2026-03-10"})] * 2, role
        codes = [[x["code"] for x in v["visits"]] for v in views]
        assert codes[0] == codes[1]
        assert "rt_toxicity_4w" in [x["code"] for x in views[0]["visits"]]
