"""The audit trail's hash chain, pure: how an entry is hashed and how a chain is verified.

Two versions of the link, told apart by each entry's ``v``:

* v1 (entries written before keyed digests existed): the entry's hash is SHA-256 over the
  previous entry's hash and a canonical JSON of the entry (sequence number, time, who, role,
  what, old and new values, why). Anyone who can guess an entry's content can check the guess
  against its hash, and anyone who can write the table can recompute the chain.
* v2 (keyed): ``mac = HMAC-SHA256(key, content)`` over the canonical JSON of the entry without
  its sequence number (:func:`entry_mac`), computed by the service with a key held outside the
  database; the link is ``SHA-256(prev_hash ":" seq ":" mac ":" bind)`` (:func:`link_v2`), so the
  storage adapter can compute it under the chain-head lock without the key. ``bind`` ties the
  entry to a row written with it and known only when it is stored (an allocation: its slot
  number and :func:`allocation_digest`). Without the key neither the content can be checked
  against a guess (RFC 2104: HMAC is a pseudo-random function of its key) nor changed
  unnoticed.
* v3 (keyed, replay-evident): as v2, with a random ``nonce`` inside the MAC'd content
  (:func:`entry_mac` under the domain ``oligotrial.audit/3``). Every entry the service writes
  carries a fresh one, so an entry copied elsewhere in the chain (a replay: content, nonce and MAC
  kept, relinked without the key) shows the same nonce twice and is reported as ``replayed``.

The storage adapter keeps a separate *head* (last sequence number and hash) so removal or
insertion at the end of the chain is detected too; signed checkpoints held outside the
database (:func:`checkpoint_message`) anchor the head against whoever owns the database.
Versions only rise along the chain: a v1 entry after a v2 entry is an alteration. The chain's
*format epoch* (the first sequence number written in each version, kept with the keys outside
the database) lets a verifier refuse a chain rewritten in an older format from its first entry
(:func:`verify_chain`'s ``format_from``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64
PAYLOAD_FIELDS = ("seq", "at", "actor", "role", "trial", "action", "entity_type", "entity_id", "old", "new", "reason")


def canonical(payload: Mapping[str, Any]) -> str:
    return json.dumps({k: payload.get(k) for k in PAYLOAD_FIELDS}, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(prev_hash: str, payload: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(payload)).encode()).hexdigest()


#: the end of every canonical text: ``seq`` is the last key before ``trial`` (keys are sorted),
#: and ``trial``'s value is a JSON string or null, which cannot contain this text unescaped
_SEQ_MARK = '"seq":0,"trial":'


def canonical_parts(payload: Mapping[str, Any]) -> tuple[str, str]:
    """The canonical text split around the sequence number: for every integer ``n``,
    ``canonical({**payload, "seq": n}) == before + str(n) + after``.

    This lets the storage adapter compute an entry's hash while it appends the entry, in
    one statement under the chain-head lock (SQL: ``sha256(prev_hash || before || seq || after)``),
    with everything else serialised before the lock is taken. The hash is unchanged:
    :func:`link_hash` equals :func:`entry_hash`.
    """
    text = canonical({**payload, "seq": 0})
    i = text.rindex(_SEQ_MARK) + len('"seq":')
    return text[:i], text[i + 1 :]


def fill_marker(value: Any, marker: str, number: int) -> Any:
    """``value`` (JSON-like) with every occurrence of ``marker`` in its strings replaced by
    ``number``: the entry as it reads once the number the marker stands for is known."""
    if isinstance(value, str):
        return value.replace(marker, str(int(number)))
    if isinstance(value, dict):
        return {k: fill_marker(v, marker, number) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [fill_marker(v, marker, number) for v in value]
    return value


def split_at_marker(text: str, marker: str, what: str = "text") -> tuple[str, str]:
    """``text`` split around the one occurrence of ``marker``."""
    parts = text.split(marker)
    if len(parts) != 2:
        raise ValueError(f"{what}: expected the marker exactly once, found it {len(parts) - 1} times")
    return parts[0], parts[1]


def canonical_template(payload: Mapping[str, Any], marker: str) -> tuple[str, str, str]:
    """For an entry that names a number known only when it is stored (a randomization slot,
    written as ``marker`` in one of its strings): ``(head, mid, after)`` such that for every
    slot number ``k`` and sequence number ``n``,
    ``canonical({**fill_marker(payload, marker, k), "seq": n}) == head + str(k) + mid + str(n) + after``.

    The storage adapter can then claim the slot, link and store the entry in one statement.
    ``marker`` must be text that JSON writes unescaped (letters and digits) and occur once.
    """
    before, after = canonical_parts(payload)
    head, mid = split_at_marker(before, marker, "audit entry (before the sequence number)")
    return head, mid, after


def link_hash(prev_hash: str, seq: int, before: str, after: str) -> str:
    """:func:`entry_hash` from :func:`canonical_parts` and the sequence number."""
    return hashlib.sha256(f"{prev_hash}{before}{int(seq)}{after}".encode()).hexdigest()


#: the version of the keyed link, and the domain separation of its MAC and of checkpoints
KEYED = 2
#: the version the service writes: keyed, with a nonce in the MAC'd content
NONCED = 3
_MAC_PREFIX = b"oligotrial.audit/2\n"
_MAC_PREFIX_V3 = b"oligotrial.audit/3\n"
CHECKPOINT_PREFIX = "oligotrial.audit.checkpoint/1"
RESTORE_PREFIX = "oligotrial.audit.restore/1"
CONTENT_FIELDS = tuple(k for k in PAYLOAD_FIELDS if k != "seq")


def entry_version(payload: Mapping[str, Any]) -> int:
    """The entry's chain version: its stored ``v``, or (an entry not yet stored) 3 when it
    carries a nonce, else 2."""
    if payload.get("v"):
        return int(payload["v"])
    return NONCED if payload.get("nonce") else KEYED


def content(payload: Mapping[str, Any]) -> str:
    """The canonical JSON of an entry's content: every payload field but its sequence number
    (which is known only under the chain-head lock; the link covers it); for a v3 entry its
    nonce too."""
    fields = CONTENT_FIELDS + (("nonce",) if entry_version(payload) >= NONCED else ())
    return json.dumps({k: payload.get(k) for k in fields}, sort_keys=True, separators=(",", ":"), default=str)


def entry_mac(key: bytes, payload: Mapping[str, Any]) -> str:
    """HMAC-SHA256 (RFC 2104) of :func:`content` under ``key``, hex, domain-separated by version
    (``oligotrial.audit/2`` or ``/3``): a v3 entry's MAC covers its nonce."""
    prefix = _MAC_PREFIX_V3 if entry_version(payload) >= NONCED else _MAC_PREFIX
    return hmac.new(key, prefix + content(payload).encode(), hashlib.sha256).hexdigest()


