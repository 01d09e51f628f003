"""The dependencies a use case needs, gathered once by the composition root."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from oligotrial.errors import ProtocolError
from oligotrial.service.ports import (
    AllocationCipher,
    AuditAnchor,
    Clock,
    PasswordHasher,
    ProtocolLibrary,
    Screener,
    UnitOfWorkFactory,
    utc_now,
)


def _no_loader(trial: str, version: str | None = None, *, on: dt.date | None = None) -> Any:
    """The default of :attr:`ServiceContext.load_protocol`: none given (the library answers)."""
    raise NotImplementedError


def _no_listing(*, on: dt.date | None = None) -> list[Any]:
    """The default of :attr:`ServiceContext.list_protocols`: none given (the library answers)."""
    raise NotImplementedError


@dataclass(frozen=True)
class ServiceContext:
    """``library`` is the protocol library; every protocol look-up of the service goes through it,
    asked for the version in force on the service clock's date (:meth:`load_protocol`,
    :meth:`list_protocols`; :attr:`protocols` is the port itself).

    ``load_protocol`` and ``list_protocols`` may be given instead of a library (a test's stand-in
    loader, e.g. ``load_protocol=lambda trial: PROTOCOL``): a library is made of them. Once built,
    both are the context's own look-ups through the library, in force on :meth:`today`."""

    uow: UnitOfWorkFactory
    cipher: AllocationCipher
    hasher: PasswordHasher
    screener: Screener
    load_protocol: Callable[..., Any] = field(default=_no_loader, compare=False, repr=False)
    list_protocols: Callable[..., list[Any]] = field(default=_no_listing, compare=False, repr=False)
    clock: Clock = utc_now
    anchor: AuditAnchor | None = None  # the audit key and checkpoints, outside the database
    library: ProtocolLibrary | None = None

    def __post_init__(self) -> None:
        load, listing = self.load_protocol, self.list_protocols
        library = self.library
        if isinstance(load, _InForce):  # a copy (dataclasses.replace): the library it was made with
            library = library or load.library
        elif load is not _no_loader:  # a stand-in loader wins
            stand_in = listing if listing is not _no_listing and not isinstance(listing, _InForceList) else None
            library = StandInLibrary(load, stand_in, prior=library)
        if library is None:
            raise TypeError("ServiceContext: expected library (a ProtocolLibrary) or load_protocol")
        object.__setattr__(self, "_protocols", library)
        object.__setattr__(self, "load_protocol", _InForce(self))
        object.__setattr__(self, "list_protocols", _InForceList(self))

    @property
    def protocols(self) -> ProtocolLibrary:
        """The protocol library port."""
        library: ProtocolLibrary = self.__dict__["_protocols"]
        return library

    def now_iso(self) -> str:
        return self.clock().isoformat(timespec="microseconds")

    def today(self) -> dt.date:
        """Today's date by the injected clock (UTC)."""
        return self.clock().date()


class _InForce:
    """``ctx.load_protocol(trial, version=None, *, on=None)``: the named version, else the version
    in force on ``on`` (default: the service clock's today), through the context's library."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    @property
    def library(self) -> ProtocolLibrary:
        return self._ctx.protocols

    def __call__(self, trial: str, version: str | None = None, *, on: dt.date | None = None) -> Any:
        ctx = self._ctx
        return ctx.protocols.get(trial, version, on=ctx.today() if on is None else on)


class _InForceList:
    """``ctx.list_protocols(*, on=None)``: every trial's version in force on ``on`` (default: the
    service clock's today)."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def __call__(self, *, on: dt.date | None = None) -> list[Any]:
        ctx = self._ctx
        return ctx.protocols.in_force(ctx.today() if on is None else on)


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(v.kind is inspect.Parameter.VAR_KEYWORD for v in params.values())


class StandInLibrary:
    """A :class:`~oligotrial.service.ports.ProtocolLibrary` made of a loader function (and a
    listing function). A loader that takes only the trial (a test's stand-in) gives its one
    protocol: whatever the date, and a named version only when it is that one."""

    def __init__(
        self,
        load: Callable[..., Any],
        listing: Callable[..., list[Any]] | None = None,
        *,
        prior: ProtocolLibrary | None = None,
    ) -> None:
        self._load, self._listing, self._prior = load, listing, prior

    def get(self, trial: str, version: str | None = None, on: dt.date | None = None) -> Any:
        load = self._load
        if version is not None:
            if _accepts(load, "version"):
                return load(trial, version=version)
            p = load(trial)
            if p.version != version:
                raise ProtocolError(
                    f"trial {p.id}: version {version!r}: expected one of {p.version!r}",
                    code="protocol_version_not_found",
                    field="version",
                )
            return p
        if on is not None and _accepts(load, "on"):
            return load(trial, on=on)
        return load(trial)

    def versions(self, trial: str) -> list[Any]:
        return [self.get(trial)]

    def in_force(self, on: dt.date | None = None) -> list[Any]:
        if self._listing is not None:
            return self._listing(on=on) if on is not None and _accepts(self._listing, "on") else self._listing()
        return self._prior.in_force(on) if self._prior is not None else []
