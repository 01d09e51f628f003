"""The chain's versions, replays, format epoch and restore checkpoints, pure
(:mod:`oligotrial.domain.trial.audit`; issue 26 items 4 and 5). Digests are computed here from
the documented formats (RFC 2104 HMAC-SHA256 over the domain prefix and canonical JSON; SHA-256
links), not by the code under test."""

from __future__ import annotations

import hashlib
import hmac
import json

from oligotrial.domain.trial.audit import GENESIS, check_checkpoints, checkpoint_message, verify_chain

KEY = b"k" * 32
FIELDS = ("at", "actor", "role", "trial", "action", "entity_type", "entity_id", "old", "new", "reason")


def _entry(seq: int, prev: str, v: int, nonce: str | None = None) -> dict:
    e = {"seq": seq, "at": f"2026-03-01T09:00:{seq:02d}+00:00", "actor": "coord", "role": "coordinator",
         "trial": "STOP-2", "action": "participant.register", "entity_type": "participant",
         "entity_id": f"P-{seq}", "old": None, "new": {"state": "registered"}, "reason": None,
         "prev_hash": prev, "v": v, "bind": None, "nonce": nonce}
    if v == 1:  # SHA-256(prev + canonical JSON of the payload with seq)
        text = json.dumps({k: e[k] for k in ("seq", *FIELDS)}, sort_keys=True, separators=(",", ":"))
        e["mac"], e["hash"] = None, hashlib.sha256((prev + text).encode()).hexdigest()
        return e
    fields = FIELDS + (("nonce",) if v >= 3 else ())
    text = json.dumps({k: e[k] for k in fields}, sort_keys=True, separators=(",", ":"))
    e["mac"] = hmac.new(KEY, f"oligotrial.audit/{v}\n{text}".encode(), hashlib.sha256).hexdigest()
    e["hash"] = hashlib.sha256(f"{prev}:{seq}:{e['mac']}:".encode()).hexdigest()
    return e


def _chain(*versions: int, nonces: list[str] | None = None) -> list[dict]:
    out, prev = [], GENESIS
    for i, v in enumerate(versions):
        nonce = (nonces[i] if nonces else f"{i:032x}") if v >= 3 else None
        out.append(_entry(i + 1, prev, v, nonce))
        prev = out[-1]["hash"]
    return out


def _head(chain):
    return chain[-1]["seq"], chain[-1]["hash"]


def test_a_chain_of_v1_then_v2_then_v3_entries_verifies():
    """Existing chains stay verifiable: unkeyed entries (before 0004), keyed ones (0004 to 0005),
    then entries with a nonce."""
    chain = _chain(1, 1, 2, 2, 3, 3)
    rep = verify_chain(chain, _head(chain), KEY)
    assert rep.ok and rep.keyed_from == 3 and rep.checked == 6, rep.to_dict()


def test_a_copy_repeats_its_nonce_and_is_reported_as_replayed():
    chain = _chain(3, 3, 3, nonces=["a" * 32, "b" * 32, "a" * 32])  # entry 3 carries entry 1's nonce
    rep = verify_chain(chain, _head(chain), KEY)
    assert not rep.ok and rep.replayed == [3] and not rep.altered, rep.to_dict()
    # a nonce seen before the checkpoint the walk starts from counts too
    rep = verify_chain(chain[1:2], None, KEY, start=(1, chain[0]["hash"]), earlier_nonces={"b" * 32: 1})
    assert rep.replayed == [2]


def test_versions_only_rise_and_a_v3_entry_needs_its_nonce():
    chain = _chain(3, 2)  # a keyed entry without a nonce after one with
    assert verify_chain(chain, _head(chain), KEY).altered == [2]
    chain = _chain(3, 3)
    chain[1]["nonce"] = None  # the owner strips the nonce
    assert verify_chain(chain, _head(chain), KEY).altered == [2]


def test_the_format_epoch_refuses_entries_older_than_it():
    chain = _chain(1, 1, 1)  # as an owner can rewrite any chain: unkeyed links need no key
    assert verify_chain(chain, _head(chain), KEY).ok
    rep = verify_chain(chain, _head(chain), KEY, format_from={1: 1, 3: 2})
    assert not rep.ok and len(rep.format_problems) == 2, rep.to_dict()
    assert rep.format_problems[0].startswith("entry 2: version 1, but the chain's format epoch")
    legacy = _chain(1, 2, 3)
    assert verify_chain(legacy, _head(legacy), KEY, format_from={1: 1, 2: 2, 3: 3}).ok


def test_a_signed_restore_explains_the_checkpoints_it_rolled_back_and_nothing_else():
    chain = _chain(3, 3, 3, 3, 3)
    h = {e["seq"]: e["hash"] for e in chain}
    old = {"seq": 7, "hash": "f" * 64, "at": "T1"}  # signed on the live chain, after the backup (head 3)
    restore = {"seq": 3, "hash": h[3], "at": "T2", "kind": "restore", "note": "backup b"}
    cps = [{"seq": 2, "hash": h[2], "at": "T0"}, old, restore, {"seq": 5, "hash": h[5], "at": "T3"}]
    rep = check_checkpoints(verify_chain(chain, _head(chain), KEY), chain, cps)
    assert rep.ok and rep.checkpoint_seq == 5, rep.to_dict()
    assert rep.notes == ["checkpoint at seq 7 (T1): rolled back by the restore of T2"]
    # without the restore checkpoint the same log is a rollback
    rep = check_checkpoints(verify_chain(chain, _head(chain), KEY), chain, [cps[0], old, cps[3]])
    assert not rep.ok and rep.checkpoint_problems
    # a restore checkpoint must hold like any other
    bad = {**restore, "hash": "e" * 64}
    rep = check_checkpoints(verify_chain(chain, _head(chain), KEY), chain, [cps[0], old, bad])
    assert not rep.ok and rep.checkpoint_problems == [
        "checkpoint at seq 3: the chain's hash there is not the signed one (the chain up to it was rewritten)"
    ]


def test_a_restore_checkpoint_is_signed_apart_from_an_ordinary_one():
    assert checkpoint_message(3, "a" * 64, "T") != checkpoint_message(3, "a" * 64, "T", "restore", "")
    assert checkpoint_message(3, "a" * 64, "T", "restore", "backup b").startswith(b"oligotrial.audit.restore/1|3|")
