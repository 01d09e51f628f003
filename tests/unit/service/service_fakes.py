"""In-memory fakes of the service ports (repository, unit of work, cipher, hasher, screener)."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

from oligotrial.domain.trial.audit import GENESIS, entry_version, link_v2
from oligotrial.errors import BlindingError, StorageError
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import User, allocate_step_by_step


class FakeRepository:
    def __init__(self) -> None:
        self.users: dict[int, User] = {}
        self.participants: dict[str, Any] = {}
        self.lists: dict[str, Any] = {}
        self.strata: dict[tuple[int, str], int] = {}
        self.slot_rows: dict[tuple[int, str, int], Any] = {}
        self.allocs: dict[str, Any] = {}
        self.visit_rows: list[dict] = []
        self.entry_rows: list[dict] = []
        self.notes: list[dict] = []
        self.audit: list[dict] = []
        self.head = (0, GENESIS)

    def add_user(self, user):
        user.id = len(self.users) + 1
        self.users[user.id] = user
        return user

    def get_user_by_name(self, username):
        return next((u for u in self.users.values() if u.username == username), None)

    def get_user(self, user_id):
        return self.users.get(user_id)

    def grant(self, user_id, trial, role, site=None):
        self.users[user_id].roles[trial] = role
        if site is not None:
            self.users[user_id].sites[trial] = site

    # user administration (service.users)
    def list_users(self):
        return list(self.users.values())

    def revoke(self, user_id, trial):
        self.users[user_id].roles.pop(trial, None)
        self.users[user_id].sites.pop(trial, None)

    def set_active(self, user_id, active):
        self.users[user_id].active = active

    def set_password(self, user_id, password_hash):
        self.users[user_id].password_hash = password_hash

    def end_session(self, sid, user_id, ended_at, expires_at):
        self.ended = {k: v for k, v in getattr(self, "ended", {}).items() if v >= ended_at}
        self.ended[sid] = expires_at

    def session_ended(self, sid):
        return sid in getattr(self, "ended", {})

    def user_audit(self, limit):
        return [copy.deepcopy(e) for e in self.audit if e["entity_type"] == "user"][::-1][:limit]

    def add_participant(self, p):
        self.participants[p.id] = copy.deepcopy(p)

    def get_participant(self, trial, pid, *, for_update=False):
        p = self.participants.get(pid)
        return copy.deepcopy(p) if p is not None and p.trial == trial else None

    def participant_site(self, trial, pid):
        p = self.participants.get(pid)
        return (False, None) if p is None or p.trial != trial else (True, p.site)

    def find_participant(self, trial, external_id):
        return next((p for p in self.participants.values() if p.trial == trial and p.external_id == external_id), None)

    def lock_for_randomization(self, trial, pid):
        p = self.get_participant(trial, pid, for_update=True)
        return p, (None if p is None else self.get_list(trial))

    def save_participant(self, p, fields=None):
        if fields is None:
            self.participants[p.id] = copy.deepcopy(p)
            return
        stored = self.participants[p.id]  # like the database: only the named fields change
        for k in fields:
            setattr(stored, k, copy.deepcopy(getattr(p, k)))

    def list_participants(self, trial):
        return [p for p in self.participants.values() if p.trial == trial]

    def add_list(self, rl, slots):
        rl.id = len(self.lists) + 1
        self.lists[rl.trial] = rl
        for s in slots:
            self.strata[(rl.id, s.stratum)] = 1
            self.slot_rows[(rl.id, s.stratum, s.seq)] = s
        return rl

    def get_list(self, trial, *, for_update=False):
        return self.lists.get(trial)

    def lock_stratum(self, list_id, stratum):
        return self.strata.get((list_id, stratum))

    def get_slot(self, list_id, stratum, seq):
        return self.slot_rows.get((list_id, stratum, seq))

    def take_slot(self, list_id, stratum, seq, participant_id, at):
        s = self.slot_rows[(list_id, stratum, seq)]
        assert s.participant_id is None
        s.participant_id, s.allocated_at = participant_id, at
        self.strata[(list_id, stratum)] = seq + 1

    def claim_slot(self, list_id, stratum, participant_id, at):
        seq = self.strata.get((list_id, stratum))
        slot = self.slot_rows.get((list_id, stratum, seq)) if seq is not None else None
        if slot is None:
            return None
        self.take_slot(list_id, stratum, seq, participant_id, at)
        return seq, slot.payload_ct

    def slots(self, list_id):
        return [s for (lid, _, _), s in sorted(self.slot_rows.items()) if lid == list_id]

    def live_list(self, trial):
        return self.get_list(trial)

    def allocate_and_commit(self, req):
        return allocate_step_by_step(self, req)

    def add_allocation(self, a):
        assert a.participant_id not in self.allocs
        self.allocs[a.participant_id] = a

    def get_allocation(self, participant_id):
        return self.allocs.get(participant_id)

    def allocations(self, trial):
        return [a for a in self.allocs.values() if a.trial == trial]

    def add_visits(self, participant_id, visits):
        for v in visits:  # the database's uq_visits_participant_code
            if any(r["participant_id"] == participant_id and r["code"] == v["code"] for r in self.visit_rows):
                raise StorageError("the database refused the write (a uniqueness or reference rule); nothing "
                                   "was saved", code="conflict")
        for v in visits:
            self.visit_rows.append({**v, "id": len(self.visit_rows) + 1, "participant_id": participant_id})

    def visits(self, participant_id):
        return [dict(v) for v in self.visit_rows if v["participant_id"] == participant_id]

    def save_visit(self, visit):
        for v in self.visit_rows:
            if v["id"] == visit["id"]:
                v.update(visit)

    def add_entry(self, participant_id, kind, data, at, by):
        self.entry_rows.append({"id": len(self.entry_rows) + 1, "participant_id": participant_id, "kind": kind,
                                "data": data, "at": at, "by": by, "status": "active", "version": 1,
                                "updated_at": None, "updated_by": None, "reason": None})
        return len(self.entry_rows)

    def entries(self, participant_id):
        return [copy.deepcopy(e) for e in self.entry_rows if e["participant_id"] == participant_id]

    def get_entry(self, participant_id, entry_id):
        return next((copy.deepcopy(e) for e in self.entry_rows
                     if e["id"] == entry_id and e["participant_id"] == participant_id), None)

    def update_entry(self, entry_id, *, data, status, version, at, by, reason):
        for e in self.entry_rows:
            if e["id"] == entry_id:
                e.update(data=data, status=status, version=version, updated_at=at, updated_by=by, reason=reason)

    def iter_participants(self, trial, batch=200):
        yield from sorted((copy.deepcopy(p) for p in self.participants.values() if p.trial == trial),
                          key=lambda p: p.id)

    def add_notification(self, trial, kind, participant_id, message, at):
        self.notes.append({"trial": trial, "kind": kind, "participant_id": participant_id, "message": message, "at": at})

    def notifications(self, trial):
        return [n for n in self.notes if n["trial"] == trial]

    def append_audit(self, entry, mac, bind=None, marker=None):
        seq, prev = self.head[0] + 1, self.head[1]
        hash_ = link_v2(prev, seq, mac, bind)
        self.audit.append({**copy.deepcopy(entry), "seq": seq, "prev_hash": prev, "hash": hash_,
                           "v": entry_version(entry), "mac": mac, "bind": bind, "marker": marker,
                           "nonce": entry.get("nonce")})
        self.head = (seq, hash_)

    def audit_nonce_seqs(self, nonces):
        wanted = set(nonces)
        return [(e["nonce"], e["seq"]) for e in self.audit if e.get("nonce") in wanted]

    def count_audit(self, trial):
        return len(self.audit_entries(trial))

    def audit_entries(self, trial=None, after_seq=0, limit=None):
        rows = [copy.deepcopy(e) for e in self.audit if (trial is None or e["trial"] == trial) and e["seq"] > after_seq]
        return rows if limit is None else rows[:limit]

    def audit_of(self, trial, entity):
        return [copy.deepcopy(e) for e in self.audit if e["trial"] == trial
                and (e["entity_id"] == entity or str(e["entity_id"]).startswith(entity + "/"))]

    def all_allocations(self):
        return list(self.allocs.values())

    def audit_head(self):
        return self.head

    # data queries (service.queries)
    def _query_view(self, q):
        p = self.participants[q["participant_id"]]
        entry = next((e for e in self.entry_rows if e["id"] == q["entry_id"]), None)
        first = next((m for m in getattr(self, "query_msgs", []) if m["query_id"] == q["id"] and m["seq"] == 1), None)
        return {**copy.deepcopy(q), "external_id": p.external_id, "site": p.site,
                "entry_kind": None if entry is None else entry["kind"], "question": None if first is None else first["text"]}

    def add_query(self, query):
        self.query_rows = getattr(self, "query_rows", [])
        self.query_rows.append({**copy.deepcopy(query), "id": len(self.query_rows) + 1})
        return len(self.query_rows)

    def get_query(self, trial, query_id, *, for_update=False):
        q = next((q for q in getattr(self, "query_rows", []) if q["id"] == query_id and q["trial"] == trial), None)
        return None if q is None else self._query_view(q)

    def list_queries(self, trial, status=None, participant_id=None):
        return [self._query_view(q) for q in getattr(self, "query_rows", []) if q["trial"] == trial
                and (status is None or q["status"] == status)
                and (participant_id is None or q["participant_id"] == participant_id)]

    def set_query_status(self, query_id, status, at):
        for q in self.query_rows:
            if q["id"] == query_id:
                q.update(status=status, updated_at=at)

    def add_query_message(self, query_id, message):
        self.query_msgs = getattr(self, "query_msgs", [])
        assert not any(m["query_id"] == query_id and m["seq"] == message["seq"] for m in self.query_msgs)
        self.query_msgs.append({**copy.deepcopy(message), "query_id": query_id})

    def query_messages(self, query_id):
        return sorted((copy.deepcopy(m) for m in getattr(self, "query_msgs", []) if m["query_id"] == query_id),
                      key=lambda m: m["seq"])


class FakeUnitOfWork:
    """Commits by swapping in a working copy; leaving without commit discards it."""

    def __init__(self, store: dict) -> None:
        self.store = store
        self.committed = False

    def __enter__(self):
        self.repo = copy.deepcopy(self.store["repo"])
        self.committed = False
        return self

    def __exit__(self, *exc):
        return None

    def commit(self):
        self.store["repo"] = self.repo
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


def make_ctx(verdict: str = "eligible", protocols: dict | None = None):
    from oligotrial.protocols import list_protocols, load_protocol

    clock_t = [dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)]
    store = {"repo": FakeRepository(), "commits": 0, "clock": clock_t}  # store["clock"][0] = ... moves time

    def clock():
        clock_t[0] += dt.timedelta(seconds=1)
        return clock_t[0]

    screener = FakeScreener(verdict)
    load = (lambda t: protocols[t]) if protocols else load_protocol
    ctx = ServiceContext(uow=lambda: FakeUnitOfWork(store), cipher=FakeCipher(), hasher=FakeHasher(),
                         screener=screener, load_protocol=load,
                         list_protocols=(lambda: list(protocols.values())) if protocols else list_protocols,
                         clock=clock, anchor=FakeAnchor())
    return ctx, store, screener
