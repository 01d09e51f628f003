"""In-memory fakes of the service ports: one repository per aggregate over a shared ``FakeDb``,
the unit of work, cipher, hasher, screener and audit anchor."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from oligotrial.domain.trial.audit import GENESIS, entry_version, link_v2
from oligotrial.errors import BlindingError, StorageError
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import User, allocate_step_by_step


@dataclass
class FakeDb:
    """The stored state (one per context): what a unit of work copies, and swaps back in on commit."""

    users: dict[int, User] = field(default_factory=dict)
    ended: dict[str, str] = field(default_factory=dict)  # ended session id -> its expiry
    participants: dict[str, Any] = field(default_factory=dict)
    lists: dict[str, Any] = field(default_factory=dict)
    strata: dict[tuple[int, str], int] = field(default_factory=dict)
    slot_rows: dict[tuple[int, str, int], Any] = field(default_factory=dict)
    allocs: dict[str, Any] = field(default_factory=dict)
    visit_rows: list[dict] = field(default_factory=list)
    entry_rows: list[dict] = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)
    audit: list[dict] = field(default_factory=list)
    head: tuple[int, str] = (0, GENESIS)
    query_rows: list[dict] = field(default_factory=list)
    query_msgs: list[dict] = field(default_factory=list)


class FakeUsers:
    def __init__(self, db: FakeDb) -> None:
        self.db = db

    def add_user(self, user):
        user.id = len(self.db.users) + 1
        self.db.users[user.id] = user
        return user

    def get_user_by_name(self, username):
        return next((u for u in self.db.users.values() if u.username == username), None)

    def get_user(self, user_id):
        return self.db.users.get(user_id)

    def grant(self, user_id, trial, role, site=None):
        self.db.users[user_id].roles[trial] = role
        if site is not None:
            self.db.users[user_id].sites[trial] = site

    def list_users(self):
        return list(self.db.users.values())

    def revoke(self, user_id, trial):
        self.db.users[user_id].roles.pop(trial, None)
        self.db.users[user_id].sites.pop(trial, None)

    def set_active(self, user_id, active):
        self.db.users[user_id].active = active

    def set_password(self, user_id, password_hash):
        self.db.users[user_id].password_hash = password_hash

    def end_session(self, sid, user_id, ended_at, expires_at):
        self.db.ended = {k: v for k, v in self.db.ended.items() if v >= ended_at}
        self.db.ended[sid] = expires_at

    def session_ended(self, sid):
        return sid in self.db.ended


class FakeParticipants:
    def __init__(self, db: FakeDb) -> None:
        self.db = db

    def add_participant(self, p):
        self.db.participants[p.id] = copy.deepcopy(p)

    def get_participant(self, trial, pid, *, for_update=False):
        p = self.db.participants.get(pid)
        return copy.deepcopy(p) if p is not None and p.trial == trial else None

    def participant_site(self, trial, pid):
        p = self.db.participants.get(pid)
        return (False, None) if p is None or p.trial != trial else (True, p.site)

    def find_participant(self, trial, external_id):
        return next((p for p in self.db.participants.values() if p.trial == trial and p.external_id == external_id),
                    None)

    def save_participant(self, p, fields=None):
        if fields is None:
            self.db.participants[p.id] = copy.deepcopy(p)
            return
        stored = self.db.participants[p.id]  # like the database: only the named fields change
        for k in fields:
            setattr(stored, k, copy.deepcopy(getattr(p, k)))

    def list_participants(self, trial):
        return [p for p in self.db.participants.values() if p.trial == trial]

    def iter_participants(self, trial, batch=200):
        yield from sorted((copy.deepcopy(p) for p in self.db.participants.values() if p.trial == trial),
                          key=lambda p: p.id)

    def add_visits(self, participant_id, visits):
        rows = self.db.visit_rows
        for v in visits:  # the database's uq_visits_participant_code
            if any(r["participant_id"] == participant_id and r["code"] == v["code"] for r in rows):
                raise StorageError("the database refused the write (a uniqueness or reference rule); nothing "
                                   "was saved", code="conflict")
        for v in visits:
            rows.append({**v, "id": len(rows) + 1, "participant_id": participant_id})

    def visits(self, participant_id):
        return [dict(v) for v in self.db.visit_rows if v["participant_id"] == participant_id]

    def save_visit(self, visit):
        for v in self.db.visit_rows:
            if v["id"] == visit["id"]:
                v.update(visit)

    def add_entry(self, participant_id, kind, data, at, by):
        self.db.entry_rows.append({"id": len(self.db.entry_rows) + 1, "participant_id": participant_id, "kind": kind,
                                   "data": data, "at": at, "by": by, "status": "active", "version": 1,
                                   "updated_at": None, "updated_by": None, "reason": None})
        return len(self.db.entry_rows)

    def entries(self, participant_id):
        return [copy.deepcopy(e) for e in self.db.entry_rows if e["participant_id"] == participant_id]

    def get_entry(self, participant_id, entry_id):
        return next((copy.deepcopy(e) for e in self.db.entry_rows
                     if e["id"] == entry_id and e["participant_id"] == participant_id), None)

    def update_entry(self, entry_id, *, data, status, version, at, by, reason):
        for e in self.db.entry_rows:
            if e["id"] == entry_id:
                e.update(data=data, status=status, version=version, updated_at=at, updated_by=by, reason=reason)

    def add_notification(self, trial, kind, participant_id, message, at):
        self.db.notes.append({"trial": trial, "kind": kind, "participant_id": participant_id, "message": message,
                              "at": at})

    def notifications(self, trial):
        return [n for n in self.db.notes if n["trial"] == trial]


class FakeAllocation:
    def __init__(self, db: FakeDb, participants: FakeParticipants, audit: FakeAudit) -> None:
        self.db, self._participants, self._audit = db, participants, audit

    def lock_for_randomization(self, trial, pid):
        p = self._participants.get_participant(trial, pid, for_update=True)
        return p, (None if p is None else self.get_list(trial))

    def add_list(self, rl, slots):
        rl.id = len(self.db.lists) + 1
        self.db.lists[rl.trial] = rl
        for s in slots:
            self.db.strata[(rl.id, s.stratum)] = 1
            self.db.slot_rows[(rl.id, s.stratum, s.seq)] = s
        return rl

    def get_list(self, trial, *, for_update=False):
        return self.db.lists.get(trial)

    def live_list(self, trial):
        return self.get_list(trial)

    def lock_stratum(self, list_id, stratum):
        return self.db.strata.get((list_id, stratum))

    def get_slot(self, list_id, stratum, seq):
        return self.db.slot_rows.get((list_id, stratum, seq))

    def take_slot(self, list_id, stratum, seq, participant_id, at):
        s = self.db.slot_rows[(list_id, stratum, seq)]
        assert s.participant_id is None
        s.participant_id, s.allocated_at = participant_id, at
        self.db.strata[(list_id, stratum)] = seq + 1

    def claim_slot(self, list_id, stratum, participant_id, at):
        seq = self.db.strata.get((list_id, stratum))
        slot = self.db.slot_rows.get((list_id, stratum, seq)) if seq is not None else None
        if slot is None:
            return None
        self.take_slot(list_id, stratum, seq, participant_id, at)
        return seq, slot.payload_ct

    def slots(self, list_id):
        return [s for (lid, _, _), s in sorted(self.db.slot_rows.items()) if lid == list_id]

    def allocate_and_commit(self, req):
        return allocate_step_by_step(self._participants, self, self._audit, req)

    def add_allocation(self, a):
        assert a.participant_id not in self.db.allocs
        self.db.allocs[a.participant_id] = a

    def get_allocation(self, participant_id):
        return self.db.allocs.get(participant_id)

    def allocations(self, trial):
        return [a for a in self.db.allocs.values() if a.trial == trial]

    def all_allocations(self):
        return list(self.db.allocs.values())


class FakeAudit:
    def __init__(self, db: FakeDb) -> None:
        self.db = db

    def append_audit(self, entry, mac, bind=None, marker=None):
        seq, prev = self.db.head[0] + 1, self.db.head[1]
        hash_ = link_v2(prev, seq, mac, bind)
        self.db.audit.append({**copy.deepcopy(entry), "seq": seq, "prev_hash": prev, "hash": hash_,
                              "v": entry_version(entry), "mac": mac, "bind": bind, "marker": marker,
                              "nonce": entry.get("nonce")})
        self.db.head = (seq, hash_)

    def audit_entries(self, trial=None, after_seq=0, limit=None):
        rows = [copy.deepcopy(e) for e in self.db.audit
                if (trial is None or e["trial"] == trial) and e["seq"] > after_seq]
        return rows if limit is None else rows[:limit]

    def audit_of(self, trial, entity):
        return [copy.deepcopy(e) for e in self.db.audit if e["trial"] == trial
                and (e["entity_id"] == entity or str(e["entity_id"]).startswith(entity + "/"))]

    def user_audit(self, limit):
        return [copy.deepcopy(e) for e in self.db.audit if e["entity_type"] == "user"][::-1][:limit]

    def audit_nonce_seqs(self, nonces):
        wanted = set(nonces)
        return [(e["nonce"], e["seq"]) for e in self.db.audit if e.get("nonce") in wanted]

    def count_audit(self, trial):
        return len(self.audit_entries(trial))

    def audit_head(self):
        return self.db.head


class FakeQueries:
    def __init__(self, db: FakeDb) -> None:
        self.db = db

    def _view(self, q):
        p = self.db.participants[q["participant_id"]]
        entry = next((e for e in self.db.entry_rows if e["id"] == q["entry_id"]), None)
        first = next((m for m in self.db.query_msgs if m["query_id"] == q["id"] and m["seq"] == 1), None)
        return {**copy.deepcopy(q), "external_id": p.external_id, "site": p.site,
                "entry_kind": None if entry is None else entry["kind"],
                "question": None if first is None else first["text"]}

    def add_query(self, query):
        self.db.query_rows.append({**copy.deepcopy(query), "id": len(self.db.query_rows) + 1})
        return len(self.db.query_rows)

    def get_query(self, trial, query_id, *, for_update=False):
        q = next((q for q in self.db.query_rows if q["id"] == query_id and q["trial"] == trial), None)
        return None if q is None else self._view(q)

    def list_queries(self, trial, status=None, participant_id=None):
        return [self._view(q) for q in self.db.query_rows if q["trial"] == trial
                and (status is None or q["status"] == status)
                and (participant_id is None or q["participant_id"] == participant_id)]

    def set_query_status(self, query_id, status, at):
        for q in self.db.query_rows:
            if q["id"] == query_id:
                q.update(status=status, updated_at=at)

    def add_query_message(self, query_id, message):
        assert not any(m["query_id"] == query_id and m["seq"] == message["seq"] for m in self.db.query_msgs)
        self.db.query_msgs.append({**copy.deepcopy(message), "query_id": query_id})

    def query_messages(self, query_id):
        return sorted((copy.deepcopy(m) for m in self.db.query_msgs if m["query_id"] == query_id),
                      key=lambda m: m["seq"])


class FakeRepositories:
    """The five repositories over one ``FakeDb``."""

    def __init__(self, db: FakeDb) -> None:
        self.db = db
        self.participants = FakeParticipants(db)
        self.audit = FakeAudit(db)
        self.allocation = FakeAllocation(db, self.participants, self.audit)
        self.users = FakeUsers(db)
        self.queries = FakeQueries(db)


def committed(store: dict) -> FakeRepositories:
    """The repositories over what is committed (for a test's own reads: no unit of work)."""
    return FakeRepositories(store["db"])


class FakeUnitOfWork:
    """Commits by swapping in a working copy of the stored state; leaving without commit discards it."""

    def __init__(self, store: dict) -> None:
        self.store = store
        self.committed = False

    def __enter__(self):
        repos = FakeRepositories(copy.deepcopy(self.store["db"]))
        self.db = repos.db
        self.participants, self.allocation, self.audit = repos.participants, repos.allocation, repos.audit
        self.users, self.queries = repos.users, repos.queries
        self.committed = False
        return self

    def __exit__(self, *exc):
        return None

    def commit(self):
        self.store["db"] = self.db
        self.store["commits"] += 1
        self.committed = True

    def rollback(self):
        pass


class FakeCipher:
    def encrypt(self, plaintext, context):
        return f"enc[{context}]:{plaintext[::-1]}"

    def decrypt(self, token, context):
        prefix = f"enc[{context}]:"
        if not token.startswith(prefix):  # as AES-GCM: the context is authenticated
            raise BlindingError("allocation: cannot be decrypted (ciphertext used in the wrong context)",
                                code="undecryptable")
        return token[len(prefix):][::-1]


class FakeHasher:
    def hash(self, password):
        return "h:" + password

    def verify(self, password_hash, password):
        return password_hash == "h:" + password


@dataclass
class FakeOutcome:
    verdict: str

    def to_dict(self):
        return {"verdict": self.verdict, "criteria": []}


class FakeScreener:
    def __init__(self, verdict="eligible"):
        self.verdict = verdict
        self.calls = []

    def __call__(self, patient, protocol, *, assume_attested=False):
        self.calls.append((patient.id, protocol.id, assume_attested))
        return FakeOutcome(self.verdict)


class FakeAnchor:
    """The audit anchor in memory: a fixed test key; checkpoints kept unsigned in a list."""

    checkpoint_every = 1000

    def __init__(self) -> None:
        self.cps: list[dict] = []
        self.epoch: dict[int, int] | None = None

    def mac_key(self) -> bytes:
        return b"k" * 32

    def checkpoints(self):
        return list(self.cps)

    def add_checkpoint(self, seq, hash_, at, kind=None, note=None):
        self.cps.append({"seq": seq, "hash": hash_, "at": at, **({"kind": kind, "note": note} if kind else {})})
        return self.cps[-1]

    def format_epoch(self):
        return self.epoch

    def record_format(self, first_seq, at):
        self.epoch = {**first_seq, **(self.epoch or {})}
        return self.epoch

    def due(self, appended):
        return False


class StandInLibrary:
    """A protocol library of fixed protocols: ``protocols`` by trial id, or ``only``, one protocol
    whatever trial is asked for; a named version only when it is that protocol's own."""

    def __init__(self, protocols: dict | None = None, *, only=None) -> None:
        self.protocols, self.only = protocols or {}, only

    def get(self, trial, version=None, on=None):
        from oligotrial.errors import ProtocolError

        p = self.only if self.only is not None else self.protocols[trial]
        if version is not None and p.version != version:
            raise ProtocolError(
                f"trial {p.id}: version {version!r}: expected one of {p.version!r}",
                code="protocol_version_not_found",
                field="version",
            )
        return p

    def versions(self, trial):
        return [self.get(trial)]

    def in_force(self, on=None):
        return [self.only] if self.only is not None else list(self.protocols.values())


def make_ctx(verdict: str = "eligible", protocols: dict | None = None):
    from oligotrial.protocols.library_port import FileProtocolLibrary

    clock_t = [dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)]
    store = {"db": FakeDb(), "commits": 0, "clock": clock_t}  # store["clock"][0] = ... moves time

    def clock():
        clock_t[0] += dt.timedelta(seconds=1)
        return clock_t[0]

    screener = FakeScreener(verdict)
    library = StandInLibrary(protocols) if protocols else FileProtocolLibrary()
    ctx = ServiceContext(uow=lambda: FakeUnitOfWork(store), cipher=FakeCipher(), hasher=FakeHasher(),
                         screener=screener, library=library, clock=clock, anchor=FakeAnchor())
    return ctx, store, screener
