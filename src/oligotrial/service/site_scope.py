"""A site's view of a trial: the storage as a role granted for one site may read it.

A site-limited role (a site's coordinator) reads only its own site's participants, everywhere:
their list, the audit trail, the notifications, data queries and any document computed from the
trial's data (the trial report: CONSORT flow, baseline, endpoints, adverse-event and deviation
listings). :func:`scoped` wraps a service context so that every read through its unit of work
sees the trial as if the other sites' participants did not exist; it is used where a whole
document is computed for such a role, so that no part of it can forget the filter (issue 26:
"Every view a site-limited role has is filtered by its sites").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from oligotrial.domain.trial.workflow import Participant
from oligotrial.service.access import site_visible
from oligotrial.service.audit import in_site_scope
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import (
    Actor,
    Allocation,
    AllocationRepository,
    AuditRepository,
    ParticipantRepository,
    UnitOfWork,
    UnitOfWorkFactory,
)
from oligotrial.service.rows import AuditRow, NotificationRow


class _SiteView:
    """What ``actor`` sees of ``trial``: the participants of the actor's site."""

    def __init__(self, participants: ParticipantRepository, actor: Actor, trial: str) -> None:
        self._participants, self.actor, self.trial = participants, actor, trial
        self._visible: set[str] | None = None

    def shown(self, p: Participant) -> bool:
        return site_visible(self.actor, self.trial, p.site)

    def visible_ids(self) -> set[str]:
        if self._visible is None:
            self._visible = {p.id for p in self._participants.list_participants(self.trial) if self.shown(p)}
        return self._visible


class _SiteParticipants:
    """Participants, and their notifications, of the actor's site only (in the scoped trial)."""

    def __init__(self, repo: ParticipantRepository, view: _SiteView) -> None:
        self._repo, self._view, self._trial = repo, view, view.trial

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    def list_participants(self, trial: str) -> list[Participant]:
        return [p for p in self._repo.list_participants(trial) if trial != self._trial or self._view.shown(p)]

    def iter_participants(self, trial: str, batch: int = 200) -> Iterator[Participant]:
        for p in self._repo.iter_participants(trial, batch):
            if trial != self._trial or self._view.shown(p):
                yield p

    def get_participant(self, trial: str, pid: str, *, for_update: bool = False) -> Participant | None:
        p = self._repo.get_participant(trial, pid, for_update=for_update)
        return p if p is None or trial != self._trial or self._view.shown(p) else None

    def notifications(self, trial: str) -> list[NotificationRow]:
        rows = self._repo.notifications(trial)
        return rows if trial != self._trial else [n for n in rows if n["participant_id"] in self._view.visible_ids()]


class _SiteAllocation:
    """Allocations of the actor's site's participants only (in the scoped trial)."""

    def __init__(self, repo: AllocationRepository, view: _SiteView) -> None:
        self._repo, self._view, self._trial = repo, view, view.trial

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    def allocations(self, trial: str) -> list[Allocation]:
        rows = self._repo.allocations(trial)
        return rows if trial != self._trial else [a for a in rows if a.participant_id in self._view.visible_ids()]

    def get_allocation(self, participant_id: str) -> Allocation | None:
        return self._repo.get_allocation(participant_id) if participant_id in self._view.visible_ids() else None


class _SiteAudit:
    """Audit entries about the actor's site's participants only (in the scoped trial)."""

    def __init__(self, repo: AuditRepository, view: _SiteView) -> None:
        self._repo, self._view, self._trial = repo, view, view.trial

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    def audit_entries(self, trial: str | None = None, *args: Any, **kw: Any) -> list[AuditRow]:
        rows = self._repo.audit_entries(trial, *args, **kw)
        ids = self._view.visible_ids()
        return [e for e in rows if e.get("trial") not in (None, self._trial) or in_site_scope(e, ids)]


class _SiteUow:
    _uow: UnitOfWork  # the unit of work read through, once entered

    def __init__(self, factory: UnitOfWorkFactory, actor: Actor, trial: str) -> None:
        self._factory, self._actor, self._trial = factory, actor, trial

    def __enter__(self):
        self._uow = uow = self._factory().__enter__()
        view = _SiteView(uow.participants, self._actor, self._trial)
        self.participants = _SiteParticipants(uow.participants, view)
        self.allocation = _SiteAllocation(uow.allocation, view)
        self.audit = _SiteAudit(uow.audit, view)
        self.users, self.queries = uow.users, uow.queries
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._uow.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        self._uow.commit()

    def rollback(self) -> None:
        self._uow.rollback()


def scoped(ctx: ServiceContext, actor: Actor, trial: str) -> ServiceContext:
    """``ctx`` as ``actor`` may read ``trial``: unchanged for a role that covers every site;
    for a site-limited role, every read keeps that site's participants only."""
    if actor.site_in(trial) is None:
        return ctx
    factory = ctx.uow
    return dataclasses.replace(ctx, uow=lambda: _SiteUow(factory, actor, trial))
