"""Participants with their follow-up entries, visits and notifications, in SQL (the
participants aggregate)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from sqlalchemy import bindparam, insert, select, update

from oligotrial.adapters.db import tables as t
from oligotrial.adapters.db.session import SqlSession
from oligotrial.domain.trial.workflow import Participant
from oligotrial.service.rows import EntryRow, JsonObject, NewVisit, NotificationRow, VisitRow

_P_FIELDS = (
    "id",
    "trial",
    "external_id",
    "state",
    "record",
    "screening",
    "consent",
    "enrolment",
    "radiotherapy",
    "randomized_on",
    "created_at",
    "version",
    "site",
    "closure",
)
_P_MUTABLE = tuple(k for k in _P_FIELDS if k not in ("id", "trial", "created_at", "site"))

# Statements on the hot paths, built once: building a Core statement with literal values costs
# more client CPU than executing it (its cache key is recomputed from every value each time).
# by primary key alone (ids are unique across trials; the trial is checked on the row): with
# ``trial = ...`` beside it, a planner without statistics on a freshly loaded table read every
# participant of the trial through the (trial, external_id) index
_GET_PARTICIPANT = select(t.participants).where(t.participants.c.id == bindparam("pid"))
_GET_PARTICIPANT_FOR_UPDATE = _GET_PARTICIPANT.with_for_update()
_GET_PARTICIPANT_SITE = select(t.participants.c.trial, t.participants.c.site).where(
    t.participants.c.id == bindparam("pid")
)
_SAVE_PARTICIPANT = update(t.participants).where(t.participants.c.id == bindparam("_id"))


def _entry(r: Any) -> EntryRow:
    """A follow-up entry as the services see it: its metadata and its data, kept apart."""
    return {
        "id": r.id,
        "kind": r.kind,
        "at": r.at,
        "by": r.by,
        "status": r.status,
        "version": r.version,
        "updated_at": r.updated_at,
        "updated_by": r.updated_by,
        "reason": r.reason,
        "data": r.data,
    }


def _participant(row: Any) -> Participant:
    m = row._mapping
    return Participant(**{k: m[k] for k in _P_FIELDS})


class SqlParticipantRepository:
    """:class:`~oligotrial.service.ports.ParticipantRepository` on the unit of work's connection."""

    def __init__(self, session: SqlSession) -> None:
        self._s = session

    def add_participant(self, p: Participant) -> None:
        self._s.exec(insert(t.participants).values(**{k: getattr(p, k) for k in _P_FIELDS}))

    def get_participant(self, trial: str, pid: str, *, for_update: bool = False) -> Participant | None:
        row = self._s.exec(_GET_PARTICIPANT_FOR_UPDATE if for_update else _GET_PARTICIPANT, {"pid": pid}).first()
        return None if row is None or row.trial != trial else _participant(row)

    def participant_site(self, trial: str, pid: str) -> tuple[bool, str | None]:
        row = self._s.exec(_GET_PARTICIPANT_SITE, {"pid": pid}).first()
        return (False, None) if row is None or row.trial != trial else (True, row.site)

    def find_participant(self, trial: str, external_id: str) -> Participant | None:
        row = self._s.exec(
            select(t.participants).where(t.participants.c.trial == trial, t.participants.c.external_id == external_id)
        ).first()
        return None if row is None else _participant(row)

    def save_participant(self, p: Participant, fields: tuple[str, ...] | None = None) -> None:
        names = _P_MUTABLE if fields is None else fields
        unknown = set(names) - set(_P_MUTABLE)
        if unknown:
            raise ValueError(f"save_participant fields {sorted(unknown)}: expected some of {list(_P_MUTABLE)}")
        self._s.exec(_SAVE_PARTICIPANT, {"_id": p.id, **{k: getattr(p, k) for k in names}})

    def list_participants(self, trial: str) -> list[Participant]:
        rows = self._s.exec(
            select(t.participants)
            .where(t.participants.c.trial == trial)
            .order_by(t.participants.c.created_at, t.participants.c.id)
        )
        return [_participant(r) for r in rows]

    def iter_participants(self, trial: str, batch: int = 200) -> Iterator[Participant]:
        """Every participant of ``trial`` by id, read ``batch`` rows at a time (keyset paging: an
        export never holds the whole trial in memory)."""
        after = ""
        while True:
            rows = self._s.exec(
                select(t.participants)
                .where(t.participants.c.trial == trial, t.participants.c.id > after)
                .order_by(t.participants.c.id)
                .limit(batch)
            ).all()
            if not rows:
                return
            for r in rows:
                yield _participant(r)
            after = rows[-1].id

    def add_visits(self, participant_id: str, visits: list[NewVisit]) -> None:
        if visits:
            self._s.exec(insert(t.visits), [{**v, "participant_id": participant_id} for v in visits])

    def visits(self, participant_id: str) -> list[VisitRow]:
        rows = [
            dict(r._mapping)
            for r in self._s.exec(
                select(t.visits)
                .where(t.visits.c.participant_id == participant_id)
                .order_by(t.visits.c.target, t.visits.c.id)
            )
        ]
        return cast(list[VisitRow], rows)

    def save_visit(self, visit: VisitRow) -> None:
        # the window too: a planned visit is re-dated when its anchor is set or moved
        self._s.exec(
            update(t.visits)
            .where(t.visits.c.id == visit["id"])
            .values(
                actual=visit["actual"],
                status=visit["status"],
                note=visit["note"],
                target=visit["target"],
                earliest=visit["earliest"],
                latest=visit["latest"],
            )
        )

    def add_entry(self, participant_id: str, kind: str, data: JsonObject, at: str, by: str) -> int:
        return self._s.exec(
            insert(t.entries)
            .values(participant_id=participant_id, kind=kind, data=data, at=at, by=by)
            .returning(t.entries.c.id)
        ).scalar_one()

    def entries(self, participant_id: str) -> list[EntryRow]:
        return [
            _entry(r)
            for r in self._s.exec(
                select(t.entries).where(t.entries.c.participant_id == participant_id).order_by(t.entries.c.id)
            )
        ]

    def get_entry(self, participant_id: str, entry_id: int) -> EntryRow | None:
        row = self._s.exec(
            select(t.entries).where(t.entries.c.id == entry_id, t.entries.c.participant_id == participant_id)
        ).first()
        return None if row is None else _entry(row)

    def update_entry(
        self, entry_id: int, *, data: JsonObject, status: str, version: int, at: str, by: str, reason: str
    ) -> None:
        self._s.exec(
            update(t.entries)
            .where(t.entries.c.id == entry_id)
            .values(data=data, status=status, version=version, updated_at=at, updated_by=by, reason=reason)
        )

    def add_notification(self, trial: str, kind: str, participant_id: str, message: str, at: str) -> None:
        self._s.exec(
            insert(t.notifications).values(
                trial=trial, kind=kind, participant_id=participant_id, message=message, at=at
            )
        )

    def notifications(self, trial: str) -> list[NotificationRow]:
        rows = [
            dict(r._mapping)
            for r in self._s.exec(
                select(t.notifications).where(t.notifications.c.trial == trial).order_by(t.notifications.c.id)
            )
        ]
        return cast(list[NotificationRow], rows)
