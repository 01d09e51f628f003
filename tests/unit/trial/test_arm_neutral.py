"""The arm-neutral projection of a masked role's view (domain.trial.blinding.ArmNeutral).

Issue 25, on NCT06592612 ("Masking: Single (Outcomes Assessor)"; "Patients in the SBRT arm will
receive second-line systemic therapy combined with SBRT", the control arm none): "A masked role
sees no entry, visit (scheduled or waiting), form, date, state or status that exists in one arm
only". Where every arm gives radiotherapy (NCT06918951: SABR against 8 Gy in 1 fraction) the
treated state and the radiotherapy's start are shared, and only the details are withheld."""

from __future__ import annotations

from oligotrial.domain.trial.blinding import MASKED_RADIOTHERAPY, ArmNeutral, radiotherapy_view
from oligotrial.domain.trial.workflow import STATES

RT = {"start": "2026-03-10", "end": "2026-03-14", "dose_gy": 40.0, "fractions": 5, "technique": "SBRT"}
VISITS = [{"code": "rt_toxicity_4w", "anchor": "radiotherapy_start"}, {"code": "late", "anchor": "radiotherapy_end"},
          {"code": "followup_m3", "anchor": "randomization"}, {"code": "post_pd", "anchor": "progression"}]

ONE_ARM = ArmNeutral(masked=True, every_arm=False)  # HCC's outcome assessor
EVERY_ARM = ArmNeutral(masked=True, every_arm=True)  # STOP-2's masked roles
OPEN = ArmNeutral(masked=False, every_arm=False)  # HCC's coordinator


def test_where_one_arm_only_is_treated_a_masked_role_sees_the_state_both_arms_share():
    assert ONE_ARM.state("treated") == "randomized"
    assert [ONE_ARM.state(s) for s in STATES if s != "treated"] == [s for s in STATES if s != "treated"]
    assert "treated" not in ONE_ARM.states(STATES) and len(ONE_ARM.states(STATES)) == len(STATES) - 1
    assert EVERY_ARM.state("treated") == "treated" and EVERY_ARM.states(STATES) == list(STATES)
    assert OPEN.state("treated") == "treated" and OPEN.states(STATES) == list(STATES)


def test_visits_hung_on_the_radiotherapy_are_left_out_where_only_one_arm_has_it():
    assert [v["code"] for v in ONE_ARM.visits(VISITS)] == ["followup_m3", "post_pd"]
    assert EVERY_ARM.visits(VISITS) == VISITS and OPEN.visits(VISITS) == VISITS


def test_radiotherapy_is_the_same_placeholder_treated_or_not_where_only_one_arm_has_it():
    assert ONE_ARM.radiotherapy(RT) == ONE_ARM.radiotherapy(None) == dict(MASKED_RADIOTHERAPY) == {"masked": True}
    assert radiotherapy_view(RT, True, every_arm=False) == {"masked": True}
    # every arm treated: existence and start shared, the details withheld (as before)
    assert EVERY_ARM.radiotherapy(RT) == {"delivered": True, "start": "2026-03-10"}
    assert EVERY_ARM.radiotherapy(None) is None
    assert OPEN.radiotherapy(RT) == RT and OPEN.radiotherapy(None) is None


def test_an_adverse_events_attribution_to_radiotherapy_is_masked_set_or_not_where_one_arm_only_has_it():
    entries = [{"id": 1, "kind": "adverse_event", "data": {"term": "Fatigue", "attribution_radiotherapy": "probable"}},
               {"id": 2, "kind": "adverse_event", "data": {"term": "Fatigue"}},
               {"id": 3, "kind": "qol", "data": {"instrument": "EQ-5D-5L"}}]
    assert [e["data"] for e in ONE_ARM.entries(entries)] == [
        {"term": "Fatigue", "attribution_radiotherapy": "masked"},
        {"term": "Fatigue", "attribution_radiotherapy": "masked"}, {"instrument": "EQ-5D-5L"}]
    assert entries[0]["data"]["attribution_radiotherapy"] == "probable"  # the stored entry is not changed
    assert EVERY_ARM.entries(entries) == entries and OPEN.entries(entries) == entries
