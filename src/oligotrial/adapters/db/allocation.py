"""Randomization lists, slots and allocations in SQL (the allocation aggregate), with the
PostgreSQL one-statement randomization (:mod:`.pg_hotpath`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert, select, update

from oligotrial.adapters.db import pg_hotpath as pg
from oligotrial.adapters.db import tables as t
from oligotrial.adapters.db.audit_log import SqlAuditRepository
from oligotrial.adapters.db.participants import SqlParticipantRepository
from oligotrial.adapters.db.session import SqlSession
from oligotrial.domain.trial.audit import allocation_template, canonical_template
from oligotrial.domain.trial.workflow import Participant
from oligotrial.errors import StorageError
from oligotrial.service.ports import (
    Allocation,
    EncSlot,
    RandomizationList,
    SlotOutcome,
    SlotRequest,
    allocate_step_by_step,
)

_GET_LIST = select(t.randomization_lists).where(t.randomization_lists.c.trial == bindparam("trial"))
_GET_LIST_FOR_UPDATE = _GET_LIST.with_for_update()
_ADD_ALLOCATION = insert(t.allocations)


def _list(m: Any) -> RandomizationList:
    return RandomizationList(
        m["id"],
        m["trial"],
        m["method"],
        m["seed_ct"],
        m["params"],
        m["commitment"],
        m["created_at"],
        m["created_by"],
        m["size_per_stratum"],
    )


def _slot(row: Any) -> EncSlot:
    m = row._mapping
    return EncSlot(
        m["stratum"], m["seq"], m["block"], m["block_size"], m["payload_ct"], m["participant_id"], m["allocated_at"]
    )


class SqlAllocationRepository:
    """:class:`~oligotrial.service.ports.AllocationRepository` on the unit of work's connection.
    Without PostgreSQL's one statement, a randomization goes step by step through the unit of
    work's participant and audit repositories too."""

    #: a randomization releases its hot rows before its commit is flushed and waits for the
    #: flush after (see :meth:`SqlSession.allocate_round_trip`); False: synchronous commit under
    #: the locks (``benchmarks/bench_randomize.py --durability sync`` measures the difference)
    release_before_flush = True

    def __init__(
        self,
        session: SqlSession,
        participants: SqlParticipantRepository,
        audit: SqlAuditRepository,
        lists: dict[str, RandomizationList] | None = None,
    ) -> None:
        self._s = session
        self._participants, self._audit = participants, audit
        self._lists = {} if lists is None else lists  # live lists, shared by a factory's units of work
        self._wrote_list = False

    def lock_for_randomization(self, trial: str, pid: str) -> tuple[Participant | None, RandomizationList | None]:
        """The participant, row-locked until commit, and the trial's live list.

        On PostgreSQL this is one statement, sent with BEGIN in one round trip (pipeline mode).
        The list is read only when the participant exists."""
        if not self._s.pg:
            p = self._participants.get_participant(trial, pid, for_update=True)
            return p, (None if p is None else self.get_list(trial))
        row = self._s.driver_one(pg.LOCK_FOR_RANDOMIZATION, {"pid": pid}, as_dict=True)
        if row is None or row["trial"] != trial:  # another trial's participant (it stays locked to commit)
            return None, None
        pcols, lcols = pg.split_randomization_row(row)
        return Participant(**pcols), (None if lcols is None else _list(lcols))

    def add_list(self, rl: RandomizationList, slots: list[EncSlot]) -> RandomizationList:
        self._wrote_list = True  # not committed yet: not to be cached by this unit of work
        rl.id = self._s.exec(
            insert(t.randomization_lists)
            .values(
                trial=rl.trial,
                method=rl.method,
                seed_ct=rl.seed_ct,
                params=rl.params,
                commitment=rl.commitment,
                size_per_stratum=rl.size_per_stratum,
                created_at=rl.created_at,
                created_by=rl.created_by,
            )
            .returning(t.randomization_lists.c.id)
        ).scalar_one()
        strata = sorted({s.stratum for s in slots})
        self._s.exec(insert(t.randomization_strata), [{"list_id": rl.id, "stratum": s, "next_seq": 1} for s in strata])
        self._s.exec(
            insert(t.randomization_slots),
            [
                {
                    "list_id": rl.id,
                    "stratum": s.stratum,
                    "seq": s.seq,
                    "block": s.block,
                    "block_size": s.block_size,
                    "payload_ct": s.payload_ct,
                }
                for s in slots
            ],
        )
        return rl

    def get_list(self, trial: str, *, for_update: bool = False) -> RandomizationList | None:
        row = self._s.exec(_GET_LIST_FOR_UPDATE if for_update else _GET_LIST, {"trial": trial}).first()
        return None if row is None else _list(row._mapping)

    def live_list(self, trial: str) -> RandomizationList | None:
        cached = self._lists.get(trial)
        if cached is not None:
            return cached
        rl = self.get_list(trial)
        if rl is not None and not self._wrote_list:  # committed: lists are never replaced
            self._lists[trial] = rl
        return rl

    def lock_stratum(self, list_id: int, stratum: str) -> int | None:
        row = self._s.exec(
            select(t.randomization_strata.c.next_seq)
            .where(t.randomization_strata.c.list_id == list_id, t.randomization_strata.c.stratum == stratum)
            .with_for_update()
        ).first()
        return None if row is None else row.next_seq

    def get_slot(self, list_id: int, stratum: str, seq: int) -> EncSlot | None:
        row = self._s.exec(
            select(t.randomization_slots).where(
                t.randomization_slots.c.list_id == list_id,
                t.randomization_slots.c.stratum == stratum,
                t.randomization_slots.c.seq == seq,
            )
        ).first()
        return None if row is None else _slot(row)

    def take_slot(self, list_id: int, stratum: str, seq: int, participant_id: str, at: str) -> None:
        s = t.randomization_slots
        n = self._s.exec(
            update(s)
            .where(s.c.list_id == list_id, s.c.stratum == stratum, s.c.seq == seq, s.c.participant_id.is_(None))
            .values(participant_id=participant_id, allocated_at=at)
        ).rowcount
        c = t.randomization_strata
        m = self._s.exec(
            update(c)
            .where(c.c.list_id == list_id, c.c.stratum == stratum, c.c.next_seq == seq)
            .values(next_seq=seq + 1)
        ).rowcount
        if n != 1 or m != 1:
            raise StorageError(
                f"randomization slot {stratum}#{seq}: already taken; the allocation was not made", code="slot_conflict"
            )

    def claim_slot(self, list_id: int, stratum: str, participant_id: str, at: str) -> tuple[int, str] | None:
        if self._s.pg:  # one statement: see pg_hotpath
            got = self._s.driver_one(
                pg.CLAIM_SLOT, {"list_id": list_id, "stratum": stratum, "participant_id": participant_id, "at": at}
            )
            return None if got is None else (got[0], got[1])
        # UPDATE ... RETURNING takes the cursor's row lock (held to commit) in one round trip
        c = t.randomization_strata
        row = self._s.exec(
            update(c)
            .where(c.c.list_id == list_id, c.c.stratum == stratum)
            .values(next_seq=c.c.next_seq + 1)
            .returning(c.c.next_seq)
        ).first()
        if row is None:
            return None
        seq = row.next_seq - 1
        s = t.randomization_slots
        got = self._s.exec(
            update(s)
            .where(s.c.list_id == list_id, s.c.stratum == stratum, s.c.seq == seq, s.c.participant_id.is_(None))
            .values(participant_id=participant_id, allocated_at=at)
            .returning(s.c.payload_ct)
        ).first()
        return None if got is None else (seq, got.payload_ct)

    def slots(self, list_id: int) -> list[EncSlot]:
        s = t.randomization_slots
        return [_slot(r) for r in self._s.exec(select(s).where(s.c.list_id == list_id).order_by(s.c.stratum, s.c.seq))]

    def allocate_and_commit(self, req: SlotRequest) -> SlotOutcome:
        if not self._s.pg:  # BEGIN IMMEDIATE already holds SQLite's write lock
            return allocate_step_by_step(self._participants, self, self._audit, req)
        # one statement with BEGIN and COMMIT: see pg_hotpath.ALLOCATE
        canonical_template(req.entry, req.marker)  # the marker named exactly once, as step by step
        ct_marker = "c" + req.marker
        row_template = allocation_template(
            {
                "participant_id": req.participant_id,
                "trial": req.trial,
                "list_id": req.list_id,
                "stratum": req.stratum,
                "seq": 0,
                "strata": req.strata,
                "arm_ct": ct_marker,
                "allocated_at": req.at,
                "allocated_by": req.by,
            },
            ct_marker,
        )
        sql, params = pg.allocate_sql(tuple(req.changes)), pg.allocate_params(req, row_template)
        row = (
            self._s.allocate_round_trip(sql, params)
            if self.release_before_flush
            else self._s.driver_one(sql, params, commit=True)
        )
        if row is not None and row[1] is not None:
            self._s.appended += 1
        return SlotOutcome(None) if row is None else SlotOutcome(row[0], row[1], row[2])

    def add_allocation(self, a: Allocation) -> None:
        if self._s.pg:  # nothing reads it before commit: sent with COMMIT
            self._s.deferred.append((pg.ADD_ALLOCATION, pg.allocation_params(dict(a.__dict__))))
        else:
            self._s.exec(_ADD_ALLOCATION, dict(a.__dict__))

    def get_allocation(self, participant_id: str) -> Allocation | None:
        row = self._s.exec(select(t.allocations).where(t.allocations.c.participant_id == participant_id)).first()
        return None if row is None else Allocation(**dict(row._mapping))

    def allocations(self, trial: str) -> list[Allocation]:
        return [
            Allocation(**dict(r._mapping))
            for r in self._s.exec(
                select(t.allocations).where(t.allocations.c.trial == trial).order_by(t.allocations.c.allocated_at)
            )
        ]

    def all_allocations(self) -> list[Allocation]:
        """Every allocation of every trial (the audit chain covers them all)."""
        return [
            Allocation(**dict(r._mapping))
            for r in self._s.exec(
                select(t.allocations).order_by(t.allocations.c.allocated_at, t.allocations.c.participant_id)
            )
        ]
