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
from typing import Any, Self, cast

from oligotrial.service.access import site_visible
from oligotrial.service.audit import in_site_scope
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import Actor, Repository, UnitOfWork, UnitOfWorkFactory


class _SiteRepository:
    """The repository seen by ``actor`` in ``trial``: reads of participants, allocations, audit
    entries, notifications and queries keep those of the actor's site only."""

    def __init__(self, repo: Any, actor: Actor, trial: str) -> None:
        self._repo, self._actor, self._trial = repo, actor, trial
        self._visible: set[str] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    def _shown(self, p: Any) -> bool:
        return site_visible(self._actor, self._trial, p.site)

    def visible_ids(self) -> set[str]:
        if self._visible is None:
            self._visible = {p.id for p in self._repo.list_participants(self._trial) if self._shown(p)}
        return self._visible

    def list_participants(self, trial: str) -> list[Any]:
        return [p for p in self._repo.list_participants(trial) if trial != self._trial or self._shown(p)]

    def iter_participants(self, trial: str, batch: int = 200):
        for p in self._repo.iter_participants(trial, batch):
            if trial != self._trial or self._shown(p):
                yield p

    def get_participant(self, trial: str, pid: str, *, for_update: bool = False) -> Any:
        p = self._repo.get_participant(trial, pid, for_update=for_update)
        return p if p is None or trial != self._trial or self._shown(p) else None

    def allocations(self, trial: str) -> list[Any]:
        rows = self._repo.allocations(trial)
        return rows if trial != self._trial else [a for a in rows if a.participant_id in self.visible_ids()]

    def get_allocation(self, participant_id: str) -> Any:
        return self._repo.get_allocation(participant_id) if participant_id in self.visible_ids() else None

    def audit_entries(self, trial: str | None = None, *args: Any, **kw: Any) -> list[dict[str, Any]]:
        rows = self._repo.audit_entries(trial, *args, **kw)
        ids = self.visible_ids()
        return [e for e in rows if e.get("trial") not in (None, self._trial) or in_site_scope(e, ids)]

    def notifications(self, trial: str) -> list[dict[str, Any]]:
        rows = self._repo.notifications(trial)
        return rows if trial != self._trial else [n for n in rows if n["participant_id"] in self.visible_ids()]


class _SiteUow:
    repo: Repository  # the site's view: a _SiteRepository, the rest delegated to the real one
    _uow: UnitOfWork

    def __init__(self, factory: UnitOfWorkFactory, actor: Actor, trial: str) -> None:
        self._factory, self._actor, self._trial = factory, actor, trial

    def __enter__(self) -> Self:
        self._uow = self._factory().__enter__()
        self.repo = cast(Repository, _SiteRepository(self._uow.repo, self._actor, self._trial))
        return self

    def __exit__(self, *exc: object) -> None:
        self._uow.__exit__(*exc)

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
