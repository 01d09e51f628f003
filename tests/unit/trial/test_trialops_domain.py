"""Pure domain rules of trial operations: lists, minimization, commitment, hash chain,
blinding views, workflow steps, CTCAE terms, schedules."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oligotrial.domain.protocol.schedule_schema import Schedule, parse_schedule
from oligotrial.domain.record.ctcae import check_adverse_event
from oligotrial.domain.trial import audit as chain
from oligotrial.domain.trial import randomization as algo
from oligotrial.domain.trial import schedule, workflow
from oligotrial.domain.trial.blinding import find_arm_information, is_blinded, radiotherapy_view
from oligotrial.errors import RandomizationError, RecordError, WorkflowError
from oligotrial.protocols import list_protocols


@pytest.mark.parametrize("ratio", [{"a": 1, "b": 1}, {"a": 2, "b": 1}, {"a": 1, "b": 1, "c": 3}])
def test_permuted_blocks_balance_every_block_and_use_random_sizes(ratio):
    slots = algo.permuted_blocks("all", ratio, 300, np.random.default_rng(1), (1, 2, 3))
    unit = sum(ratio.values())
    assert len(slots) >= 300 and [s.seq for s in slots] == list(range(1, len(slots) + 1))
    sizes = set()
    for b in {s.block for s in slots}:
        block = [s for s in slots if s.block == b]
        sizes.add(len(block))
        m = len(block) // unit
        assert Counter(s.payload for s in block) == {arm: m * n for arm, n in ratio.items()}
    assert sizes == {unit, 2 * unit, 3 * unit}


def test_lists_are_reproducible_from_the_seed_and_differ_between_seeds():
    a = algo.permuted_blocks("all", {"x": 1, "y": 1}, 50, np.random.default_rng(7))
    b = algo.permuted_blocks("all", {"x": 1, "y": 1}, 50, np.random.default_rng(7))
    c = algo.permuted_blocks("all", {"x": 1, "y": 1}, 50, np.random.default_rng(8))
    assert a == b and a != c


def test_commitment_changes_when_any_slot_changes():
    slots = algo.permuted_blocks("all", {"x": 1, "y": 1}, 10, np.random.default_rng(3))
    h = algo.commitment("T", "permuted_blocks", 3, {}, slots)
    assert len(h) == 64 and h == algo.commitment("T", "permuted_blocks", 3, {}, list(reversed(slots)))
    flipped = [slots[0].__class__(s.stratum, s.seq, s.block, s.block_size, "y" if s.payload == "x" else "x")
               if s.seq == 1 else s for s in slots]
    assert algo.commitment("T", "permuted_blocks", 3, {}, flipped) != h


def test_stratum_key_names_the_bad_field():
    factors = [("site", ["a", "b"]), ("ecog", ["0", "1"])]
    assert algo.stratum_key(factors, {"ecog": "1", "site": "a"}) == "site=a|ecog=1"
    assert len(algo.all_strata(factors)) == 4
    with pytest.raises(RandomizationError) as e:
        algo.stratum_key(factors, {"site": "c", "ecog": "1"})
    assert e.value.field == "strata.site"
    with pytest.raises(RandomizationError) as e:
        algo.stratum_key(factors, {"site": "a"})
    assert e.value.field == "strata.ecog"
    with pytest.raises(RandomizationError):
        algo.stratum_key([], {"x": "1"})


def test_minimization_prefers_the_arm_that_reduces_imbalance():
    counts = {"site": {"a": {"x": 3, "y": 0}}}
    # u1 < p_best -> best arm (y); u1 >= p_best -> the other arm
    assert algo.minimization_assign(counts, {"site": "a"}, {"x": 1, "y": 1}, "0.1,0.5", 0.8) == "y"
    assert algo.minimization_assign(counts, {"site": "a"}, {"x": 1, "y": 1}, "0.9,0.5", 0.8) == "x"
    # a tie is broken by the second number in proportion to the ratio
    assert algo.minimization_assign({}, {"site": "a"}, {"x": 1, "y": 1}, "0.1,0.3", 0.8) == "x"
    assert algo.minimization_assign({}, {"site": "a"}, {"x": 1, "y": 1}, "0.1,0.7", 0.8) == "y"
    # with a 2:1 ratio the weighted counts make x the balancing arm at the start
    assert algo.minimization_assign({}, {"site": "a"}, {"x": 2, "y": 1}, "0.1,0.9", 0.8) == "x"


def test_minimization_keeps_marginal_balance():
    rng = np.random.default_rng(11)
    draws = algo.minimization_draws(400, rng)
    counts: dict = {}
    arms = []
    for i, d in enumerate(draws):
        person = {"site": "ab"[i % 2], "sex": "mf"[(i // 3) % 2]}
        arm = algo.minimization_assign(counts, person, {"x": 1, "y": 1}, d.payload)
        arms.append(arm)
        for f, lv in person.items():
            counts.setdefault(f, {}).setdefault(lv, {}).setdefault(arm, 0)
            counts[f][lv][arm] += 1
    for f, levels in counts.items():
        for lv, by in levels.items():
            assert abs(by.get("x", 0) - by.get("y", 0)) <= 4, (f, lv, by)
    assert 0.3 < arms.count("x") / len(arms) < 0.7


def _chain(n):
    rows, prev = [], chain.GENESIS
    for i in range(1, n + 1):
        e = {"seq": i, "at": f"2026-01-01T00:00:{i:02d}", "actor": "u", "role": "coordinator", "trial": "T",
             "action": "x", "entity_type": "p", "entity_id": str(i), "old": None, "new": {"v": i},
             "reason": None, "prev_hash": prev}
        e["hash"] = chain.entry_hash(prev, e)
        prev = e["hash"]
        rows.append(e)
    return rows


def test_intact_chain_verifies():
    rows = _chain(5)
    rep = chain.verify_chain(rows, (5, rows[-1]["hash"]))
    assert rep.ok and rep.checked == 5


def test_altered_removed_and_inserted_entries_are_reported():
    rows = _chain(6)
    head = (6, rows[-1]["hash"])
    altered = [dict(r) for r in rows]
    altered[2]["new"] = {"v": 99}
    assert chain.verify_chain(altered, head).altered == [3]
    removed = [r for r in rows if r["seq"] != 4]
    rep = chain.verify_chain(removed, head)
    assert rep.removed == [4] and not rep.altered
    assert chain.verify_chain(rows[:-2], head).removed == [5, 6]
    extra = dict(rows[-1], seq=7, prev_hash=rows[-1]["hash"])
    extra["hash"] = chain.entry_hash(extra["prev_hash"], extra)
    assert chain.verify_chain(rows + [extra], head).inserted == [7]


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["seq", "trial", "x", '"seq":0,"trial":', "é"]), inner, max_size=3),
    max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(payload=st.fixed_dictionaries({
    "at": st.text(max_size=8), "actor": st.text(max_size=8), "role": st.none() | st.text(max_size=8),
    "trial": st.none() | st.text(max_size=12), "action": st.text(max_size=8),
    "entity_type": st.text(max_size=8), "entity_id": st.text(max_size=8),
    "old": _json_values, "new": _json_values, "reason": st.none() | st.text(max_size=12)}),
    seq=st.integers(1, 10**9), prev=st.sampled_from([chain.GENESIS, "ab" * 32]))
def test_the_chain_link_computed_from_parts_is_the_entry_hash(payload, seq, prev):
    # the storage adapter hashes prev_hash || before || seq || after while appending (SQL on
    # PostgreSQL); that must be exactly entry_hash, whatever the payload holds
    before, after = chain.canonical_parts(payload)
    assert before + str(seq) + after == chain.canonical({**payload, "seq": seq})
    assert chain.link_hash(prev, seq, before, after) == chain.entry_hash(prev, {**payload, "seq": seq})
    assert after.isascii() and before.isascii()


def test_radiotherapy_decision_needs_a_documented_override_only_when_the_check_fails():
    assert workflow.radiotherapy_decision("pass", None) == {"deviation": False, "override": None}
    assert workflow.radiotherapy_decision("not_evaluable", None) == {"deviation": False, "override": None}
    assert workflow.radiotherapy_decision("pass", {"reason": "not needed here"})["override"] is None
    assert workflow.radiotherapy_decision("fail", None) is None
    assert workflow.radiotherapy_decision("fail", {"reason": "too short"}) is None
    assert workflow.radiotherapy_decision("fail", {"reason": "  PI approved 10 Gy/1 for cord  "}) == {
        "deviation": True, "override": {"reason": "PI approved 10 Gy/1 for cord"}}
    with pytest.raises(ValueError):
        workflow.radiotherapy_decision("ok", None)


def test_blinded_roles_follow_the_protocol_masking():
    assert is_blinded(["enrolling_oncologist", "statistician"], "statistician")
    assert not is_blinded(["enrolling_oncologist", "statistician"], "dsmb")
    assert not is_blinded(["treating_oncologist"], "treating_oncologist")  # must deliver the arm
    assert radiotherapy_view({"start": "2026-01-01", "dose_gy": 8.0, "fractions": 1}, True) == {
        "delivered": True, "start": "2026-01-01"}


def test_find_arm_information():
    ids, labels = ["sabr", "palliative"], ["Experimental Arm (SABR)"]
    assert find_arm_information({"a": {"arm": "x"}}, ids, labels) == ["$.a.arm"]
    assert find_arm_information({"a": ["sabr"]}, ids, labels) == ["$.a[0]"]
    assert find_arm_information({"t": "... Experimental Arm (SABR) ..."}, ids, labels) == ["$.t"]
    assert find_arm_information({"t": "Stereotactic ablative (SABR-like) text"}, ids, labels) == []


def test_workflow_refuses_illegal_steps_and_needs_override_for_non_eligible():
    p = workflow.Participant("p1", "T", "P-1", {})
    with pytest.raises(WorkflowError) as e:
        workflow.check_step(p, "randomize")
    assert e.value.field == "state" and "registered" in e.value.message
    for step in ("screen", "consent", "enrol", "randomize", "radiotherapy"):
        workflow.advance(p, step)
    assert p.state == "treated"
    assert workflow.enrolment_decision("eligible", None)["override"] is None
    with pytest.raises(WorkflowError) as e:
        workflow.enrolment_decision("ineligible", None)
    assert e.value.field == "override.reason"
    assert workflow.enrolment_decision("ineligible", {"reason": "PI judged criterion 7 met on review"})["override"]


def test_ctcae_terms_and_grades():
    assert check_adverse_event("Pneumonitis", 2)["grade"] == 2
    for term, grade, field in [("Pneumonitis", 6, "grade"), ("Alopecia", 3, "grade"), ("Sore", 1, "term"),
                               ("Respiratory - Other, specify", 2, "specify")]:
        with pytest.raises(RecordError) as e:
            check_adverse_event(term, grade)
        assert e.value.field == field
    assert check_adverse_event("Respiratory - Other, specify", 2, "wheeze")["specify"] == "wheeze"


def test_every_shipped_protocol_has_a_valid_schedule_and_visits_are_planned_from_anchors():
    for p in list_protocols():
        s = parse_schedule(p.schedule)
        assert isinstance(s, Schedule) and s.visits
    s = parse_schedule(list_protocols()[0].schedule)
    plan = schedule.plan_visits(list(s.visits), {"randomization": dt.date(2026, 1, 1), "radiotherapy_start": None})
    assert plan and all(v.anchor == "randomization" for v in plan)
    m3 = next(v for v in plan if v.code == "followup_m3")
    assert m3.target == dt.date(2026, 4, 2) and m3.earliest < m3.target < m3.latest


def test_schedule_without_registry_text_must_be_site_default():
    with pytest.raises(ValueError):
        Schedule.model_validate({"registry_gives_schedule": False, "source_text": "none given", "visits": [
            {"code": "v1", "label": "V1", "anchor": "randomization", "day": 10, "window_before_days": 1,
             "window_after_days": 1, "source_text": "made up"}]})


def test_a_single_arm_trial_follows_an_enrolled_participant_who_is_never_treated():
    """NCT05906329 is single-arm: day 0 is enrolment, and a participant who never starts
    radiotherapy is still followed (intention to treat, ICH E9 s.5.2.1); a randomized trial's
    enrolled participant has no visit before randomization."""
    p = workflow.Participant("p1", "NCT05906329", "X-1", {}, state="enrolled")
    workflow.check_step(p, "visit", single_group=True)
    with pytest.raises(WorkflowError) as e:
        workflow.check_step(p, "visit")
    assert e.value.field == "state" and "'enrolled'" in e.value.message


def test_a_single_group_trial_has_no_randomize_step_from_any_state():
    allowed_from, ALLOWED_FROM = workflow.allowed_from, workflow.ALLOWED_FROM
    assert allowed_from("randomize") == ALLOWED_FROM["randomize"] and "enrolled" in allowed_from("randomize")
    assert allowed_from("randomize", single_group=True) == frozenset()
    # the other steps keep theirs, with a single group's extras (treated and followed from enrolment)
    assert allowed_from("consent", single_group=True) == ALLOWED_FROM["consent"]
    assert "enrolled" in allowed_from("radiotherapy", single_group=True) - allowed_from("radiotherapy")
