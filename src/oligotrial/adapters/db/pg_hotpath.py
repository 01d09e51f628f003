"""PostgreSQL statements for the two serialisation points: a stratum's cursor and the audit chain.

Every allocation in a stratum updates that stratum's cursor row, and every audited action the
one chain-head row, so these rows are locked by one transaction at a time. What makes that
cheap is how long each lock is held, and how the waiters are woken:

* A randomization from a pre-generated list is one statement (:data:`ALLOCATE`: participant
  locked and checked, cursor advanced, slot taken, participant, allocation and audit entry
  written), sent with BEGIN and COMMIT in one round trip. No lock is held while the client
  works: the stratum's cursor and the chain head are held for that statement and the commit.
  Other audited actions append with one statement (:data:`APPEND_AUDIT`) sent with COMMIT
  (``SqlSession.commit_deferred``), so the chain head is held for one round trip.
* The slot is found by its whole primary key (``seq = (SELECT ...)``, an InitPlan parameter and
  so an index condition). Joined to the cursor's CTE instead, the planner filtered every slot of
  the stratum; and while a new list has no statistics it preferred the unique index on
  ``participant_id`` for ``participant_id IS NULL`` (every untaken slot). The "untaken" guard is
  therefore written so that no index can serve it. Either way the critical section read the
  whole stratum.
* Row-lock waiters all wait on the holder's transaction id and are all woken when it commits:
  with tens of waiters each hand-over is a stampede of backends re-checking the row
  (``LWLock:LockManager`` and ``Lock:transactionid`` waits, the lock holder starved of CPU).
  An exclusive transaction-level advisory lock taken first makes them queue instead, and the
  lock manager wakes one waiter per release. The row locks are still what guarantees
  correctness; the advisory lock only orders the queue (a hash collision between two strata
  only makes them share a queue).

Statements here are in the driver's (psycopg) parameter syntax and are sent by the driver
itself (no SQLAlchemy statement compilation or result processing on the hot path).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import JSON

from oligotrial.adapters.db import tables as t
from oligotrial.domain.trial.audit import entry_version

LOCK_NS_STRATUM = 7462302
LOCK_NS_AUDIT = 7462303

#: Queue for the stratum, advance its cursor (the row lock is held to commit) and take the slot
#: the cursor pointed at; no row when the list is exhausted (the step-by-step path).
CLAIM_SLOT = f"""
WITH q AS MATERIALIZED (
    SELECT pg_advisory_xact_lock({LOCK_NS_STRATUM}, hashtext(CAST(%(list_id)s AS text) || '|' || %(stratum)s))
), cur AS (
    UPDATE randomization_strata c SET next_seq = c.next_seq + 1
      FROM q
     WHERE c.list_id = %(list_id)s AND c.stratum = %(stratum)s
 RETURNING c.next_seq - 1 AS seq
)
UPDATE randomization_slots s
   SET participant_id = %(participant_id)s, allocated_at = %(at)s
 WHERE s.list_id = %(list_id)s AND s.stratum = %(stratum)s AND s.seq = (SELECT seq FROM cur)
   AND coalesce(s.participant_id, '') = ''  -- untaken; deliberately not indexable (see above)
RETURNING s.seq, s.payload_ct
"""

#: The chain append. ``prev`` waits for and locks the head row (READ COMMITTED: once the
#: previous holder commits, FOR UPDATE returns the newest version); the new hash is
#: ``sha256(prev_hash ":" seq ":" mac ":" bind)``, exactly
#: :func:`oligotrial.domain.trial.audit.link_v2` (the keyed digest ``mac`` was computed by the
#: service before the lock: the key never reaches the database).
APPEND_AUDIT = f"""
WITH q AS MATERIALIZED (
    SELECT pg_advisory_xact_lock({LOCK_NS_AUDIT}, 1)
), prev AS MATERIALIZED (
    SELECT a.last_seq, a.last_hash FROM audit_head a, q WHERE a.id = 1 FOR UPDATE OF a
), head AS (
    UPDATE audit_head h
       SET last_seq = prev.last_seq + 1,
           last_hash = encode(sha256(convert_to(prev.last_hash || ':' || (prev.last_seq + 1)::text || ':'
               || %(mac)s || ':' || coalesce(CAST(%(bind)s AS text), ''), 'UTF8')), 'hex')
      FROM prev
     WHERE h.id = 1
 RETURNING h.last_seq, h.last_hash, prev.last_hash AS prev_hash
)
INSERT INTO audit_log (seq, at, actor, role, trial, action, entity_type, entity_id, old, new, reason,
                       prev_hash, hash, v, mac, bind, marker, nonce)
