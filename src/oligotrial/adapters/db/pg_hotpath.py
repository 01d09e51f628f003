"""PostgreSQL statements for the two serialisation points: a stratum's cursor and the audit chain.

Every allocation in a stratum updates that stratum's cursor row, and every audited action the
one chain-head row, so these rows are locked by one transaction at a time. What makes that
cheap is how long each lock is held, and how the waiters are woken:

* The slot claim is one statement (cursor advanced, slot taken, its ciphertext returned); the
  audit append is one statement (head locked, entry linked and stored, head moved), sent with
  the allocation row in the same round trip as COMMIT (see ``SqlRepository.commit``). The
  stratum cursor is held for two round trips, the chain head for one.
* Row-lock waiters all wait on the holder's transaction id and are all woken when it commits:
  with tens of waiters each hand-over is a stampede of backends re-checking the row
  (``LWLock:LockManager`` and ``Lock:transactionid`` waits, the lock holder starved of CPU).
  An exclusive transaction-level advisory lock taken first makes them queue instead, and the
  lock manager wakes one waiter per release. The row locks are still what guarantees
  correctness; the advisory lock only orders the queue (a hash collision between two strata
  only makes them share a queue).

Statements here are in the driver's (psycopg) parameter syntax, except the claim, which returns
rows through SQLAlchemy.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from oligotrial.adapters.db import tables as t

LOCK_NS_STRATUM = 7462302
LOCK_NS_AUDIT = 7462303

#: Queue for the stratum, advance its cursor (the row lock is held to commit) and take the slot
#: the cursor pointed at; no row when the list is exhausted.
CLAIM_SLOT = text(f"""
WITH q AS MATERIALIZED (
    SELECT pg_advisory_xact_lock({LOCK_NS_STRATUM}, hashtext(CAST(:list_id AS text) || '|' || :stratum))
), cur AS (
    UPDATE randomization_strata c SET next_seq = c.next_seq + 1
      FROM q
     WHERE c.list_id = :list_id AND c.stratum = :stratum
 RETURNING c.next_seq - 1 AS seq
)
UPDATE randomization_slots s
   SET participant_id = :participant_id, allocated_at = :at
  FROM cur
 WHERE s.list_id = :list_id AND s.stratum = :stratum AND s.seq = cur.seq AND s.participant_id IS NULL
RETURNING s.seq, s.payload_ct
""")

#: The chain append. ``prev`` waits for and locks the head row (READ COMMITTED: once the
#: previous holder commits, FOR UPDATE returns the newest version); the new hash is
#: ``sha256(prev_hash || before || seq || after)``, exactly
#: :func:`oligotrial.domain.audit.link_hash` (the canonical text is ASCII JSON).
APPEND_AUDIT = f"""
WITH q AS MATERIALIZED (
    SELECT pg_advisory_xact_lock({LOCK_NS_AUDIT}, 1)
), prev AS MATERIALIZED (
    SELECT a.last_seq, a.last_hash FROM audit_head a, q WHERE a.id = 1 FOR UPDATE OF a
), head AS (
    UPDATE audit_head h
       SET last_seq = prev.last_seq + 1,
           last_hash = encode(sha256(convert_to(
               prev.last_hash || %(before)s || (prev.last_seq + 1)::text || %(after)s, 'UTF8')), 'hex')
      FROM prev
     WHERE h.id = 1
 RETURNING h.last_seq, h.last_hash, prev.last_hash AS prev_hash
)
INSERT INTO audit_log (seq, at, actor, role, trial, action, entity_type, entity_id, old, new, reason,
                       prev_hash, hash)
SELECT head.last_seq, %(at)s, %(actor)s, %(role)s, %(trial)s, %(action)s, %(entity_type)s, %(entity_id)s,
       CAST(%(old)s AS json), CAST(%(new)s AS json), %(reason)s, head.prev_hash, head.last_hash
  FROM head
"""

AUDIT_FIELDS = ("at", "actor", "role", "trial", "action", "entity_type", "entity_id", "old", "new", "reason")

_ALLOC_COLS = [c.name for c in t.allocations.columns]
ADD_ALLOCATION = (f"INSERT INTO allocations ({', '.join(_ALLOC_COLS)}) VALUES ("
                  + ", ".join(f"CAST(%({c})s AS json)" if c == "strata" else f"%({c})s" for c in _ALLOC_COLS)
                  + ")")


def _json(value: Any) -> str:
    return json.dumps(value)  # as SQLAlchemy's JSON type writes it (None is JSON null)


def append_audit_params(entry: dict[str, Any], before: str, after: str) -> dict[str, Any]:
    params = {k: entry.get(k) for k in AUDIT_FIELDS}
    params.update(old=_json(params["old"]), new=_json(params["new"]), before=before, after=after)
    return params


def allocation_params(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "strata": _json(row["strata"])}
