"""The dependencies a use case needs, gathered once by the composition root."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from oligotrial.service.ports import (
    AllocationCipher,
    AuditAnchor,
    Clock,
    PasswordHasher,
    Screener,
    UnitOfWorkFactory,
    utc_now,
)


@dataclass(frozen=True)
class ServiceContext:
    uow: UnitOfWorkFactory
    cipher: AllocationCipher
    hasher: PasswordHasher
    screener: Screener
    load_protocol: Callable[[str], Any]
    list_protocols: Callable[[], list[Any]]
    clock: Clock = utc_now
    anchor: AuditAnchor | None = None  # the audit key and checkpoints, outside the database

    def now_iso(self) -> str:
        return self.clock().isoformat(timespec="microseconds")

    def today(self) -> dt.date:
        """Today's date by the injected clock (UTC)."""
        return self.clock().date()
