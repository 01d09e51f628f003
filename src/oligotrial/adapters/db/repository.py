"""The SQL repository and unit of work (SQLAlchemy Core), one transaction per unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.rows import dict_row, tuple_row
from sqlalchemy import Engine, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError

from oligotrial.adapters.db import pg_hotpath as pg
from oligotrial.adapters.db import tables as t
from oligotrial.domain.trial.audit import allocation_template, canonical_template, entry_version, link_v2
from oligotrial.domain.trial.workflow import Participant
from oligotrial.errors import OligotrialError, StorageError
from oligotrial.service.ports import (
    Allocation,
    EncSlot,
    RandomizationList,
    SlotOutcome,
    SlotRequest,
    User,
    allocate_step_by_step,
)

_P_FIELDS = (
    "id",
    "trial",
    "external_id",
    "state",
    "record",
    "screening",
    "consent",
    "enrolment",
    "radiotherapy",
    "randomized_on",
    "created_at",
    "version",
    "site",
    "closure",
)
_P_MUTABLE = tuple(k for k in _P_FIELDS if k not in ("id", "trial", "created_at", "site"))

# Statements on the hot paths, built once: building a Core statement with literal values costs
# more client CPU than executing it (its cache key is recomputed from every value each time).
# by primary key alone (ids are unique across trials; the trial is checked on the row): with
# ``trial = ...`` beside it, a planner without statistics on a freshly loaded table read every
# participant of the trial through the (trial, external_id) index
_GET_PARTICIPANT = select(t.participants).where(t.participants.c.id == bindparam("pid"))
_GET_PARTICIPANT_FOR_UPDATE = _GET_PARTICIPANT.with_for_update()
_GET_PARTICIPANT_SITE = select(t.participants.c.trial, t.participants.c.site).where(
    t.participants.c.id == bindparam("pid")
)
_SAVE_PARTICIPANT = update(t.participants).where(t.participants.c.id == bindparam("_id"))
_GET_LIST = select(t.randomization_lists).where(t.randomization_lists.c.trial == bindparam("trial"))
_GET_LIST_FOR_UPDATE = _GET_LIST.with_for_update()
_ADD_ALLOCATION = insert(t.allocations)


def _entry(r: Any) -> dict[str, Any]:
    """A follow-up entry as the services see it: its metadata and its data, kept apart."""
    return {
        "id": r.id,
        "kind": r.kind,
        "at": r.at,
        "by": r.by,
        "status": r.status,
        "version": r.version,
        "updated_at": r.updated_at,
        "updated_by": r.updated_by,
        "reason": r.reason,
        "data": r.data,
    }


def _participant(row: Any) -> Participant:
    m = row._mapping
    return Participant(**{k: m[k] for k in _P_FIELDS})


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


class SqlRepository:
    """On PostgreSQL the writes whose result nothing reads before commit (an allocation row, the
    audit append) are held back and sent with COMMIT, in one round trip (pipeline mode), so the
    audit-chain head is locked for that round trip only. Any other statement sends them first,
    so reads always see them; a unit of work left without commit never sends them."""

    #: a randomization releases its hot rows before its commit is flushed and waits for the
    #: flush after (see :meth:`_allocate_round_trip`); False: synchronous commit under the locks
    #: (``benchmarks/bench_randomize.py --durability sync`` measures the difference)
    release_before_flush = True

    def __init__(self, conn: Connection, lists: dict[str, RandomizationList] | None = None) -> None:
        self.conn = conn
        self._pg = conn.dialect.name == "postgresql"
        self._lists = {} if lists is None else lists  # live lists, shared by a factory's units of work
        self._wrote_list = False
        self._deferred: list[tuple[str, dict[str, Any]]] = []  # (driver SQL, parameters)
        self.appended = 0  # audit entries appended in this unit of work (for periodic checkpoints)

    def _exec(self, statement: Any, params: Any = None) -> Any:
        if self._deferred:
            self.flush()
        return self.conn.execute(statement) if params is None else self.conn.execute(statement, params)

    def flush(self) -> None:
        """Send the held-back writes now, in order."""
        deferred, self._deferred = self._deferred, []
        for sql, params in deferred:
            self.conn.exec_driver_sql(sql, params)

    def commit_deferred(self) -> bool:
        """Send the held-back writes and COMMIT in one round trip; False when there were none
        (the caller commits as usual). After this the driver has no transaction open, so the
        caller's own commit sends nothing."""
        deferred, self._deferred = self._deferred, []
        if not deferred:
            return False
        driver = self.conn.connection.driver_connection
        try:
            if psycopg.Pipeline.is_supported():
                with driver.pipeline():
                    for sql, params in deferred:
                        driver.execute(sql, params)
                    driver.commit()
            else:  # libpq < 14: one round trip per statement
                for sql, params in deferred:
                    driver.execute(sql, params)
                driver.commit()
        except psycopg.Error as exc:  # raised by the driver itself, not through SQLAlchemy
            raise _wrap(exc) from None
        return True

    # users -------------------------------------------------------------------------------
    def add_user(self, user: User) -> User:
        from oligotrial.service.ports import utc_now

        res = self._exec(
            insert(t.users)
            .values(
                username=user.username,
                password_hash=user.password_hash,
                active=user.active,
                created_at=utc_now().isoformat(),
            )
            .returning(t.users.c.id)
        )
        user.id = res.scalar_one()
        return user

    def _user(self, row: Any) -> User | None:
        if row is None:
            return None
        grants = self._exec(select(t.user_roles).where(t.user_roles.c.user_id == row.id)).all()
        return User(
            row.id,
            row.username,
            row.password_hash,
            row.active,
            {r.trial: r.role for r in grants},
            {r.trial: r.site for r in grants if r.site is not None},
        )

    def get_user_by_name(self, username: str) -> User | None:
        return self._user(self._exec(select(t.users).where(t.users.c.username == username)).first())

    def get_user(self, user_id: int) -> User | None:
        return self._user(self._exec(select(t.users).where(t.users.c.id == user_id)).first())

    def grant(self, user_id: int, trial: str, role: str, site: str | None = None) -> None:
        key = and_(t.user_roles.c.user_id == user_id, t.user_roles.c.trial == trial)
        if self._exec(select(t.user_roles).where(key)).first():
            self._exec(update(t.user_roles).where(key).values(role=role, site=site))
        else:
            self._exec(insert(t.user_roles).values(user_id=user_id, trial=trial, role=role, site=site))

    # user administration (service.users) ------------------------------------------------
    def list_users(self) -> list[User]:
        grants: dict[int, list[Any]] = {}
        for r in self._exec(select(t.user_roles)).all():
            grants.setdefault(r.user_id, []).append(r)
        return [
            User(
                u.id,
                u.username,
                u.password_hash,
                u.active,
                {r.trial: r.role for r in grants.get(u.id, [])},
                {r.trial: r.site for r in grants.get(u.id, []) if r.site is not None},
            )
            for u in self._exec(select(t.users).order_by(t.users.c.username)).all()
        ]

    def revoke(self, user_id: int, trial: str) -> None:
        self._exec(t.user_roles.delete().where(and_(t.user_roles.c.user_id == user_id, t.user_roles.c.trial == trial)))

    def set_active(self, user_id: int, active: bool) -> None:
        self._exec(update(t.users).where(t.users.c.id == user_id).values(active=active))

    def set_password(self, user_id: int, password_hash: str) -> None:
        self._exec(update(t.users).where(t.users.c.id == user_id).values(password_hash=password_hash))

    def end_session(self, sid: str, user_id: int, ended_at: str, expires_at: str) -> None:
        # sessions past their expiry need no record: a cookie that old is refused anyway
        self._exec(t.ended_sessions.delete().where(t.ended_sessions.c.expires_at < ended_at))
        if self._exec(select(t.ended_sessions.c.sid).where(t.ended_sessions.c.sid == sid)).first() is None:
            self._exec(
                insert(t.ended_sessions).values(sid=sid, user_id=user_id, ended_at=ended_at, expires_at=expires_at)
            )

    def session_ended(self, sid: str) -> bool:
        return self._exec(select(t.ended_sessions.c.sid).where(t.ended_sessions.c.sid == sid)).first() is not None

    def user_audit(self, limit: int) -> list[dict[str, Any]]:
        q = select(t.audit_log).where(t.audit_log.c.entity_type == "user").order_by(t.audit_log.c.seq.desc())
        return [dict(r._mapping) for r in self._exec(q.limit(limit))]

    # participants ------------------------------------------------------------------------
    def add_participant(self, p: Participant) -> None:
        self._exec(insert(t.participants).values(**{k: getattr(p, k) for k in _P_FIELDS}))

    def get_participant(self, trial: str, pid: str, *, for_update: bool = False) -> Participant | None:
        row = self._exec(_GET_PARTICIPANT_FOR_UPDATE if for_update else _GET_PARTICIPANT, {"pid": pid}).first()
        return None if row is None or row.trial != trial else _participant(row)

    def participant_site(self, trial: str, pid: str) -> tuple[bool, str | None]:
        row = self._exec(_GET_PARTICIPANT_SITE, {"pid": pid}).first()
        return (False, None) if row is None or row.trial != trial else (True, row.site)

    def find_participant(self, trial: str, external_id: str) -> Participant | None:
        row = self._exec(
            select(t.participants).where(t.participants.c.trial == trial, t.participants.c.external_id == external_id)
        ).first()
        return None if row is None else _participant(row)

    def save_participant(self, p: Participant, fields: tuple[str, ...] | None = None) -> None:
        names = _P_MUTABLE if fields is None else fields
        unknown = set(names) - set(_P_MUTABLE)
        if unknown:
            raise ValueError(f"save_participant fields {sorted(unknown)}: expected some of {list(_P_MUTABLE)}")
        self._exec(_SAVE_PARTICIPANT, {"_id": p.id, **{k: getattr(p, k) for k in names}})

    def _driver_one(self, sql: str, params: dict[str, Any], *, as_dict: bool = False, commit: bool = False) -> Any:
        """One row (or None) of a statement sent by the driver itself (PostgreSQL hot paths),
        after the held-back writes, all in one round trip (pipeline mode; with BEGIN when the
        transaction has not started, and with COMMIT when ``commit``). Rows as dicts when
        ``as_dict``."""
        deferred, self._deferred = self._deferred, []
        driver = self.conn.connection.driver_connection
        try:
            with driver.pipeline(), driver.cursor(row_factory=dict_row if as_dict else tuple_row) as cur:
                for d_sql, d_params in deferred:
                    cur.execute(d_sql, d_params)
                cur.execute(sql, params)
                row = cur.fetchone()
                if commit:
                    driver.commit()
                return row
        except psycopg.Error as exc:  # raised by the driver itself, not through SQLAlchemy
            raise _wrap(exc) from None

    def _allocate_round_trip(self, sql: str, params: dict[str, Any]) -> Any:
        """:data:`pg_hotpath.ALLOCATE` with the stratum's and the chain head's locks released
        before the commit's WAL flush, and the call returning only once it is durable.

        With ``synchronous_commit`` on, every allocation holds the two hot rows until its commit
        record is flushed to disk, so allocations serialise on the disk's flush latency. Here
        the allocating transaction commits with ``synchronous_commit = off`` (its locks are
        released as soon as its commit record is written), then a second, synchronous
        transaction that only takes a transaction id commits: its commit waits until the WAL is
        flushed up to its own record, which lies after the allocation's, so when it returns the
        allocation is on disk (and on any synchronous standby). Flushes now overlap across
        clients (group commit) instead of queueing behind the hot rows. What the caller is told
        (the arm) is never lost by a crash; an allocation nobody was told of may be (another
        session could have read it in the moment before the flush), and its slot is then
        simply taken again, in order. Everything goes in one pipeline: BEGIN, the setting, the
        statement, COMMIT, the barrier and its COMMIT, with one wait for the results."""
        deferred, self._deferred = self._deferred, []
        driver = self.conn.connection.driver_connection
        if not deferred and driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            return self._allocate_autocommit(driver, sql, params)
        try:
            with driver.pipeline(), driver.cursor() as cur, driver.cursor() as result:
                for d_sql, d_params in deferred:
                    cur.execute(d_sql, d_params)
                cur.execute("SET LOCAL synchronous_commit TO off")
                result.execute(sql, params)
                driver.commit()  # the hot rows are released here, before the flush
                cur.execute("SELECT txid_current()")  # the durability barrier
                driver.commit()
                return result.fetchone()
        except psycopg.Error as exc:  # raised by the driver itself, not through SQLAlchemy
            raise _wrap(exc) from None

    def _allocate_autocommit(self, driver: Any, sql: str, params: dict[str, Any]) -> Any:
        """:meth:`_allocate_round_trip` when nothing else ran in the unit of work (the usual
        case): the driver leaves transaction control to the statements (autocommit), so the
        pipeline holds four commands instead of seven: BEGIN, the setting and the statement,
        COMMIT, and the barrier as a transaction of its own (synchronous: it commits only once
        the WAL is flushed past the allocation's commit)."""
        driver.autocommit = True
        try:
            with driver.pipeline(), driver.cursor() as cur, driver.cursor() as result:
                cur.execute("BEGIN")
                cur.execute("SET LOCAL synchronous_commit TO off")
                result.execute(sql, params)
                cur.execute("COMMIT")  # the hot rows are released here, before the flush
                cur.execute("SELECT txid_current()")  # the durability barrier
                return result.fetchone()
        except psycopg.Error as exc:
            if driver.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                driver.execute("ROLLBACK")
            raise _wrap(exc) from None
        finally:
            driver.autocommit = False

    def lock_for_randomization(self, trial: str, pid: str) -> tuple[Participant | None, RandomizationList | None]:
        """The participant, row-locked until commit, and the trial's live list.

        On PostgreSQL this is one statement, sent with BEGIN in one round trip (pipeline mode).
        The list is read only when the participant exists."""
        if not self._pg:
            p = self.get_participant(trial, pid, for_update=True)
            return p, (None if p is None else self.get_list(trial))
        row = self._driver_one(pg.LOCK_FOR_RANDOMIZATION, {"pid": pid}, as_dict=True)
        if row is None or row["trial"] != trial:  # another trial's participant (it stays locked to commit)
            return None, None
        pcols, lcols = pg.split_randomization_row(row)
        return Participant(**pcols), (None if lcols is None else _list(lcols))

    def list_participants(self, trial: str) -> list[Participant]:
        rows = self._exec(
            select(t.participants)
            .where(t.participants.c.trial == trial)
            .order_by(t.participants.c.created_at, t.participants.c.id)
        )
        return [_participant(r) for r in rows]

    # randomization -----------------------------------------------------------------------
    def add_list(self, rl: RandomizationList, slots: list[EncSlot]) -> RandomizationList:
        self._wrote_list = True  # not committed yet: not to be cached by this unit of work
        rl.id = self._exec(
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
        self._exec(insert(t.randomization_strata), [{"list_id": rl.id, "stratum": s, "next_seq": 1} for s in strata])
        self._exec(
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
        row = self._exec(_GET_LIST_FOR_UPDATE if for_update else _GET_LIST, {"trial": trial}).first()
        return None if row is None else _list(row._mapping)

    def lock_stratum(self, list_id: int, stratum: str) -> int | None:
        row = self._exec(
            select(t.randomization_strata.c.next_seq)
            .where(t.randomization_strata.c.list_id == list_id, t.randomization_strata.c.stratum == stratum)
            .with_for_update()
        ).first()
        return None if row is None else row.next_seq

    def get_slot(self, list_id: int, stratum: str, seq: int) -> EncSlot | None:
        row = self._exec(
            select(t.randomization_slots).where(
                t.randomization_slots.c.list_id == list_id,
                t.randomization_slots.c.stratum == stratum,
                t.randomization_slots.c.seq == seq,
            )
        ).first()
        return None if row is None else _slot(row)

    def take_slot(self, list_id: int, stratum: str, seq: int, participant_id: str, at: str) -> None:
        s = t.randomization_slots
        n = self._exec(
            update(s)
            .where(s.c.list_id == list_id, s.c.stratum == stratum, s.c.seq == seq, s.c.participant_id.is_(None))
            .values(participant_id=participant_id, allocated_at=at)
        ).rowcount
        c = t.randomization_strata
        m = self._exec(
            update(c)
            .where(c.c.list_id == list_id, c.c.stratum == stratum, c.c.next_seq == seq)
            .values(next_seq=seq + 1)
        ).rowcount
        if n != 1 or m != 1:
            raise StorageError(
                f"randomization slot {stratum}#{seq}: already taken; the allocation was not made", code="slot_conflict"
            )

    def claim_slot(self, list_id: int, stratum: str, participant_id: str, at: str) -> tuple[int, str] | None:
        if self._pg:  # one statement: see pg_hotpath
            got = self._driver_one(
                pg.CLAIM_SLOT, {"list_id": list_id, "stratum": stratum, "participant_id": participant_id, "at": at}
            )
            return None if got is None else (got[0], got[1])
        # UPDATE ... RETURNING takes the cursor's row lock (held to commit) in one round trip
        c = t.randomization_strata
        row = self._exec(
            update(c)
            .where(c.c.list_id == list_id, c.c.stratum == stratum)
            .values(next_seq=c.c.next_seq + 1)
            .returning(c.c.next_seq)
        ).first()
        if row is None:
            return None
        seq = row.next_seq - 1
        s = t.randomization_slots
        got = self._exec(
            update(s)
            .where(s.c.list_id == list_id, s.c.stratum == stratum, s.c.seq == seq, s.c.participant_id.is_(None))
            .values(participant_id=participant_id, allocated_at=at)
            .returning(s.c.payload_ct)
        ).first()
        return None if got is None else (seq, got.payload_ct)

    def slots(self, list_id: int) -> list[EncSlot]:
        s = t.randomization_slots
        return [_slot(r) for r in self._exec(select(s).where(s.c.list_id == list_id).order_by(s.c.stratum, s.c.seq))]

    def live_list(self, trial: str) -> RandomizationList | None:
        cached = self._lists.get(trial)
        if cached is not None:
            return cached
        rl = self.get_list(trial)
        if rl is not None and not self._wrote_list:  # committed: lists are never replaced
            self._lists[trial] = rl
        return rl

    def allocate_and_commit(self, req: SlotRequest) -> SlotOutcome:
        if not self._pg:  # BEGIN IMMEDIATE already holds SQLite's write lock
            return allocate_step_by_step(self, req)
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
            self._allocate_round_trip(sql, params)
            if self.release_before_flush
            else self._driver_one(sql, params, commit=True)
        )
        if row is not None and row[1] is not None:
            self.appended += 1
        return SlotOutcome(None) if row is None else SlotOutcome(row[0], row[1], row[2])

    def add_allocation(self, a: Allocation) -> None:
        if self._pg:  # nothing reads it before commit: sent with COMMIT
            self._deferred.append((pg.ADD_ALLOCATION, pg.allocation_params(dict(a.__dict__))))
        else:
            self._exec(_ADD_ALLOCATION, dict(a.__dict__))

    def get_allocation(self, participant_id: str) -> Allocation | None:
        row = self._exec(select(t.allocations).where(t.allocations.c.participant_id == participant_id)).first()
        return None if row is None else Allocation(**dict(row._mapping))

    def all_allocations(self) -> list[Allocation]:
        """Every allocation of every trial (the audit chain covers them all)."""
        return [
            Allocation(**dict(r._mapping))
            for r in self._exec(
                select(t.allocations).order_by(t.allocations.c.allocated_at, t.allocations.c.participant_id)
            )
        ]

    def allocations(self, trial: str) -> list[Allocation]:
        return [
            Allocation(**dict(r._mapping))
            for r in self._exec(
                select(t.allocations).where(t.allocations.c.trial == trial).order_by(t.allocations.c.allocated_at)
            )
        ]

    # follow-up ---------------------------------------------------------------------------
    def add_visits(self, participant_id: str, visits: list[dict[str, Any]]) -> None:
        if visits:
            self._exec(insert(t.visits), [{**v, "participant_id": participant_id} for v in visits])

    def visits(self, participant_id: str) -> list[dict[str, Any]]:
        return [
            dict(r._mapping)
            for r in self._exec(
                select(t.visits)
                .where(t.visits.c.participant_id == participant_id)
                .order_by(t.visits.c.target, t.visits.c.id)
            )
        ]

    def save_visit(self, visit: dict[str, Any]) -> None:
        # the window too: a planned visit is re-dated when its anchor is set or moved
        self._exec(
            update(t.visits)
            .where(t.visits.c.id == visit["id"])
            .values(
                actual=visit["actual"],
                status=visit["status"],
                note=visit["note"],
                target=visit["target"],
                earliest=visit["earliest"],
                latest=visit["latest"],
            )
        )

    def add_entry(self, participant_id: str, kind: str, data: dict[str, Any], at: str, by: str) -> int:
        return self._exec(
            insert(t.entries)
            .values(participant_id=participant_id, kind=kind, data=data, at=at, by=by)
            .returning(t.entries.c.id)
        ).scalar_one()

    def entries(self, participant_id: str) -> list[dict[str, Any]]:
        return [
            _entry(r)
            for r in self._exec(
                select(t.entries).where(t.entries.c.participant_id == participant_id).order_by(t.entries.c.id)
            )
        ]

    def get_entry(self, participant_id: str, entry_id: int) -> dict[str, Any] | None:
        row = self._exec(
            select(t.entries).where(t.entries.c.id == entry_id, t.entries.c.participant_id == participant_id)
        ).first()
        return None if row is None else _entry(row)

    def update_entry(
        self, entry_id: int, *, data: dict[str, Any], status: str, version: int, at: str, by: str, reason: str
    ) -> None:
        self._exec(
            update(t.entries)
            .where(t.entries.c.id == entry_id)
            .values(data=data, status=status, version=version, updated_at=at, updated_by=by, reason=reason)
        )

    def iter_participants(self, trial: str, batch: int = 200) -> Iterator[Participant]:
        """Every participant of ``trial`` by id, read ``batch`` rows at a time (keyset paging: an
        export never holds the whole trial in memory)."""
        after = ""
        while True:
            rows = self._exec(
                select(t.participants)
                .where(t.participants.c.trial == trial, t.participants.c.id > after)
                .order_by(t.participants.c.id)
                .limit(batch)
            ).all()
            if not rows:
                return
            for r in rows:
                yield _participant(r)
            after = rows[-1].id

    def add_notification(self, trial: str, kind: str, participant_id: str, message: str, at: str) -> None:
        self._exec(
            insert(t.notifications).values(
                trial=trial, kind=kind, participant_id=participant_id, message=message, at=at
            )
        )

    def notifications(self, trial: str) -> list[dict[str, Any]]:
        return [
            dict(r._mapping)
            for r in self._exec(
                select(t.notifications).where(t.notifications.c.trial == trial).order_by(t.notifications.c.id)
            )
        ]

    # audit -------------------------------------------------------------------------------
    def append_audit(self, entry: dict[str, Any], mac: str, bind: str | None = None, marker: str | None = None) -> None:
        self.appended += 1
        if self._pg:  # one statement, sent with COMMIT: see pg_hotpath
            self._deferred.append((pg.APPEND_AUDIT, pg.append_audit_params(entry, mac, bind, marker)))
            return
        # SQLite: BEGIN IMMEDIATE already holds the database write lock, so three statements
        # are as serialised as one
        head = self._exec(select(t.audit_head).where(t.audit_head.c.id == 1)).first()
        if head is None:
            raise StorageError("audit_head: missing; run `oligotrial db upgrade`", code="not_migrated")
        seq, prev = head.last_seq + 1, head.last_hash
        hash_ = link_v2(prev, seq, mac, bind)
        self._exec(
            insert(t.audit_log).values(
                **{k: entry.get(k) for k in pg.AUDIT_FIELDS},
                seq=seq,
                prev_hash=prev,
                hash=hash_,
                v=entry_version(entry),
                mac=mac,
                bind=bind,
                marker=marker,
                nonce=entry.get("nonce"),
            )
        )
        self._exec(update(t.audit_head).where(t.audit_head.c.id == 1).values(last_seq=seq, last_hash=hash_))

    def audit_entries(
        self, trial: str | None = None, after_seq: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        q = select(t.audit_log).order_by(t.audit_log.c.seq)
        if trial is not None:
            q = q.where(t.audit_log.c.trial == trial)
        if after_seq:
            q = q.where(t.audit_log.c.seq > after_seq)
        if limit is not None:
            q = q.limit(limit)
        return [dict(r._mapping) for r in self._exec(q)]

    def audit_of(self, trial: str, entity: str) -> list[dict[str, Any]]:
        a = t.audit_log
        like = entity.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
        q = (
            select(a)
            .where(a.c.trial == trial, or_(a.c.entity_id == entity, a.c.entity_id.like(like, escape="\\")))
            .order_by(a.c.seq)
        )
        return [dict(r._mapping) for r in self._exec(q)]

    def audit_nonce_seqs(self, nonces: list[str]) -> list[tuple[str, int]]:
        """(nonce, seq) of every entry carrying one of ``nonces`` (indexed: ix_audit_log_nonce)."""
        out: list[tuple[str, int]] = []
        for i in range(0, len(nonces), 500):
            q = (
                select(t.audit_log.c.nonce, t.audit_log.c.seq)
                .where(t.audit_log.c.nonce.in_(nonces[i : i + 500]))
                .order_by(t.audit_log.c.seq)
            )
            out.extend((r.nonce, r.seq) for r in self._exec(q))
        return out

    def count_audit(self, trial: str) -> int:
        return self._exec(
            select(func.count()).select_from(t.audit_log).where(t.audit_log.c.trial == trial)
        ).scalar_one()

    def audit_head(self) -> tuple[int, str] | None:
        row = self._exec(select(t.audit_head).where(t.audit_head.c.id == 1)).first()
        return None if row is None else (row.last_seq, row.last_hash)

    def count(self, table: str) -> int:
        return self._exec(select(func.count()).select_from(t.metadata.tables[table])).scalar_one()

    # data queries (service.queries) -------------------------------------------------------
    def _query_select(self) -> Any:
        q, p, m, e = t.data_queries, t.participants, t.data_query_messages, t.entries
        return (
            select(q, p.c.external_id, p.c.site, e.c.kind.label("entry_kind"), m.c.text.label("question"))
            .join(p, p.c.id == q.c.participant_id)
            .outerjoin(e, e.c.id == q.c.entry_id)
            .outerjoin(m, and_(m.c.query_id == q.c.id, m.c.seq == 1))
        )

    def add_query(self, query: dict[str, Any]) -> int:
        """Store a new query (trial, participant_id, entry_id, field, status, raised_by, raised_at,
        updated_at); its id."""
        return self._exec(insert(t.data_queries).values(**query).returning(t.data_queries.c.id)).scalar_one()

    def get_query(self, trial: str, query_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
        """The query with its participant's own id and site, its entry's kind and its question;
        locked until commit with ``for_update``."""
        stmt = self._query_select().where(t.data_queries.c.id == query_id, t.data_queries.c.trial == trial)
        if for_update:
            stmt = stmt.with_for_update(of=t.data_queries)
        row = self._exec(stmt).first()
        return None if row is None else dict(row._mapping)

    def list_queries(
        self, trial: str, status: str | None = None, participant_id: str | None = None
    ) -> list[dict[str, Any]]:
        q = t.data_queries
        stmt = self._query_select().where(q.c.trial == trial).order_by(q.c.id)
        if status is not None:
            stmt = stmt.where(q.c.status == status)
        if participant_id is not None:
            stmt = stmt.where(q.c.participant_id == participant_id)
        return [dict(r._mapping) for r in self._exec(stmt)]

    def set_query_status(self, query_id: int, status: str, at: str) -> None:
        self._exec(update(t.data_queries).where(t.data_queries.c.id == query_id).values(status=status, updated_at=at))

    def add_query_message(self, query_id: int, message: dict[str, Any]) -> None:
        """Append one step (seq, action, by, role, at, text) to the query's history."""
        self._exec(insert(t.data_query_messages).values(query_id=query_id, **message))

    def query_messages(self, query_id: int) -> list[dict[str, Any]]:
        m = t.data_query_messages
        return [dict(r._mapping) for r in self._exec(select(m).where(m.c.query_id == query_id).order_by(m.c.seq))]


def _slot(row: Any) -> EncSlot:
    m = row._mapping
    return EncSlot(
        m["stratum"], m["seq"], m["block"], m["block_size"], m["payload_ct"], m["participant_id"], m["allocated_at"]
    )


class SqlUnitOfWork:
    """A transaction on one connection; anything not committed is rolled back on exit.
    Database exceptions are wrapped in :class:`~oligotrial.errors.StorageError`."""

    def __init__(
        self, engine: Engine, lists: dict[str, RandomizationList] | None = None, after_audit_commit: Any = None
    ) -> None:
        self.engine = engine
        self.lists = lists
        self.after_audit_commit = after_audit_commit  # called with the number of entries committed

    def __enter__(self) -> SqlUnitOfWork:
        try:
            self.conn = self.engine.connect()
            self.tx = self.conn.begin()
        except SQLAlchemyError as exc:
            raise _wrap(exc) from None
        self.repo = SqlRepository(self.conn, self.lists)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self.tx.is_active:
                self.tx.rollback()
        except SQLAlchemyError:
            pass
        finally:
            self.conn.close()
        if isinstance(exc, SQLAlchemyError):
            raise _wrap(exc) from None

    def commit(self) -> None:
        try:
            self.repo.commit_deferred()
            self.tx.commit()
        except SQLAlchemyError as exc:
            raise _wrap(exc) from None
        appended, self.repo.appended = self.repo.appended, 0
        if appended and self.after_audit_commit is not None:
            self.after_audit_commit(appended)

    def rollback(self) -> None:
        self.tx.rollback()


def _wrap(exc: SQLAlchemyError | psycopg.Error) -> OligotrialError:
    if isinstance(exc, DataError | psycopg.DataError):
        # inputs are checked before they get here; this is the safety net (PostgreSQL refuses
        # text longer than its column or holding U+0000, where SQLite stores it)
        return StorageError(
            "the database refused a value (too long for its field, or a character it cannot store); nothing was saved",
            code="value_rejected",
        )
    if isinstance(exc, IntegrityError | psycopg.IntegrityError):
        return StorageError(
            "the database refused the write (a uniqueness or reference rule); nothing was saved", code="conflict"
        )
    if isinstance(exc, OperationalError | psycopg.OperationalError):
        return StorageError("the database is unavailable or busy; nothing was saved", code="unavailable")
    return StorageError(f"the database refused the request ({type(exc).__name__}); nothing was saved")


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lists: dict[str, RandomizationList] = {}  # live randomization lists, once read
        self.after_audit_commit: Any = None  # set by the composition root (periodic checkpoints)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.lists, self.after_audit_commit)
