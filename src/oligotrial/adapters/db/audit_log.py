"""The audit chain in SQL (the audit aggregate). On PostgreSQL an append is one statement sent
with COMMIT (:mod:`.pg_hotpath`)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import func, insert, or_, select, update

from oligotrial.adapters.db import pg_hotpath as pg
from oligotrial.adapters.db import tables as t
from oligotrial.adapters.db.session import SqlSession
from oligotrial.domain.trial.audit import entry_version, link_v2
from oligotrial.errors import StorageError
from oligotrial.service.rows import AuditEntry, AuditRow


class SqlAuditRepository:
    """:class:`~oligotrial.service.ports.AuditRepository` on the unit of work's connection."""

    def __init__(self, session: SqlSession) -> None:
        self._s = session

    def append_audit(self, entry: AuditEntry, mac: str, bind: str | None = None, marker: str | None = None) -> None:
        self._s.appended += 1
        if self._s.pg:  # one statement, sent with COMMIT: see pg_hotpath
            self._s.deferred.append((pg.APPEND_AUDIT, pg.append_audit_params(entry, mac, bind, marker)))
            return
        # SQLite: BEGIN IMMEDIATE already holds the database write lock, so three statements
        # are as serialised as one
        head = self._s.exec(select(t.audit_head).where(t.audit_head.c.id == 1)).first()
        if head is None:
            raise StorageError("audit_head: missing; run `oligotrial db upgrade`", code="not_migrated")
        seq, prev = head.last_seq + 1, head.last_hash
        hash_ = link_v2(prev, seq, mac, bind)
        self._s.exec(
            insert(t.audit_log).values(
                **{k: entry.get(k) for k in pg.AUDIT_FIELDS},
                seq=seq,
                prev_hash=prev,
                hash=hash_,
                v=entry_version(entry),
                mac=mac,
                bind=bind,
                marker=marker,
                nonce=entry.get("nonce"),
            )
        )
        self._s.exec(update(t.audit_head).where(t.audit_head.c.id == 1).values(last_seq=seq, last_hash=hash_))

    def audit_entries(self, trial: str | None = None, after_seq: int = 0, limit: int | None = None) -> list[AuditRow]:
        q = select(t.audit_log).order_by(t.audit_log.c.seq)
        if trial is not None:
            q = q.where(t.audit_log.c.trial == trial)
        if after_seq:
            q = q.where(t.audit_log.c.seq > after_seq)
        if limit is not None:
            q = q.limit(limit)
        return cast(list[AuditRow], [dict(r._mapping) for r in self._s.exec(q)])

    def audit_of(self, trial: str, entity: str) -> list[AuditRow]:
        a = t.audit_log
        like = entity.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
        q = (
            select(a)
            .where(a.c.trial == trial, or_(a.c.entity_id == entity, a.c.entity_id.like(like, escape="\\")))
            .order_by(a.c.seq)
        )
        return cast(list[AuditRow], [dict(r._mapping) for r in self._s.exec(q)])

    def user_audit(self, limit: int) -> list[AuditRow]:
        """The latest ``limit`` audit entries about accounts (``entity_type`` user), newest first."""
        q = select(t.audit_log).where(t.audit_log.c.entity_type == "user").order_by(t.audit_log.c.seq.desc())
        return cast(list[AuditRow], [dict(r._mapping) for r in self._s.exec(q.limit(limit))])

    def audit_nonce_seqs(self, nonces: list[str]) -> list[tuple[str, int]]:
        """(nonce, seq) of every entry carrying one of ``nonces`` (indexed: ix_audit_log_nonce)."""
        out: list[tuple[str, int]] = []
        for i in range(0, len(nonces), 500):
            q = (
                select(t.audit_log.c.nonce, t.audit_log.c.seq)
                .where(t.audit_log.c.nonce.in_(nonces[i : i + 500]))
                .order_by(t.audit_log.c.seq)
            )
            out.extend((r.nonce, r.seq) for r in self._s.exec(q))
        return out

    def count_audit(self, trial: str) -> int:
        return cast(
            int,
            self._s.exec(
                select(func.count()).select_from(t.audit_log).where(t.audit_log.c.trial == trial)
            ).scalar_one(),
        )

    def audit_head(self) -> tuple[int, str] | None:
        row = self._s.exec(select(t.audit_head).where(t.audit_head.c.id == 1)).first()
        return None if row is None else (row.last_seq, row.last_hash)
