"""The storage port is one small repository per aggregate (issue 27 item 4): each Protocol stays
small, the unit of work exposes the five of them and nothing else (no ``repo``), and the SQL
adapter and the in-memory fakes implement every method of each with the port's signature."""

from __future__ import annotations

import inspect

import pytest

from oligotrial.adapters.db.allocation import SqlAllocationRepository
from oligotrial.adapters.db.audit_log import SqlAuditRepository
from oligotrial.adapters.db.participants import SqlParticipantRepository
from oligotrial.adapters.db.queries import SqlQueryRepository
from oligotrial.adapters.db.users import SqlUserRepository
from oligotrial.domain.trial.workflow import Participant
from oligotrial.service import ports
from service_fakes import (
    FakeAllocation,
    FakeAudit,
    FakeDb,
    FakeParticipants,
    FakeQueries,
    FakeUnitOfWork,
    FakeUsers,
)

AGGREGATES = {
    "participants": (ports.ParticipantRepository, SqlParticipantRepository, FakeParticipants),
    "allocation": (ports.AllocationRepository, SqlAllocationRepository, FakeAllocation),
    "audit": (ports.AuditRepository, SqlAuditRepository, FakeAudit),
    "users": (ports.UserRepository, SqlUserRepository, FakeUsers),
    "queries": (ports.QueryRepository, SqlQueryRepository, FakeQueries),
}
MOST_METHODS = 16  # "at most ~15 each": participants carry their visits, entries and notifications


def _methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(fn)
        for name, fn in vars(cls).items()
        if callable(fn) and not name.startswith("_") and name not in ("__init__",)
    }


def test_the_port_has_no_catch_all_repository():
    assert not hasattr(ports, "Repository")
    members = {name for name in vars(ports.UnitOfWork) if not name.startswith("_")}
    assert members == {*AGGREGATES, "commit", "rollback"}


@pytest.mark.parametrize("aggregate", sorted(AGGREGATES))
def test_each_repository_is_small(aggregate):
    protocol, _, _ = AGGREGATES[aggregate]
    assert 0 < len(_methods(protocol)) <= MOST_METHODS, sorted(_methods(protocol))


@pytest.mark.parametrize("aggregate", sorted(AGGREGATES))
def test_the_sql_adapter_and_the_fake_implement_the_port(aggregate):
    protocol, sql, fake = AGGREGATES[aggregate]
    wanted = _methods(protocol)
    for impl in (sql, fake):
        have = _methods(impl)
        assert set(wanted) <= set(have), (impl.__name__, sorted(set(wanted) - set(have)))
        for name, sig in wanted.items():
            params = [(p.name, p.kind) for p in sig.parameters.values()]
            got = [(p.name, p.kind) for p in have[name].parameters.values()]
            assert got == params, (impl.__name__, name, got, params)
    assert len(_methods(fake)) <= MOST_METHODS + 1  # a fake is as small as its port (one private view aside)


def test_a_fake_unit_of_work_exposes_one_repository_per_aggregate_and_no_repo():
    store = {"db": FakeDb(), "commits": 0}
    with FakeUnitOfWork(store) as uow:
        for aggregate, (_, _, fake) in AGGREGATES.items():
            assert isinstance(getattr(uow, aggregate), fake)
        assert not hasattr(uow, "repo")
        # the repositories share the unit of work's state: a participant written through one
        # is read through the allocation repository's randomization lock
        uow.participants.add_participant(Participant("P1", "T", "X-1", {}, state="enrolled"))
        assert uow.allocation.lock_for_randomization("T", "P1")[0].id == "P1"
    assert store["db"].participants == {}  # left without commit: nothing stored
