"""Data queries and their messages, in SQL (the queries aggregate)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import and_, insert, select, update

from oligotrial.adapters.db import tables as t
from oligotrial.adapters.db.session import SqlSession
from oligotrial.service.rows import NewQuery, QueryMessage, QueryMessageRow, QueryRow


class SqlQueryRepository:
    """:class:`~oligotrial.service.ports.QueryRepository` on the unit of work's connection."""

    def __init__(self, session: SqlSession) -> None:
        self._s = session

    def _query_select(self) -> Any:
        q, p, m, e = t.data_queries, t.participants, t.data_query_messages, t.entries
        return (
            select(q, p.c.external_id, p.c.site, e.c.kind.label("entry_kind"), m.c.text.label("question"))
            .join(p, p.c.id == q.c.participant_id)
            .outerjoin(e, e.c.id == q.c.entry_id)
            .outerjoin(m, and_(m.c.query_id == q.c.id, m.c.seq == 1))
        )

    def add_query(self, query: NewQuery) -> int:
        """Store a new query (trial, participant_id, entry_id, field, status, raised_by, raised_at,
        updated_at); its id."""
        return cast(
            int, self._s.exec(insert(t.data_queries).values(**query).returning(t.data_queries.c.id)).scalar_one()
        )

    def get_query(self, trial: str, query_id: int, *, for_update: bool = False) -> QueryRow | None:
        """The query with its participant's own id and site, its entry's kind and its question;
        locked until commit with ``for_update``."""
        stmt = self._query_select().where(t.data_queries.c.id == query_id, t.data_queries.c.trial == trial)
        if for_update:
            stmt = stmt.with_for_update(of=t.data_queries)
        row = self._s.exec(stmt).first()
        return None if row is None else cast(QueryRow, dict(row._mapping))

    def list_queries(self, trial: str, status: str | None = None, participant_id: str | None = None) -> list[QueryRow]:
        q = t.data_queries
        stmt = self._query_select().where(q.c.trial == trial).order_by(q.c.id)
        if status is not None:
            stmt = stmt.where(q.c.status == status)
        if participant_id is not None:
            stmt = stmt.where(q.c.participant_id == participant_id)
        return cast(list[QueryRow], [dict(r._mapping) for r in self._s.exec(stmt)])

    def set_query_status(self, query_id: int, status: str, at: str) -> None:
        self._s.exec(update(t.data_queries).where(t.data_queries.c.id == query_id).values(status=status, updated_at=at))

    def add_query_message(self, query_id: int, message: QueryMessage) -> None:
        """Append one step (seq, action, by, role, at, text) to the query's history."""
        self._s.exec(insert(t.data_query_messages).values(query_id=query_id, **message))

    def query_messages(self, query_id: int) -> list[QueryMessageRow]:
        m = t.data_query_messages
        rows = self._s.exec(select(m).where(m.c.query_id == query_id).order_by(m.c.seq))
        return cast(list[QueryMessageRow], [dict(r._mapping) for r in rows])
