"""The dependencies a use case needs, gathered once by the composition root."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from oligotrial.domain.protocol.schema import Protocol
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


@dataclass(frozen=True)
class ServiceContext:
    """``library`` is the protocol library port (:attr:`protocols`); every protocol look-up of the
    service goes through it, asked for the version in force on the service clock's date
    (:meth:`load_protocol`, :meth:`list_protocols`)."""

    uow: UnitOfWorkFactory
    cipher: AllocationCipher
    hasher: PasswordHasher
    screener: Screener
    library: ProtocolLibrary
    clock: Clock = utc_now
    anchor: AuditAnchor | None = None  # the audit key and checkpoints, outside the database

    @property
    def protocols(self) -> ProtocolLibrary:
        """The protocol library port."""
        return self.library

    def load_protocol(self, trial: str, version: str | None = None, *, on: dt.date | None = None) -> Protocol:
        """The named version of ``trial``'s protocol, else the version in force on ``on`` (default:
        the service clock's today)."""
        return self.library.get(trial, version, on=self.today() if on is None else on)

    def list_protocols(self, *, on: dt.date | None = None) -> list[Protocol]:
        """Every trial's version in force on ``on`` (default: the service clock's today)."""
        return self.library.in_force(self.today() if on is None else on)

    def now_iso(self) -> str:
        return self.clock().isoformat(timespec="microseconds")

    def today(self) -> dt.date:
        """Today's date by the injected clock (UTC)."""
        return self.clock().date()
