"""Service use cases against in-memory fakes: workflow, randomization, blinding, unblinding, audit."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest

from oligotrial.domain.protocol.schema import Stratification, StratificationFactor
from oligotrial.domain.trial.blinding import find_arm_information
from oligotrial.errors import AuditError, BlindingError, RandomizationError, RecordError, WorkflowError
from oligotrial.protocols import load_protocol
from oligotrial.service import audit, enrolment, randomization, unblinding, users
from oligotrial.service.ports import Actor
from service_fakes import committed, make_ctx

RECORD = json.loads((Path(__file__).parents[2] / "data" / "format_example_patient.json").read_text())
STOP2 = load_protocol("STOP-2")
COORD = Actor("coord", {STOP2.id: "coordinator"})
ENROLLER = Actor("enroller", {STOP2.id: "enrolling_oncologist"})
TREATER = Actor("treater", {STOP2.id: "treating_oncologist"})
STAT = Actor("stat", {STOP2.id: "statistician"})
DSMB = Actor("dsmb", {STOP2.id: "dsmb"})
#: a course that fits each STOP-2 arm's registered regimen
RT_FOR_ARM = {"palliative": {"dose_gy": 8, "fractions": 1, "technique": "conventional"},
              "sabr": {"dose_gy": 35, "fractions": 5, "technique": "SABR"}}


def stratified(ratio=None):
    strat = Stratification(factors=[StratificationFactor(id="site", label="Site", levels=["a", "b"],
                                                         source_text="test"),
                                    StratificationFactor(id="ecog", label="ECOG", levels=["0", "1"],
                                                         source_text="test")],
                           registry_names_none=False, note="test design")
    upd = {"stratification": strat}
    if ratio:
        upd["allocation_ratio"] = ratio
    return STOP2.model_copy(update=upd)


def record(n):
    return {**RECORD, "id": f"P-{n:04d}"}


def enrolled(ctx, n, actor=COORD, trial=STOP2.id):
    p = enrolment.register(ctx, actor, trial, record(n))
    enrolment.screen(ctx, actor, trial, p["id"])
    enrolment.consent(ctx, actor, trial, p["id"], {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, actor, trial, p["id"])
    return p["id"]


def test_workflow_walks_register_to_follow_up_and_stores_verdict_with_protocol_version():
    ctx, store, screener = make_ctx("eligible")
    randomization.generate_list(ctx, STOP2.id, seed=1, size_per_stratum=20)
    pid = enrolled(ctx, 1)
    p = store["db"].participants[pid]
    assert p.screening["verdict"] == "eligible" and p.screening["protocol_version"] == STOP2.version
    assert screener.calls == [("P-0001", STOP2.id, False)]
    out = randomization.randomize(ctx, COORD, STOP2.id, pid, {})
    assert out["arm"] in {"palliative", "sabr"}
    enrolment.record_radiotherapy(ctx, TREATER, STOP2.id, pid, {"start": "2026-03-10", "end": "2026-03-14"
                                                                if out["arm"] == "sabr" else "2026-03-10",
                                                                **RT_FOR_ARM[out["arm"]]})
    visits = committed(store).participants.visits(pid)
    assert {v["code"] for v in visits} >= {"rt_toxicity_4w", "followup_m3"}
    tox = next(v for v in visits if v["code"] == "rt_toxicity_4w")
    assert tox["target"] == "2026-04-07"
    store["clock"][0] = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)  # follow-up is entered as it happens
    enrolment.record_visit(ctx, COORD, STOP2.id, pid, "rt_toxicity_4w", {"date": "2026-04-06"})
    with pytest.raises(RecordError) as e:
        enrolment.record_visit(ctx, COORD, STOP2.id, pid, "followup_m3", {"date": "2026-12-01"})
    assert e.value.field == "out_of_window_reason"
    enrolment.add_entry(ctx, COORD, STOP2.id, pid, "adverse_event", {"date": "2026-04-06", "term": "Fatigue", "grade": 2})
    enrolment.add_entry(ctx, COORD, STOP2.id, pid, "qol", {"date": "2026-04-06", "instrument": "EQ-5D-5L",
                                                          "responses": {"mobility": 1}})
    enrolment.add_entry(ctx, COORD, STOP2.id, pid, "event", {"date": "2026-09-01", "kind": "death"})
    assert store["db"].participants[pid].state == "deceased"
    with pytest.raises(RecordError) as e:  # a questionnaire after death is impossible
        enrolment.add_entry(ctx, COORD, STOP2.id, pid, "qol", {"date": "2026-10-01", "instrument": "EQ-5D-5L",
                                                              "responses": {"mobility": 1}})
    assert e.value.field == "date"
    assert audit.verify(ctx).ok


def test_randomizing_someone_not_enrolled_is_refused_and_nothing_is_stored():
    ctx, store, _ = make_ctx()
    randomization.generate_list(ctx, STOP2.id, seed=1, size_per_stratum=10)
    p = enrolment.register(ctx, COORD, STOP2.id, record(2))
    commits = store["commits"]
    with pytest.raises(WorkflowError) as e:
        randomization.randomize(ctx, COORD, STOP2.id, p["id"], {})
    assert e.value.code == "illegal_step" and store["commits"] == commits
    assert not store["db"].allocs


def test_ineligible_needs_a_documented_override():
    ctx, store, _ = make_ctx("ineligible")
    p = enrolment.register(ctx, COORD, STOP2.id, record(3))
    enrolment.screen(ctx, COORD, STOP2.id, p["id"])
    enrolment.consent(ctx, COORD, STOP2.id, p["id"], {"date": "2026-03-01", "form_version": "v2"})
    with pytest.raises(WorkflowError) as e:
        enrolment.enrol(ctx, COORD, STOP2.id, p["id"])
    assert e.value.field == "override.reason"
    out = enrolment.enrol(ctx, COORD, STOP2.id, p["id"], {"override": {"reason": "PI review: lesion 7 confirmed"}})
    assert out["enrolment"]["override"]["by"] == "coord"
    assert store["db"].audit[-1]["reason"] == "PI review: lesion 7 confirmed"


def test_bad_record_is_refused_with_the_field_and_nothing_stored():
    ctx, store, _ = make_ctx()
    with pytest.raises(RecordError) as e:
        enrolment.register(ctx, COORD, STOP2.id, {**RECORD, "birth_date": "not-a-date"})
    assert any("birth_date" in err["path"] for err in e.value.errors)
    assert not store["db"].participants and not store["db"].audit


def test_stratified_blocks_any_ratio_and_frozen_strata():
    proto = stratified({"palliative": 2, "sabr": 1})
    ctx, store, _ = make_ctx(protocols={STOP2.id: proto})
    out = randomization.generate_list(ctx, STOP2.id, seed=42, size_per_stratum=30)
    assert out["strata"] == 4 and len(out["commitment"]) == 64
    seen = Counter()
    for n in range(24):
        pid = enrolled(ctx, n)
        strata = {"site": "ab"[n % 2], "ecog": "0"}
        r = randomization.randomize(ctx, COORD, STOP2.id, pid, strata)
        seen[r["arm"]] += 1
        assert store["db"].allocs[pid].strata == strata
    # 12 per stratum in blocks of 3/6/9: each stratum holds whole blocks only at block ends
    assert seen["palliative"] + seen["sabr"] == 24
    assert randomization.verify_commitment(ctx, STOP2.id)
    with pytest.raises(RandomizationError) as e:
        randomization.randomize(ctx, COORD, STOP2.id, enrolled(ctx, 99), {"site": "z", "ecog": "0"})
    assert e.value.field == "strata.site"


def test_list_is_never_replaced_and_exhaustion_is_reported():
    ctx, store, _ = make_ctx()
    randomization.generate_list(ctx, STOP2.id, seed=1, size_per_stratum=2, block_multiples=(1,))
    with pytest.raises(RandomizationError) as e:
        randomization.generate_list(ctx, STOP2.id, seed=2)
    assert e.value.code == "list_exists"
    for n in range(2):
        randomization.randomize(ctx, COORD, STOP2.id, enrolled(ctx, n), {})
    late = enrolled(ctx, 5)
    entries = len(store["db"].audit)
    with pytest.raises(RandomizationError) as e:
        randomization.randomize(ctx, COORD, STOP2.id, late, {})
    assert e.value.code == "list_exhausted"
    # nothing written: still enrolled, no allocation, no audit entry
    assert store["db"].participants[late].state == "enrolled" and late not in store["db"].allocs
    assert len(store["db"].audit) == entries


def test_the_arm_of_either_kind_of_allocation_opens_with_its_own_binding():
    """A list allocation holds its slot's ciphertext (bound to the slot); a minimization
    allocation its own (bound to the participant); each opens with exactly its binding."""
    ctx, store, _ = make_ctx()
    randomization.generate_list(ctx, STOP2.id, seed=1, size_per_stratum=4)
    pid = enrolled(ctx, 1)
    arm = randomization.randomize(ctx, COORD, STOP2.id, pid, {})["arm"]
    a = store["db"].allocs[pid]
    assert a.arm_ct == store["db"].slot_rows[(a.list_id, a.stratum, a.seq)].payload_ct
    assert randomization.arm_of(ctx, STOP2.id, pid) == arm
    proto = stratified()
    ctx2, store2, _ = make_ctx(protocols={STOP2.id: proto})
    randomization.generate_list(ctx2, STOP2.id, method="minimization", seed=3, size_per_stratum=10)
    pid2 = enrolled(ctx2, 2)
    arm2 = randomization.randomize(ctx2, COORD, STOP2.id, pid2, {"site": "a", "ecog": "0"})["arm"]
    assert randomization.arm_of(ctx2, STOP2.id, pid2) == arm2
    a2 = store2["db"].allocs[pid2]
    a2.arm_ct = ctx2.cipher.encrypt(arm2, f"alloc|{STOP2.id}|P-other")  # bound to someone else: opens with neither
    with pytest.raises(BlindingError):
        randomization.arm_of(ctx2, STOP2.id, pid2)


def test_minimization_service_allocates_from_the_committed_draws():
    proto = stratified()
    ctx, _store, _ = make_ctx(protocols={STOP2.id: proto})
    randomization.generate_list(ctx, STOP2.id, method="minimization", seed=3, size_per_stratum=50)
    arms = Counter()
    for n in range(20):
        arms[randomization.randomize(ctx, COORD, STOP2.id, enrolled(ctx, n),
                                     {"site": "ab"[n % 2], "ecog": "01"[n % 3 == 0]})["arm"]] += 1
    assert abs(arms["palliative"] - arms["sabr"]) <= 4
    assert randomization.verify_commitment(ctx, STOP2.id)


def test_blinded_roles_never_see_the_arm_and_unblinded_do():
    ctx, store, _ = make_ctx()
    randomization.generate_list(ctx, STOP2.id, seed=9, size_per_stratum=10)
    pid = enrolled(ctx, 1, ENROLLER)
    r = randomization.randomize(ctx, ENROLLER, STOP2.id, pid, {})
    arm_ids = [a.id for a in STOP2.arms]
    labels = [a.label for a in STOP2.arms]
    assert find_arm_information(r, arm_ids, labels) == []
    arm = randomization.arm_of(ctx, STOP2.id, pid)
    enrolment.record_radiotherapy(ctx, TREATER, STOP2.id, pid, {"start": "2026-03-10",
                                                                "end": "2026-03-14" if arm == "sabr" else "2026-03-10",
                                                                **RT_FOR_ARM[arm], "dose_gy": 35 if arm == "sabr" else 8})
    for actor in (ENROLLER, STAT):
        for view in (enrolment.get_participant(ctx, actor, STOP2.id, pid), enrolment.summary(ctx, actor, STOP2.id)):
            assert find_arm_information(view, arm_ids, labels) == [], actor
            assert "35" not in json.dumps(view.get("radiotherapy")), actor
    with pytest.raises(BlindingError):
        audit.trail(ctx, ENROLLER, STOP2.id)
    assert find_arm_information(audit.trail(ctx, STAT, STOP2.id), arm_ids, labels) == []
    assert enrolment.get_participant(ctx, COORD, STOP2.id, pid)["allocation"]["arm"] in arm_ids
    assert sum(enrolment.summary(ctx, DSMB, STOP2.id)["by_arm"].values()) == 1
    # nothing in the audit trail names the arm, whoever reads it
    assert find_arm_information([{k: e[k] for k in ("new", "old")} for e in store["db"].audit
                                 if e["action"] != "radiotherapy.record"], arm_ids, labels) == []


def test_emergency_unblinding_needs_reason_and_reauthentication_and_raises_an_event():
    ctx, store, _ = make_ctx()
    users.add_user(ctx, "enroller", "correct-horse", "enrolling_oncologist", STOP2.id)
    users.add_user(ctx, "stat", "correct-horse", "statistician", STOP2.id)
    randomization.generate_list(ctx, STOP2.id, seed=9, size_per_stratum=10)
    pid = enrolled(ctx, 1, COORD)
    randomization.randomize(ctx, COORD, STOP2.id, pid, {})
    with pytest.raises(BlindingError) as e:
        unblinding.emergency_unblind(ctx, ENROLLER, STOP2.id, pid, reason="short", password="correct-horse")
    assert e.value.field == "reason"
    with pytest.raises(BlindingError) as e:
        unblinding.emergency_unblind(ctx, ENROLLER, STOP2.id, pid, reason="anaphylaxis, need the arm",
                                     password="wrong")
    assert e.value.code == "reauthentication_failed"
    with pytest.raises(BlindingError) as e:
        unblinding.emergency_unblind(ctx, STAT, STOP2.id, pid, reason="anaphylaxis, need the arm",
                                     password="correct-horse")
    assert e.value.code == "forbidden"
    assert not store["db"].notes
    out = unblinding.emergency_unblind(ctx, ENROLLER, STOP2.id, pid, reason="anaphylaxis, need the arm",
                                       password="correct-horse")
    assert out["arm"] in {"palliative", "sabr"}
    assert store["db"].notes[0]["kind"] == "emergency_unblinding"
    assert any(e["kind"] == "unblinding" and e["data"]["by"] == ENROLLER.username for e in store["db"].entry_rows)
    last = store["db"].audit[-1]
    assert last["action"] == "participant.unblind" and last["reason"] and "arm" not in json.dumps(last["new"])


def test_changes_to_saved_data_need_a_reason_and_keep_old_and_new():
    ctx, store, _ = make_ctx()
    p = enrolment.register(ctx, COORD, STOP2.id, record(1))
    with pytest.raises(RecordError) as e:
        enrolment.correct_record(ctx, COORD, STOP2.id, p["id"], {"record": record(1), "reason": ""})
    assert e.value.field == "reason"
    changed = {**record(1), "sex": "male"}
    enrolment.correct_record(ctx, COORD, STOP2.id, p["id"], {"record": changed, "reason": "transcription error"})
    last = store["db"].audit[-1]
    assert last["old"]["record"]["sex"] == "female" and last["new"]["record"]["sex"] == "male"
    with pytest.raises(AuditError), ctx.uow() as uow:
        audit.record(uow, ctx, COORD, trial=STOP2.id, action="x", entity_type="p", entity_id="1",
                     old={"a": 1}, new={"a": 2})


def test_roles_are_checked_on_every_use_case():
    ctx, _, _ = make_ctx()
    outsider = Actor("x", {"NCT00000000": "coordinator"})
    with pytest.raises(BlindingError):
        enrolment.register(ctx, outsider, STOP2.id, record(1))
    with pytest.raises(BlindingError):
        enrolment.register(ctx, STAT, STOP2.id, record(1))
    with pytest.raises(BlindingError):
        audit.verify(ctx, STAT)


def test_users_are_stored_with_a_hash_and_authenticate():
    ctx, store, _ = make_ctx()
    u = users.add_user(ctx, "alice", "s3cret-pass", "coordinator", "STOP-2")
    assert store["db"].users[u.id].password_hash != "s3cret-pass"
    assert users.authenticate(ctx, "alice", "s3cret-pass").username == "alice"
    with pytest.raises(BlindingError):
        users.authenticate(ctx, "alice", "nope")
    for kwargs, field in [({"role": "king"}, "role"), ({"password": "short"}, "password"),
                          ({"username": "bad name!"}, "username")]:
        args = {"username": "bob", "password": "long-enough", "role": "coordinator", "trial": "STOP-2", **kwargs}
        with pytest.raises(Exception) as e:
            users.add_user(ctx, **args)
        assert e.value.field == field


def test_a_list_without_a_size_for_a_trial_that_plans_no_enrolment_is_refused_naming_the_field():
    """The list's size per stratum defaults to the protocol's planned enrolment; a protocol that
    states none gets a clear refusal (it was a TypeError from int(None)), and no list is stored."""
    proto = STOP2.model_copy(update={"planned_enrolment": None})
    ctx, store, _ = make_ctx(protocols={STOP2.id: proto})
    with pytest.raises(RandomizationError) as e:
        randomization.generate_list(ctx, STOP2.id, seed=1)
    assert e.value.field == "size_per_stratum" and "planned enrolment" in e.value.message
    assert committed(store).allocation.get_list(STOP2.id) is None
    assert randomization.generate_list(ctx, STOP2.id, seed=1, size_per_stratum=4)  # a size given: a list
