"""Attack: the database's owner swaps two participants' allocations (issue 19 item 2). On main
before issue 19 one UPDATE swapped two participants' arms and both ``audit verify`` and
``randomization verify`` passed. Now each allocation's row digest is bound to the keyed audit
entry that recorded it, and ``randomization verify`` holds every allocation against the list."""

from __future__ import annotations

import pytest

from oligotrial.service import audit, randomization
from oligotrial.service.randomization import allocation_arm
from owner_db import activity, allocation_bind, allocation_row, as_owner, enrolled, recompute, rows, service_on

BACKENDS = ["sqlite", "postgres"]
TRIAL = "NCT06918951"


def _two_arms(allocated):
    a = next(p for p, arm in allocated if arm == allocated[0][1])
    b = next(p for p, arm in allocated if arm != allocated[0][1])
    return a, b


def _arms(c, *pids):
    with c.ctx.uow() as uow:
        return [allocation_arm(c.ctx, uow.allocation.get_allocation(p)) for p in pids]


def _swap_allocations(c, a: str, b: str, spare: str) -> None:
    """Swap which participant each allocation row belongs to (one transaction; the primary key
    passes through a participant who has none)."""
    as_owner(c, "UPDATE allocations SET participant_id = :spare WHERE participant_id = :a",
             "UPDATE allocations SET participant_id = :a WHERE participant_id = :b",
             "UPDATE allocations SET participant_id = :b WHERE participant_id = :spare",
             params={"a": a, "b": b, "spare": spare})


@pytest.mark.parametrize("backend", BACKENDS)
def test_swapped_allocations_fail_both_verifications(backend, tmp_path):
    with service_on(backend, tmp_path) as c:
        allocated = activity(c.ctx, n=6)
        a, b = _two_arms(allocated)
        spare = enrolled(c.ctx, 50)
        before = _arms(c, a, b)
        assert audit.verify(c.ctx).ok and randomization.verify_list(c.ctx, TRIAL)["ok"]
        _swap_allocations(c, a, b, spare)
        assert _arms(c, a, b) == before[::-1]  # the attack worked: the two arms are swapped
        rep = audit.verify(c.ctx)
        assert not rep.ok and len(rep.allocation_problems) == 2, rep.to_dict()
        assert all("differs from the row its audit entry recorded" in p for p in rep.allocation_problems)
        listed = randomization.verify_list(c.ctx, TRIAL)
        assert not listed["ok"] and listed["commitment_matches"], listed
        assert any(a in p for p in listed["problems"]) and any(b in p for p in listed["problems"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_deleted_or_altered_allocation_is_detected(backend, tmp_path):
    with service_on(backend, tmp_path) as c:
        (a, _), (b, _) = activity(c.ctx, n=2)
        as_owner(c, "DELETE FROM allocations WHERE participant_id = :a",
                 "UPDATE allocations SET allocated_by = 'mallory' WHERE participant_id = :b", params={"a": a, "b": b})
        problems = audit.verify(c.ctx).allocation_problems
        assert any(a in p and "missing from the table" in p for p in problems), problems
        assert any(b in p and "differs" in p for p in problems), problems
        assert not randomization.verify_list(c.ctx, TRIAL)["ok"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_consistent_swap_with_the_chain_relinked_is_caught_by_the_checkpoint(backend, tmp_path):
    """The owner's best: swap the allocations and the slots alike, recompute both entries'
    bindings and relink the chain (the keyed digests stay valid: the entries' content is
    unchanged). Only a checkpoint signed after the allocations catches it (docs/threat-model.md)."""
    with service_on(backend, tmp_path) as c:
        allocated = activity(c.ctx, n=6)
        a, b = _two_arms(allocated)
        spare = enrolled(c.ctx, 50)
        audit.checkpoint(c.ctx)
        _swap_allocations(c, a, b, spare)
        as_owner(c, "UPDATE randomization_slots SET participant_id = :spare WHERE participant_id = :a",
                 "UPDATE randomization_slots SET participant_id = :a WHERE participant_id = :b",
                 "UPDATE randomization_slots SET participant_id = :b WHERE participant_id = :spare",
                 params={"a": a, "b": b, "spare": spare})
        entry = {r["entity_id"]: r["seq"] for r in rows(c) if r["action"] == "participant.randomize"}
        recompute(c, keyed=True, binds={entry[p]: allocation_bind(allocation_row(c, p)) for p in (a, b)})
        assert randomization.verify_list(c.ctx, TRIAL)["ok"]  # consistent with the list now
        rep = audit.verify(c.ctx)
        assert not rep.ok and rep.checkpoint_problems and not rep.allocation_problems, rep.to_dict()