def link_v2(prev_hash: str, seq: int, mac: str, bind: str | None) -> str:
    """The keyed chain's link: SHA-256 of ``prev_hash:seq:mac:bind`` (``bind`` empty when None)."""
    return hashlib.sha256(f"{prev_hash}:{int(seq)}:{mac}:{bind or ''}".encode()).hexdigest()


#: the fields of an allocation row its digest covers, in order
ALLOCATION_FIELDS = (
    "participant_id",
    "trial",
    "list_id",
    "stratum",
    "seq",
    "strata",
    "arm_ct",
    "allocated_at",
    "allocated_by",
)


def _allocation_values(row: Mapping[str, Any]) -> list[Any]:
    values = [row[k] for k in ALLOCATION_FIELDS]
    values[ALLOCATION_FIELDS.index("strata")] = dict(sorted((row["strata"] or {}).items()))
    return values


def allocation_text(row: Mapping[str, Any]) -> str:
    """The canonical text of an allocation row: a JSON array of :data:`ALLOCATION_FIELDS` (strata
    with sorted keys). The arm enters as its ciphertext (AES-GCM, random nonce), so the digest
    pins the arm without revealing it."""
    return json.dumps(_allocation_values(row), separators=(",", ":"))


def allocation_digest(row: Mapping[str, Any]) -> str:
    """SHA-256 of :func:`allocation_text`, hex."""
    return hashlib.sha256(allocation_text(row).encode()).hexdigest()