SELECT head.last_seq, %(at)s, %(actor)s, %(role)s, %(trial)s, %(action)s, %(entity_type)s, %(entity_id)s,
       CAST(%(old)s AS json), CAST(%(new)s AS json), %(reason)s, head.prev_hash, head.last_hash,
       %(v)s, %(mac)s, CAST(%(bind)s AS text), CAST(%(marker)s AS text), CAST(%(nonce)s AS text)
  FROM head
"""

AUDIT_FIELDS = ("at", "actor", "role", "trial", "action", "entity_type", "entity_id", "old", "new", "reason")

_ALLOC_COLS = [c.name for c in t.allocations.columns]
ADD_ALLOCATION = (
    f"INSERT INTO allocations ({', '.join(_ALLOC_COLS)}) VALUES ("
    + ", ".join(f"CAST(%({c})s AS json)" if c == "strata" else f"%({c})s" for c in _ALLOC_COLS)
    + ")"
)


def _json(value: Any) -> str:
    return json.dumps(value)  # as SQLAlchemy's JSON type writes it (None is JSON null)


def append_audit_params(entry: Mapping[str, Any], mac: str, bind: str | None, marker: str | None) -> dict[str, Any]:
    params = {k: entry.get(k) for k in AUDIT_FIELDS}
    params.update(
        old=_json(params["old"]),
        new=_json(params["new"]),
        mac=mac,
        bind=bind,
        marker=marker,
        nonce=entry.get("nonce"),
        v=entry_version(entry),
    )
    return params


def allocation_params(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "strata": _json(row["strata"])}


_P_COLS = tuple(c.name for c in t.participants.columns)
_L_COLS = tuple(c.name for c in t.randomization_lists.columns)
_JSON_COLS = frozenset(
    c.name
    for table in (t.participants, t.randomization_lists, t.allocations)
    for c in table.columns
    if isinstance(c.type, JSON)
)

#: The participant, row-locked to commit, with its trial's live list (None columns if there is
#: none) in one statement; sent in the same round trip as BEGIN. Participants are found by
#: primary key alone here and in :data:`ALLOCATE` (ids are unique across trials; the trial is
#: checked after): with ``trial = ...`` beside it, a planner without statistics read every
#: participant of the trial through the (trial, external_id) index.
LOCK_FOR_RANDOMIZATION = (
    "SELECT "
    + ", ".join(f"p.{c}" for c in _P_COLS)
    + ", "
    + ", ".join(f"l.{c} AS l_{c}" for c in _L_COLS)
    + " FROM participants p LEFT JOIN randomization_lists l ON l.trial = p.trial"
    + " WHERE p.id = %(pid)s FOR UPDATE OF p"
)  # by primary key only: the caller checks the trial


def json_value(value: Any) -> Any:
    """A JSON column as the driver returned it (decoded, or text where a loader is not set)."""
    return json.loads(value) if isinstance(value, str) else value


def split_randomization_row(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(participant columns, list columns or None) from a :data:`LOCK_FOR_RANDOMIZATION` row."""
    p = {c: (json_value(row[c]) if c in _JSON_COLS else row[c]) for c in _P_COLS}
    if row["l_id"] is None:
        return p, None
    return p, {c: (json_value(row[f"l_{c}"]) if c in _JSON_COLS else row[f"l_{c}"]) for c in _L_COLS}


