"""Ports the service layer talks through: storage (a UnitOfWork holding one repository per
aggregate: participants, allocation, audit, users, queries; rows in :mod:`.rows`), the allocation
cipher, password hashing, screening, the clock and the protocol library. Adapters implement them;
tests use fakes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, Self

from oligotrial import clock as _clock
from oligotrial.domain.protocol.schema import Protocol as TrialProtocol
from oligotrial.domain.trial.workflow import Participant
from oligotrial.service.rows import (
    AuditEntry,
    AuditRow,
    EntryRow,
    JsonObject,
    NewQuery,
    NewVisit,
    NotificationRow,
    QueryMessage,
    QueryMessageRow,
    QueryRow,
    VisitRow,
)


@dataclass
class User:
    id: int | None
    username: str
    password_hash: str
    active: bool = True
    roles: dict[str, str] = field(default_factory=dict)  # trial id (or "*") -> role
    sites: dict[str, str] = field(default_factory=dict)  # trial id -> the one site the role covers


@dataclass
class RandomizationList:
    id: int | None
    trial: str
    method: str
    seed_ct: str  # the seed, encrypted (it would regenerate the list)
    params: dict[str, Any]
    commitment: str
    created_at: str
    created_by: str
    size_per_stratum: int


@dataclass
class EncSlot:
    stratum: str
    seq: int
    block: int
    block_size: int
    payload_ct: str  # encrypted arm id / minimization draws
    participant_id: str | None = None
    allocated_at: str | None = None


@dataclass
class Allocation:
    participant_id: str
    trial: str
    list_id: int
    stratum: str
    seq: int
    strata: dict[str, str]  # frozen with the allocation
    arm_ct: str  # encrypted arm id
    allocated_at: str
    allocated_by: str


@dataclass
class SlotRequest:
    """Everything a randomization from a pre-generated list reads and writes, less the slot
    number (known only when the slot is claimed; ``marker`` stands for it in the audit entry)."""

    list_id: int
    trial: str
    stratum: str
    participant_id: str
    from_state: str  # the state the participant must be in (checked under its lock)
    changes: dict[str, Any]  # the participant's new field values (state, randomized_on)
    strata: dict[str, str]
    at: str
    by: str
    entry: AuditEntry  # the audit entry (service.audit.build_entry)
    marker: str
    mac: str = ""  # the entry's keyed digest (service.audit), as stored (marker unfilled)


@dataclass(frozen=True)
class SlotOutcome:
    """What :meth:`AllocationRepository.allocate_and_commit` found: ``state`` None when the trial has no
    such participant; ``seq`` None when nothing was written (the participant was not in
    ``from_state``, or the stratum's list is exhausted)."""

    state: str | None
    seq: int | None = None
    payload_ct: str | None = None


def allocate_step_by_step(
    participants: ParticipantRepository, allocation: AllocationRepository, audit: AuditRepository, req: SlotRequest
) -> SlotOutcome:
    """:meth:`AllocationRepository.allocate_and_commit` in terms of the repositories' other
    methods, one step at a time (for stores whose transaction already serialises writers, e.g.
    SQLite's write lock); the caller's unit of work commits. Nothing is written unless a slot is taken."""
    from oligotrial.domain.trial.audit import allocation_bind, canonical_template

    canonical_template(req.entry, req.marker)  # the marker is checked as the one-statement path does
    p = participants.get_participant(req.trial, req.participant_id, for_update=True)
    if p is None or p.state != req.from_state:
        return SlotOutcome(None if p is None else p.state)
    claimed = allocation.claim_slot(req.list_id, req.stratum, p.id, req.at)
    if claimed is None:
        return SlotOutcome(p.state)
    seq, payload_ct = claimed
    for k, v in req.changes.items():
        setattr(p, k, v)
    participants.save_participant(p, tuple(req.changes))
    a = Allocation(p.id, req.trial, req.list_id, req.stratum, seq, req.strata, payload_ct, req.at, req.by)
    allocation.add_allocation(a)
    # stored as built (the marker names the slot number; ``bind`` carries it and the row's digest)
    audit.append_audit(req.entry, req.mac, bind=allocation_bind(a.__dict__), marker=req.marker)
    return SlotOutcome(req.from_state, seq, payload_ct)


# ---- storage: one repository per aggregate, reached through the unit of work -----------------


class ParticipantRepository(Protocol):
    """Participants, with what hangs off each: follow-up entries, visits and notifications."""

    def add_participant(self, p: Participant) -> None: ...
    def get_participant(self, trial: str, pid: str, *, for_update: bool = False) -> Participant | None: ...
    def participant_site(self, trial: str, pid: str) -> tuple[bool, str | None]:
        """Whether ``pid`` is a participant of ``trial``, and their site: the one column the
        randomization of a multi-centre trial reads before its one statement."""
        ...

    def find_participant(self, trial: str, external_id: str) -> Participant | None: ...
    def save_participant(self, p: Participant, fields: tuple[str, ...] | None = None) -> None:
        """Write the participant back; ``fields`` names the only attributes that changed
        (None: all), so large unchanged values (the record) are not rewritten."""
        ...

    def list_participants(self, trial: str) -> list[Participant]: ...
    def iter_participants(self, trial: str, batch: int = 200) -> Iterator[Participant]: ...
    # follow-up
    def add_visits(self, participant_id: str, visits: list[NewVisit]) -> None: ...
    def visits(self, participant_id: str) -> list[VisitRow]: ...
    def save_visit(self, visit: VisitRow) -> None: ...
    def add_entry(self, participant_id: str, kind: str, data: JsonObject, at: str, by: str) -> int: ...
    def entries(self, participant_id: str) -> list[EntryRow]: ...
    def get_entry(self, participant_id: str, entry_id: int) -> EntryRow | None: ...
    def update_entry(
        self, entry_id: int, *, data: JsonObject, status: str, version: int, at: str, by: str, reason: str
    ) -> None: ...
    def add_notification(self, trial: str, kind: str, participant_id: str, message: str, at: str) -> None: ...
    def notifications(self, trial: str) -> list[NotificationRow]: ...


class AllocationRepository(Protocol):
    """Randomization lists, their slots and the allocations made from them."""

    def lock_for_randomization(self, trial: str, pid: str) -> tuple[Participant | None, RandomizationList | None]:
        """The participant, locked until commit, and the trial's live list (None where absent)."""
        ...

    def add_list(self, rl: RandomizationList, slots: list[EncSlot]) -> RandomizationList: ...
    def get_list(self, trial: str, *, for_update: bool = False) -> RandomizationList | None: ...
    def live_list(self, trial: str) -> RandomizationList | None:
        """The trial's list, as :meth:`get_list`; a list once stored is never replaced, so an
        adapter may keep it after the first read."""
        ...

    def lock_stratum(self, list_id: int, stratum: str) -> int | None: ...
    def get_slot(self, list_id: int, stratum: str, seq: int) -> EncSlot | None: ...
    def take_slot(self, list_id: int, stratum: str, seq: int, participant_id: str, at: str) -> None: ...
    def claim_slot(self, list_id: int, stratum: str, participant_id: str, at: str) -> tuple[int, str] | None:
        """Lock the stratum cursor, take its next slot; (seq, payload ciphertext) or None if exhausted."""
        ...

    def slots(self, list_id: int) -> list[EncSlot]: ...
    def allocate_and_commit(self, req: SlotRequest) -> SlotOutcome:
        """Lock the participant; if it is in ``req.from_state``, claim the stratum's next slot
        and write the participant's changes, the allocation (its arm ciphertext is the slot's
        own) and the audit entry (``req.marker`` replaced by the slot number). PostgreSQL does
        all of it in one statement sent with BEGIN and COMMIT (one round trip); elsewhere the
        unit of work's commit commits it (:func:`allocate_step_by_step`). Nothing is written
        unless a slot was taken."""
        ...

    def add_allocation(self, a: Allocation) -> None: ...
    def get_allocation(self, participant_id: str) -> Allocation | None: ...
    def allocations(self, trial: str) -> list[Allocation]: ...
    def all_allocations(self) -> list[Allocation]:
        """Every allocation of every trial (the audit chain covers them all)."""
        ...


class AuditRepository(Protocol):
    """The audit chain (the service computes the entry's keyed digest; the adapter links it)."""

    def append_audit(self, entry: AuditEntry, mac: str, bind: str | None = None, marker: str | None = None) -> None:
        """Append ``entry`` (every payload field but ``seq``) to the chain, atomically with the
        unit of work: take the chain head (locked until commit), store the entry as version 3 (2 without a nonce),
        ``seq = head + 1``, ``prev_hash`` = the head's hash, ``mac``, ``bind``, ``marker``, ``nonce`` and
        ``hash = link_v2(prev_hash, seq, mac, bind)`` (:mod:`oligotrial.domain.trial.audit`),
        move the head. The adapter may send it with the commit, so the head is locked as
        briefly as possible."""
        ...

    def audit_entries(
        self, trial: str | None = None, after_seq: int = 0, limit: int | None = None
    ) -> list[AuditRow]: ...
    def audit_of(self, trial: str, entity: str) -> list[AuditRow]:
        """``trial``'s audit entries about ``entity`` (a participant id) or anything under it
        (``entity/...``: their entries, visits, queries), oldest first."""
        ...

    def user_audit(self, limit: int) -> list[AuditRow]:
        """The latest ``limit`` audit entries about accounts (``entity_type`` user), newest first."""
        ...

    def audit_nonce_seqs(self, nonces: list[str]) -> list[tuple[str, int]]:
        """(nonce, seq) of every audit entry carrying one of ``nonces``."""
        ...

    def count_audit(self, trial: str) -> int: ...
    def audit_head(self) -> tuple[int, str] | None: ...


class UserRepository(Protocol):
    """Accounts, their grants, and the page sessions ended on the server."""

    def add_user(self, user: User) -> User: ...
    def get_user_by_name(self, username: str) -> User | None: ...
    def get_user(self, user_id: int) -> User | None: ...
    def grant(self, user_id: int, trial: str, role: str, site: str | None = None) -> None: ...
    def list_users(self) -> list[User]: ...
    def revoke(self, user_id: int, trial: str) -> None: ...
    def set_active(self, user_id: int, active: bool) -> None: ...
    def set_password(self, user_id: int, password_hash: str) -> None: ...
    def end_session(self, sid: str, user_id: int, ended_at: str, expires_at: str) -> None: ...
    def session_ended(self, sid: str) -> bool: ...


class QueryRepository(Protocol):
    """Data queries (``service.queries``) and their message history."""

    def add_query(self, query: NewQuery) -> int: ...
    def get_query(self, trial: str, query_id: int, *, for_update: bool = False) -> QueryRow | None: ...
    def list_queries(
        self, trial: str, status: str | None = None, participant_id: str | None = None
    ) -> list[QueryRow]: ...
    def set_query_status(self, query_id: int, status: str, at: str) -> None: ...
    def add_query_message(self, query_id: int, message: QueryMessage) -> None: ...
    def query_messages(self, query_id: int) -> list[QueryMessageRow]: ...


class AuditAnchor(Protocol):
    """What keeps the audit chain honest from outside the database it protects: the key of
    the entries' keyed digests, and signed checkpoints (seq, hash) in a store the database's
    owner cannot rewrite unnoticed."""

    checkpoint_every: int

    def mac_key(self) -> bytes: ...
    def checkpoints(self) -> list[dict[str, Any]]:
        """Every checkpoint, oldest first, each with a valid signature (a bad one raises AuditError)."""
        ...

    def add_checkpoint(
        self, seq: int, hash_: str, at: str, kind: str | None = None, note: str | None = None
    ) -> dict[str, Any]:
        """Sign and append (seq, hash, at); ``kind`` "restore" records a restore (``note``: the backup)."""
        ...

    def format_epoch(self) -> dict[int, int] | None:
        """The chain's format epoch: entry version -> the first sequence number written in it."""
        ...

    def record_format(self, first_seq: dict[int, int], at: str) -> dict[int, int]:
        """Record the versions not recorded yet (a recorded one never changes)."""
        ...

    def due(self, appended: int) -> bool:
        """Count ``appended`` committed entries; True when a periodic checkpoint is due."""
        ...


class UnitOfWork(Protocol):
    """One transaction: ``with uow: ...; uow.commit()``; leaving without commit rolls back.
    Its repositories share the transaction."""

    @property
    def participants(self) -> ParticipantRepository: ...
    @property
    def allocation(self) -> AllocationRepository: ...
    @property
    def audit(self) -> AuditRepository: ...
    @property
    def users(self) -> UserRepository: ...
    @property
    def queries(self) -> QueryRepository: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class AllocationCipher(Protocol):
    def encrypt(self, plaintext: str, context: str) -> str: ...
    def decrypt(self, token: str, context: str) -> str: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool: ...


class ScreeningOutcome(Protocol):
    verdict: str

    def to_dict(self) -> dict[str, Any]: ...


class Screener(Protocol):
    """``screen_patient(patient, protocol, *, assume_attested=False)``."""

    def __call__(self, patient: Any, protocol: TrialProtocol, *, assume_attested: bool = False) -> ScreeningOutcome: ...


class Clock(Protocol):
    """The service's clock: now, timezone-aware UTC. The real one is :func:`oligotrial.clock.utc_now`
    (re-exported here); the service context's date is the only "today" the domain is given."""

    def __call__(self) -> dt.datetime: ...


utc_now = _clock.utc_now


@dataclass(frozen=True)
class Actor:
    """Who is acting: the user, and their role in each trial (``"*"`` for every trial)."""

    username: str
    roles: dict[str, str]
    user_id: int | None = None
    sites: dict[str, str] = field(default_factory=dict)  # trial -> site, where the role covers one site

    def role_in(self, trial: str) -> str | None:
        return self.roles.get(trial) or self.roles.get("*")

    def site_in(self, trial: str) -> str | None:
        """The one site the actor's role in ``trial`` covers; None: every site."""
        return self.sites.get(trial)


SYSTEM = Actor("system", {"*": "admin"})


class ProtocolLibrary(Protocol):
    """The trials' protocols, every version of each (amendments). The service asks for the version
    in force on its own today (:meth:`oligotrial.service.context.ServiceContext.load_protocol`), so
    that one clock decides which version a screening, a check or a view is judged under.
    Implemented over the YAML loader by :class:`oligotrial.protocols.library_port.FileProtocolLibrary`."""

    def get(self, trial: str, version: str | None = None, on: dt.date | None = None) -> Any:
        """``trial``'s protocol (NCT id or short name, any case): the named ``version`` whatever its
        date, else the version in force on ``on`` (the latest effective date not after it).
        Raises :class:`~oligotrial.errors.ProtocolError` (``protocol_not_found``,
        ``protocol_version_not_found``, ``protocol_not_in_effect``)."""
        ...

    def versions(self, trial: str) -> list[Any]:
        """Every version of ``trial``'s protocol, oldest effective date first."""
        ...

    def in_force(self, on: dt.date | None = None) -> list[Any]:
        """Every trial's version in force on ``on``, ordered by registry id; a trial none of whose
        versions is in force yet is left out."""
        ...