def allocation_bind(row: Mapping[str, Any]) -> str:
    """The ``bind`` of an allocation's audit entry: ``"<slot seq>:<allocation_digest>"``."""
    return f"{int(row['seq'])}:{allocation_digest(row)}"


def allocation_template(row: Mapping[str, Any], ct_marker: str) -> tuple[str, str, str]:
    """``(head, mid, tail)`` with ``allocation_text(row with seq k, arm_ct c) == head + str(k) + mid + c + tail``
    for every slot number ``k`` and ciphertext ``c`` that JSON writes unescaped (base64url), so
    the storage adapter can compute the digest in the statement that claims the slot.
    ``ct_marker`` (letters and digits) stands for the ciphertext."""
    values = _allocation_values({**row, "seq": 0, "arm_ct": ct_marker})
    i = ALLOCATION_FIELDS.index("seq")
    head = json.dumps(values[:i], separators=(",", ":"))[:-1] + ","
    rest = "," + json.dumps(values[i + 1 :], separators=(",", ":"))[1:]
    mid, tail = split_at_marker(rest, ct_marker, "allocation text")
    return head, mid, tail


def readable(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An entry as people read it: a slot number the adapter bound at storage time filled in
    where the entry names it by its ``marker``."""
    out = dict(entry)
    if out.get("marker") and out.get("bind"):
        out["new"] = fill_marker(out.get("new"), out["marker"], int(str(out["bind"]).split(":", 1)[0]))
    return out


def checkpoint_message(seq: int, hash_: str, at: str, kind: str | None = None, note: str | None = None) -> bytes:
    """The bytes a checkpoint's signature covers. A restore checkpoint (``kind`` "restore": the
    chain was restored from a backup whose head is ``(seq, hash_)``; ``note`` names the backup)
    is signed under its own prefix, so no ordinary checkpoint can be passed off as one."""
    if kind == "restore":
        return f"{RESTORE_PREFIX}|{int(seq)}|{hash_}|{at}|{note or ''}".encode()
    if kind is not None:
        raise ValueError(f"checkpoint kind {kind!r}: expected none or 'restore'")
    return f"{CHECKPOINT_PREFIX}|{int(seq)}|{hash_}|{at}".encode()


@dataclass
class ChainReport:
    """What :func:`verify_chain` found: ``ok`` only when nothing was altered, removed or inserted,
    every checkpoint matches the chain, and every allocation matches its entry."""

    checked: int = 0
    altered: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    inserted: list[int] = field(default_factory=list)
    last_seq: int = 0
    checkpoint_seq: int | None = None
    checkpoint_problems: list[str] = field(default_factory=list)
    allocation_problems: list[str] = field(default_factory=list)
    keyed_from: int | None = None
    #: entries whose nonce an earlier entry already carries (copies of it: replays)
    replayed: list[int] = field(default_factory=list)
    #: entries in an older format than the chain's format epoch says was written there
    format_problems: list[str] = field(default_factory=list)
    #: information, not failures: checkpoints rolled back by a signed restore, or after this chain's end
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.altered
            or self.removed
            or self.inserted
            or self.checkpoint_problems
            or self.allocation_problems
            or self.replayed
            or self.format_problems
        )

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "last_seq": self.last_seq,
            "altered": self.altered,
            "removed": self.removed,
            "inserted": self.inserted,
            "replayed": self.replayed,
            "checkpoint_seq": self.checkpoint_seq,
            "checkpoint_problems": self.checkpoint_problems,
            "format_problems": self.format_problems,
            "allocation_problems": self.allocation_problems,
            "keyed_from": self.keyed_from,
            "notes": self.notes,
        }


def _content_ok(e: Mapping[str, Any], key: bytes | None) -> bool:
    if int(e.get("v") or 1) < KEYED:
        return entry_hash(e["prev_hash"], e) == e["hash"]
    if key is None or not e.get("mac"):
        return False  # a keyed entry cannot be vouched for without the key
    return link_v2(e["prev_hash"], e["seq"], e["mac"], e.get("bind")) == e["hash"] and hmac.compare_digest(
        entry_mac(key, e), e["mac"]
    )


def verify_chain(
    entries: Iterable[Mapping[str, Any]],
    head: tuple[int, str] | None,
    key: bytes | None = None,
    start: tuple[int, str] = (0, GENESIS),
    format_from: Mapping[int, int | None] | None = None,
    earlier_nonces: Mapping[str, int] | None = None,
) -> ChainReport:
    """Walk entries in ``seq`` order and classify every break.

    * altered: an entry whose stored hash does not match its content (a keyed entry: its MAC
      under ``key`` and its link), whose link to its predecessor is broken without a gap or an
      insertion to explain it, or an entry in an older version than one before it (v1 after v2,
      v2 after v3: versions only rise along the chain);
    * removed: sequence numbers missing from the chain (gaps, or a tail shorter than the head);
    * inserted: entries whose link is broken but whose successor links to the entry before
      them, or entries past the recorded head;
    * replayed: a v3 entry whose nonce an earlier entry (or ``earlier_nonces``: nonce -> seq of
      entries before ``start``) already carries: a copy, whose MAC is valid because it is the
      original's;
    * format_problems: ``format_from`` (version -> the first sequence number written in it, kept
      outside the database) says an entry's sequence number was written in a newer version than
      the entry has: a chain rewritten in an older format (e.g. unkeyed v1 links, which need no
      key) is refused even where no checkpoint covers it.

    ``start`` is the (seq, hash) the entries continue from (a checkpoint), genesis by default.
    """
    rows = sorted(entries, key=lambda e: e["seq"])
    rep = ChainReport(checked=len(rows))
    prev_seq, prev_hash = start
    top = 1
    nonces: dict[str, int] = dict(earlier_nonces or {})
    epochs = sorted((int(v), int(s)) for v, s in (format_from or {}).items() if s is not None)
    i = 0
    while i < len(rows):
        e = rows[i]
        seq = e["seq"]
        content_ok = _content_ok(e, key)
        v = int(e.get("v") or 1)
        if v >= KEYED and rep.keyed_from is None:
            rep.keyed_from = seq
        if v < top:
            content_ok = False  # a downgrade: versions only rise along the chain
        top = max(top, v)
        due = max((ver for ver, first in epochs if seq >= first), default=1)
        if v < due:
            rep.format_problems.append(
                f"entry {seq}: version {v}, but the chain's format epoch (kept with the keys) "
                f"says entries from seq {dict(epochs)[due]} were written as version {due}"
            )
        if v >= NONCED:
            nonce = str(e.get("nonce") or "")
            if not nonce:
                content_ok = False
            elif nonce in nonces:
                rep.replayed.append(seq)
            else:
                nonces[nonce] = seq
        if seq > prev_seq + 1:
            rep.removed.extend(range(prev_seq + 1, seq))
        elif seq <= prev_seq:  # a duplicate seq cannot exist in storage; treat as inserted
            rep.inserted.append(seq)
            i += 1
            continue
        if not content_ok:
            rep.altered.append(seq)
        elif e["prev_hash"] != prev_hash and seq == prev_seq + 1:
            nxt = rows[i + 1] if i + 1 < len(rows) else None
            if nxt is not None and nxt["prev_hash"] == prev_hash:
                rep.inserted.append(seq)
                i += 1
                continue  # skip it: the chain continues from the entry before
            rep.altered.append(seq)
        prev_hash, prev_seq = e["hash"], seq
        i += 1
    rep.last_seq = prev_seq
    if head is not None:
        head_seq, head_hash = head
        if head_seq > prev_seq:
            rep.removed.extend(range(prev_seq + 1, head_seq + 1))
        elif head_seq < prev_seq:
            rep.inserted.extend(r["seq"] for r in rows if r["seq"] > head_seq and r["seq"] not in rep.inserted)
        elif head_hash != prev_hash and prev_seq not in rep.altered:
            rep.altered.append(prev_seq)
    rep.removed = sorted(set(rep.removed))
    rep.inserted = sorted(set(rep.inserted))
    rep.altered = sorted(set(rep.altered))
    return rep


def format_epoch(entries: Iterable[Mapping[str, Any]]) -> dict[int, int]:
    """Version -> the first sequence number written in it, as the chain shows (what the anchor
    records on first use, once the chain verifies)."""
    out: dict[int, int] = {}
    for e in sorted(entries, key=lambda e: e["seq"]):
        out.setdefault(int(e.get("v") or 1), int(e["seq"]))
    return out


def check_checkpoints(
    rep: ChainReport,
    entries: Iterable[Mapping[str, Any]],
    checkpoints: Iterable[Mapping[str, Any]],
    later_ok: bool = False,
) -> ChainReport:
    """Hold the chain against checkpoints kept outside the database (their signatures already
    checked by whoever read them): each names a (seq, hash) the chain must still hold, so a
    chain rewritten, truncated or wiped before the latest checkpoint no longer matches it.

    A signed restore checkpoint (``kind`` "restore", written by ``oligotrial db restore``) names
    the head of the backup the chain was restored from: it must hold like any checkpoint, and the
    checkpoints signed before it above its sequence number were rolled back by that restore
    (reported in ``notes``, not as problems). A rollback without one still fails.
    ``later_ok`` (a backup being taken or restored): checkpoints past the chain's end are
    ``notes`` too (the live chain went on after the copy was taken)."""
    by_seq = {e["seq"]: e["hash"] for e in entries}
    cps = list(checkpoints)
    active: list[Mapping[str, Any]] = []
    restore: tuple[int, str] | None = None  # the lowest (seq, at) of the restores after the one looked at
    for cp in reversed(cps):
        seq = int(cp["seq"])
        if restore is not None and seq > restore[0]:
            rep.notes.append(f"checkpoint at seq {seq} ({cp.get('at')}): rolled back by the restore of {restore[1]}")
            continue
        active.append(cp)
        if cp.get("kind") == "restore" and (restore is None or seq < restore[0]):
            restore = (seq, str(cp.get("at")))
    for cp in reversed(active):
        seq, hash_ = int(cp["seq"]), str(cp["hash"])
        if later_ok and seq > rep.last_seq:
            rep.notes.append(f"checkpoint at seq {seq}: after this copy's last entry ({rep.last_seq})")
            continue
        rep.checkpoint_seq = max(seq, rep.checkpoint_seq or 0)
        if seq == 0:
            continue
        if seq not in by_seq:
            rep.checkpoint_problems.append(
                f"checkpoint at seq {seq}: the entry is missing (chain ends at {rep.last_seq})"
            )
            rep.removed = sorted(set(rep.removed) | set(range(rep.last_seq + 1, seq + 1)))
        elif by_seq[seq] != hash_:
            rep.checkpoint_problems.append(
                f"checkpoint at seq {seq}: the chain's hash there is not the signed "
                "one (the chain up to it was rewritten)"
            )
    rep.notes.reverse()
    return rep


def check_allocations(
    rep: ChainReport,
    entries: Iterable[Mapping[str, Any]],
    allocations: Iterable[Mapping[str, Any]],
    action: str = "participant.randomize",
) -> ChainReport:
    """Hold every allocation row against the keyed entry that recorded it (``bind``: its slot
    number and :func:`allocation_digest`): a swapped, altered or deleted allocation, or one no
    entry records, is reported. Allocations recorded by unkeyed (v1) entries are not bound."""
    bound: dict[str, list[str]] = {}
    legacy: set[str] = set()
    for e in entries:
        if e.get("action") != action:
            continue
        if int(e.get("v") or 1) >= KEYED and e.get("bind"):
            bound.setdefault(str(e["entity_id"]), []).append(str(e["bind"]))
        else:
            legacy.add(str(e["entity_id"]))
    seen = set()
    for a in allocations:
        pid = str(a["participant_id"])
        seen.add(pid)
        binds = bound.get(pid)
        if binds is None:
            if pid not in legacy:
                rep.allocation_problems.append(f"allocation of {pid}: no audit entry records it")
        elif allocation_bind(a) not in binds:
            rep.allocation_problems.append(
                f"allocation of {pid}: differs from the row its audit entry recorded (swapped or altered)"
            )
    for pid in sorted(set(bound) - seen):
        rep.allocation_problems.append(f"allocation of {pid}: recorded in the audit trail, missing from the table")
    return rep
