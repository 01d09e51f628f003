"""The audit trail's hash chain, pure: how an entry is hashed and how a chain is verified.

Each entry's hash is SHA-256 over the previous entry's hash and a canonical JSON of the entry
(sequence number, time, who, role, what, old and new values, why). The storage adapter keeps
a separate *head* (last sequence number and hash) so removal or insertion at the end of the
chain is detected too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64
PAYLOAD_FIELDS = ("seq", "at", "actor", "role", "trial", "action", "entity_type", "entity_id",
                  "old", "new", "reason")


def canonical(payload: Mapping[str, Any]) -> str:
    return json.dumps({k: payload.get(k) for k in PAYLOAD_FIELDS}, sort_keys=True,
                      separators=(",", ":"), default=str)


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
    return text[:i], text[i + 1:]


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


@dataclass
class ChainReport:
    """What :func:`verify_chain` found: ``ok`` only when nothing was altered, removed or inserted."""

    checked: int = 0
    altered: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    inserted: list[int] = field(default_factory=list)
    last_seq: int = 0

    @property
    def ok(self) -> bool:
        return not (self.altered or self.removed or self.inserted)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "checked": self.checked, "last_seq": self.last_seq,
                "altered": self.altered, "removed": self.removed, "inserted": self.inserted}


def verify_chain(entries: Iterable[Mapping[str, Any]], head: tuple[int, str] | None) -> ChainReport:
    """Walk entries in ``seq`` order and classify every break.

    * altered: an entry whose stored hash does not match its content, or whose link to its
      predecessor is broken without a gap or an insertion to explain it;
    * removed: sequence numbers missing from the chain (gaps, or a tail shorter than the head);
    * inserted: entries whose link is broken but whose successor links to the entry before
      them, or entries past the recorded head.
    """
    rows = sorted(entries, key=lambda e: e["seq"])
    rep = ChainReport(checked=len(rows))
    prev_hash, prev_seq = GENESIS, 0
    i = 0
    while i < len(rows):
        e = rows[i]
        seq = e["seq"]
        content_ok = entry_hash(e["prev_hash"], e) == e["hash"]
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
