"""The database's owner as an attacker (issue 19 item 2): a service on a fresh database of each
backend with some trial activity, and what an owner can do with SQL alone -- switch the
append-only triggers off, rewrite rows, and recompute every hash the chain stores the way the
code that wrote them did (the owner has the code, not the keys held outside the database)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import text

from hostile_app import RECORD, RT_FOR_ARM, TRIAL, settings_for
from oligotrial.domain.trial.audit import GENESIS, allocation_bind, entry_hash, link_v2

COORD_ROLES = {TRIAL: "coordinator"}


@contextlib.contextmanager
def service_on(backend: str, tmp_path: Path):
    """A bootstrapped container (fake screener, fast hasher) on a fresh ``backend`` database,
    its audit anchor in ``tmp_path / "keys"``."""
    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.bootstrap import bootstrap
    from trialops_db import StudyClock, fake_screener

    with settings_for(backend, tmp_path, audit_key_dir=str(tmp_path / "keys")) as settings:
        c = bootstrap(settings, screener=fake_screener(), hasher=Argon2Hasher(fast=True), clock=StudyClock())
        try:
            yield c
        finally:
            c.dispose()


def activity(ctx, n: int = 4) -> list[tuple[str, str]]:
    """A live STOP-2 trial: ``n`` participants randomized and treated; returns (pid, arm)."""
    from oligotrial.service import enrolment, randomization
    from oligotrial.service.ports import Actor

    coord, treater = Actor("coord", COORD_ROLES), Actor("t", {TRIAL: "treating_oncologist"})
    randomization.generate_list(ctx, TRIAL, seed=11, size_per_stratum=20)
    out = []
    for k in range(n):
        pid = enrolment.register(ctx, coord, TRIAL, {**RECORD, "id": f"P-{k:04d}"})["id"]
        enrolment.screen(ctx, coord, TRIAL, pid)
        enrolment.consent(ctx, coord, TRIAL, pid, {"date": "2026-03-01", "form_version": "v2"})
        enrolment.enrol(ctx, coord, TRIAL, pid)
        arm = randomization.randomize(ctx, coord, TRIAL, pid, {})["arm"]
        end = "2026-03-14" if arm == "sabr" else "2026-03-10"
        enrolment.record_radiotherapy(ctx, treater, TRIAL, pid, {"start": "2026-03-10", "end": end, **RT_FOR_ARM[arm]})
        out.append((pid, arm))
    return out


def enrolled(ctx, k: int) -> str:
    from oligotrial.service import enrolment
    from oligotrial.service.ports import Actor

    coord = Actor("coord", COORD_ROLES)
    pid = enrolment.register(ctx, coord, TRIAL, {**RECORD, "id": f"P-{k:04d}"})["id"]
    enrolment.screen(ctx, coord, TRIAL, pid)
    enrolment.consent(ctx, coord, TRIAL, pid, {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, coord, TRIAL, pid)
    return pid


def as_owner(container, *statements: str, params: dict[str, Any] | None = None) -> None:
    """Run SQL with the audit trail's append-only triggers switched off (as its owner can)."""
    with container.engine.begin() as conn:
        pg = container.engine.dialect.name == "postgresql"
        if pg:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        for sql in statements:
            conn.execute(text(sql), params or {})
        if pg:
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))


def rows(container) -> list[dict[str, Any]]:
    with container.engine.connect() as conn:
        out = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM audit_log ORDER BY seq"))]
    for r in out:  # JSON columns as SQLite returns them (text)
        for k in ("old", "new"):
            if isinstance(r[k], str):
                r[k] = json.loads(r[k])
    return out


def recompute(container, *, keyed: bool, binds: dict[int, str] | None = None) -> None:
    """Recompute every stored hash and the head, as the owner can without the keys: ``keyed``
    False rewrites every entry as an unkeyed (v1) SHA-256 link, as today's code on main stores
    them; True keeps each entry's keyed digest (it cannot make one) and relinks, with new
    ``binds`` where given."""
    prev = GENESIS
    updates = []
    for r in rows(container):
        bind = (binds or {}).get(r["seq"], r["bind"])
        if keyed:
            h = link_v2(prev, r["seq"], r["mac"] or "", bind)
            updates.append({"seq": r["seq"], "prev": prev, "hash": h, "v": r["v"], "bind": bind})
        else:
            h = entry_hash(prev, r)
            updates.append({"seq": r["seq"], "prev": prev, "hash": h, "v": 1, "bind": None})
        prev = h
    last = updates[-1]["seq"] if updates else 0
    with container.engine.begin() as conn:
        if container.engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
        for u in updates:
            conn.execute(text("UPDATE audit_log SET prev_hash = :prev, hash = :hash, v = :v, bind = :bind "
                              "WHERE seq = :seq"), u)
        conn.execute(text("UPDATE audit_head SET last_seq = :s, last_hash = :h WHERE id = 1"), {"s": last, "h": prev})
        if container.engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))


def allocation_row(container, pid: str) -> dict[str, Any]:
    with container.engine.connect() as conn:
        r = dict(conn.execute(text("SELECT * FROM allocations WHERE participant_id = :p"), {"p": pid}).one()._mapping)
    if isinstance(r["strata"], str):
        r["strata"] = json.loads(r["strata"])
    return r


__all__ = ["activity", "allocation_bind", "allocation_row", "as_owner", "enrolled", "recompute", "rows",
           "service_on"]