#: A whole randomization from a pre-generated list in one statement, sent with BEGIN and COMMIT
#: (one round trip): lock the participant and check its state; queue for the stratum, advance
#: its cursor, take the slot; write the participant's new state, the allocation (the slot's
#: ciphertext is the allocation's) and the audit entry with the slot number in it, linked to the
#: chain head. Every write reads the claimed slot, so a participant in the wrong state or an
#: exhausted list writes nothing; the row returned (participant's state, slot) says which.
#: Nothing waits on the client while a lock is held: the stratum's and the chain head's are held
#: for this statement and the commit only. (READ COMMITTED: the participant, the cursor and the
#: chain head are read at their newest committed version once their locks are granted.)
ALLOCATE = f"""
WITH pl AS MATERIALIZED (
    SELECT p.id, p.trial, p.state FROM participants p
     WHERE p.id = %(participant_id)s
       FOR UPDATE
), ok AS MATERIALIZED (
    SELECT pl.id FROM pl WHERE pl.trial = %(trial)s AND pl.state = %(from_state)s
), q AS MATERIALIZED (
    SELECT pg_advisory_xact_lock({LOCK_NS_STRATUM}, hashtext(CAST(%(list_id)s AS text) || '|' || %(stratum)s))
      FROM ok
), cur AS (
    UPDATE randomization_strata c SET next_seq = c.next_seq + 1
      FROM q
     WHERE c.list_id = %(list_id)s AND c.stratum = %(stratum)s
 RETURNING c.next_seq - 1 AS seq
), slot AS (
    UPDATE randomization_slots s
       SET participant_id = %(participant_id)s, allocated_at = %(at)s
     WHERE s.list_id = %(list_id)s AND s.stratum = %(stratum)s AND s.seq = (SELECT seq FROM cur)
       AND coalesce(s.participant_id, '') = ''  -- untaken; deliberately not indexable (CLAIM_SLOT)
 RETURNING s.seq, s.payload_ct
), part AS (
    UPDATE participants p SET {{participant_sets}}
      FROM slot
     WHERE p.id = %(participant_id)s
), alloc AS (
    INSERT INTO allocations (participant_id, trial, list_id, stratum, seq, strata, arm_ct, allocated_at,
                             allocated_by)
    SELECT %(participant_id)s, %(trial)s, %(list_id)s, %(stratum)s, slot.seq, CAST(%(strata)s AS json),
           slot.payload_ct, %(at)s, %(allocated_by)s
      FROM slot
 ), qa AS MATERIALIZED (
    SELECT pg_advisory_xact_lock({LOCK_NS_AUDIT}, 1) FROM slot
), prev AS MATERIALIZED (
    SELECT a.last_seq, a.last_hash FROM audit_head a, qa WHERE a.id = 1 FOR UPDATE OF a
), b AS (
    SELECT slot.seq::text || ':' || encode(sha256(convert_to(
               %(r_head)s || slot.seq::text || %(r_mid)s || slot.payload_ct || %(r_tail)s, 'UTF8')), 'hex') AS bind
      FROM slot
), head AS (
    UPDATE audit_head h
       SET last_seq = prev.last_seq + 1,
           last_hash = encode(sha256(convert_to(
               prev.last_hash || ':' || (prev.last_seq + 1)::text || ':' || %(e_mac)s || ':' || b.bind, 'UTF8')), 'hex')
      FROM prev, b
     WHERE h.id = 1
 RETURNING h.last_seq, h.last_hash, prev.last_hash AS prev_hash, b.bind
), entry AS (
    INSERT INTO audit_log (seq, at, actor, role, trial, action, entity_type, entity_id, old, new, reason,
                           prev_hash, hash, v, mac, bind, marker, nonce)
    SELECT head.last_seq, %(e_at)s, %(e_actor)s, %(e_role)s, %(e_trial)s, %(e_action)s, %(e_entity_type)s,
           %(e_entity_id)s, CAST(%(e_old)s AS json), CAST(%(e_new)s AS json), %(e_reason)s,
           head.prev_hash, head.last_hash, %(e_v)s, %(e_mac)s, head.bind, %(e_marker)s, CAST(%(e_nonce)s AS text)
      FROM head
)
SELECT pl.state, slot.seq, slot.payload_ct FROM pl LEFT JOIN slot ON true WHERE pl.trial = %(trial)s
"""

_ALLOCATE_SQL: dict[tuple[str, ...], str] = {}


def allocate_sql(fields: tuple[str, ...]) -> str:
    """:data:`ALLOCATE` writing the participant's named (non-JSON) fields."""
    sql = _ALLOCATE_SQL.get(fields)
    if sql is None:
        bad = [f for f in fields if f in _JSON_COLS or f not in _P_COLS or f in ("id", "trial")]
        if bad or not fields:
            raise ValueError(f"allocate fields {bad or fields!r}: expected some of state, randomized_on, version")
        sets = ", ".join(f"{f} = %(p_{f})s" for f in fields)
        sql = _ALLOCATE_SQL[fields] = ALLOCATE.replace("{participant_sets}", sets)
    return sql


def allocate_params(req: Any, row_template: tuple[str, str, str]) -> dict[str, Any]:
    """Parameters of :data:`ALLOCATE`; ``row_template`` is
    :func:`oligotrial.domain.trial.audit.allocation_template` of the allocation it writes."""
    e = req.entry
    params = {
        "list_id": req.list_id,
        "stratum": req.stratum,
        "participant_id": req.participant_id,
        "from_state": req.from_state,
        "at": req.at,
        "trial": req.trial,
        "strata": _json(req.strata),
        "allocated_by": req.by,
        "r_head": row_template[0],
        "r_mid": row_template[1],
        "r_tail": row_template[2],
        "e_new": _json(e.get("new")),
        "e_old": _json(e.get("old")),
        "e_mac": req.mac,
        "e_marker": req.marker,
        "e_nonce": e.get("nonce"),
        "e_v": entry_version(e),
    }
    for k in ("at", "actor", "role", "trial", "action", "entity_type", "entity_id", "reason"):
        params[f"e_{k}"] = e.get(k)
    for f, value in req.changes.items():
        params[f"p_{f}"] = value
    return params
