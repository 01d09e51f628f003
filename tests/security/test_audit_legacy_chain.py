"""A chain written before the keyed entries existed (migration 0003, unkeyed SHA-256 links) still
verifies after migration 0004; entries appended from then on are keyed (v2) and continue it; and
an unkeyed entry after a keyed one -- a downgrade an owner could try, since unkeyed links need no
key -- is reported as altered."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from hostile_app import TRIAL, settings_for
from oligotrial.domain.trial.audit import GENESIS, entry_hash

BACKENDS = ["sqlite", "postgres"]


def _legacy_entries(engine, n: int) -> None:
    """``n`` entries as main wrote them before issue 19 (v1: hash = SHA-256(prev + canonical))."""
    prev = GENESIS
    with engine.begin() as conn:
        for seq in range(1, n + 1):
            e = {"seq": seq, "at": f"2026-03-0{seq}T09:00:00+00:00", "actor": "coord", "role": "coordinator",
                 "trial": TRIAL, "action": "participant.register", "entity_type": "participant",
                 "entity_id": f"P-{seq}", "old": None, "new": {"state": "registered"}, "reason": None}
            h = entry_hash(prev, e)
            conn.execute(text("INSERT INTO audit_log (seq, at, actor, role, trial, action, entity_type, entity_id, "
                              "old, new, reason, prev_hash, hash) VALUES (:seq, :at, :actor, :role, :trial, :action, "
                              ":entity_type, :entity_id, NULL, :new, NULL, :prev, :hash)"),
                         {**e, "new": '{"state": "registered"}', "prev": prev, "hash": h})
            prev = h
        conn.execute(text("UPDATE audit_head SET last_seq = :s, last_hash = :h WHERE id = 1"), {"s": n, "h": prev})


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_unkeyed_chain_verifies_after_0004_and_keyed_entries_continue_it(backend, tmp_path):
    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.adapters.db.engine import make_engine
    from oligotrial.adapters.db.migrate import upgrade
    from oligotrial.bootstrap import bootstrap
    from oligotrial.service import audit, users

    with settings_for(backend, tmp_path, audit_key_dir=str(tmp_path / "keys")) as settings:
        engine = make_engine(settings.database_url, schema=settings.database_schema)
        assert upgrade(engine, "0003") == "0003"
        _legacy_entries(engine, 3)
        engine.dispose()
        c = bootstrap(settings, hasher=Argon2Hasher(fast=True))  # migrates to head (0004)
        try:
            rep = audit.verify(c.ctx)
            assert rep.ok and rep.checked == 3 and rep.keyed_from is None, rep.to_dict()
            users.add_user(c.ctx, "alice", "password-1", "coordinator", TRIAL)
            with c.ctx.uow() as uow:
                entries = uow.audit.audit_entries()
            n = len(entries)
            assert [e["v"] for e in entries] == [1, 1, 1] + [3] * (n - 3) and n > 3
            assert entries[3]["prev_hash"] == entries[2]["hash"]
            rep = audit.verify(c.ctx)
            assert rep.ok and rep.keyed_from == 4, rep.to_dict()
            # an owner rewrites the last keyed entry as an unkeyed one (hash recomputed): a downgrade
            e = dict(entries[-1])
            h = entry_hash(e["prev_hash"], e)
            with c.engine.begin() as conn:
                if backend == "postgres":
                    conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
                else:
                    conn.execute(text("DROP TRIGGER audit_log_no_update"))
                conn.execute(text("UPDATE audit_log SET v = 1, mac = NULL, hash = :h WHERE seq = :s"),
                             {"h": h, "s": n})
                conn.execute(text("UPDATE audit_head SET last_hash = :h"), {"h": h})
            rep = audit.verify(c.ctx)  # an unkeyed entry after a keyed one; and the first-commit checkpoint
            assert not rep.ok and rep.altered == [n] and rep.checkpoint_problems, rep.to_dict()
        finally:
            c.dispose()


def _v2_entries(engine, key: bytes, n: int) -> None:
    """``n`` keyed entries as 0004-0005 wrote them (v2: HMAC over the content without a nonce)."""
    import hashlib
    import hmac
    import json

    prev = GENESIS
    with engine.begin() as conn:
        for seq in range(1, n + 1):
            e = {"at": f"2026-03-0{seq}T09:00:00+00:00", "actor": "coord", "role": "coordinator", "trial": TRIAL,
                 "action": "participant.register", "entity_type": "participant", "entity_id": f"P-{seq}",
                 "old": None, "new": {"state": "registered"}, "reason": None}
            mac = hmac.new(key, b"oligotrial.audit/2\n" + json.dumps(e, sort_keys=True, separators=(",", ":")).encode(),
                           hashlib.sha256).hexdigest()
            h = hashlib.sha256(f"{prev}:{seq}:{mac}:".encode()).hexdigest()
            conn.execute(text("INSERT INTO audit_log (seq, at, actor, role, trial, action, entity_type, entity_id, "
                              "old, new, reason, prev_hash, hash, v, mac) VALUES (:seq, :at, :actor, :role, :trial, "
                              ":action, :entity_type, :entity_id, NULL, :new, NULL, :prev, :hash, 2, :mac)"),
                         {**e, "seq": seq, "new": '{"state": "registered"}', "prev": prev, "hash": h, "mac": mac})
            prev = h
        conn.execute(text("UPDATE audit_head SET last_seq = :s, last_hash = :h WHERE id = 1"), {"s": n, "h": prev})


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_keyed_v2_chain_verifies_after_0006_and_v3_entries_continue_it(backend, tmp_path):
    """Issue 26 item 4: entries written before the nonce (v2) still verify after migration
    0008_audit; new entries are v3; the format epoch recorded at the first checkpoint names both,
    so a v2 entry at a v3 sequence number is refused."""
    import json

    from oligotrial.adapters.db.anchor import FileAnchor
    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.adapters.db.engine import make_engine
    from oligotrial.adapters.db.migrate import upgrade
    from oligotrial.bootstrap import bootstrap
    from oligotrial.service import audit, users

    with settings_for(backend, tmp_path, audit_key_dir=str(tmp_path / "keys")) as settings:
        engine = make_engine(settings.database_url, schema=settings.database_schema)
        assert upgrade(engine, "0005") == "0005"
        _v2_entries(engine, FileAnchor(tmp_path / "keys").mac_key(), 3)
        engine.dispose()
        c = bootstrap(settings, hasher=Argon2Hasher(fast=True))  # migrates to head (0008_audit)
        try:
            rep = audit.verify(c.ctx)
            assert rep.ok and rep.checked == 3 and rep.keyed_from == 1, rep.to_dict()
            users.add_user(c.ctx, "alice", "password-1", "coordinator", TRIAL)  # first commit: first checkpoint
            with c.ctx.uow() as uow:
                entries = uow.audit.audit_entries()
            n = len(entries)
            assert [e["v"] for e in entries] == [2, 2, 2] + [3] * (n - 3) and n > 3
            assert audit.verify(c.ctx).ok
            epoch = json.loads((tmp_path / "keys" / "chain-format.json").read_text())["first_seq"]
            assert epoch == {"2": 1, "3": 4}, epoch
            with c.engine.begin() as conn:  # the owner relabels the last entry v2 (its MAC is then checked as v2)
                if backend == "postgres":
                    conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
                else:
                    conn.execute(text("DROP TRIGGER audit_log_no_update"))
                conn.execute(text("UPDATE audit_log SET v = 2 WHERE seq = :s"), {"s": n})
            rep = audit.verify(c.ctx)
            assert not rep.ok and n in rep.altered and rep.format_problems, rep.to_dict()
        finally:
            c.dispose()
