"""The composition root: the one place concrete adapters are chosen and wired.

``bootstrap(settings)`` builds the engine, unit of work, cipher, password hasher, screener and
protocol library and returns a :class:`Container`. Tests pass their own ``screener``, ``hasher``,
``clock`` or ``library``. The clock is the service's one clock: the protocol version in force, the
"not in the future" of a record and the expiry of a page session all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from oligotrial.config import Settings
from oligotrial.domain.protocol.schema import Protocol
from oligotrial.service.context import ServiceContext


@dataclass
class Container:
    settings: Settings
    engine: Engine
    ctx: ServiceContext

    def dispose(self) -> None:
        self.engine.dispose()


def _real_screener(patient: Any, protocol: Protocol, *, assume_attested: bool = False) -> Any:
    from oligotrial.service.screening import screen_patient

    return screen_patient(patient, protocol, assume_attested=assume_attested)


def bootstrap(
    settings: Settings | None = None,
    *,
    migrate: bool | None = None,
    screener: Any = None,
    hasher: Any = None,
    clock: Any = None,
    library: Any = None,
) -> Container:
    from oligotrial.adapters.db.anchor import FileAnchor, default_key_dir
    from oligotrial.adapters.db.crypto import AesGcmCipher, Argon2Hasher
    from oligotrial.adapters.db.engine import make_engine
    from oligotrial.adapters.db.migrate import upgrade
    from oligotrial.adapters.db.repository import SqlUnitOfWorkFactory
    from oligotrial.clock import utc_now
    from oligotrial.protocols.library_port import FileProtocolLibrary

    settings = settings or Settings()
    engine = make_engine(
        settings.database_url,
        schema=settings.database_schema,
        pool_size=settings.db_pool_size,
        ping_after_idle_s=settings.db_ping_after_idle_s,
    )
    if migrate if migrate is not None else settings.auto_migrate:
        upgrade(engine)
    from oligotrial.service import audit

    key_dir = settings.audit_key_dir or default_key_dir(settings.database_url, settings.database_schema)
    uow = SqlUnitOfWorkFactory(engine)
    ctx = ServiceContext(
        uow=uow,
        cipher=AesGcmCipher(settings.allocation_key_bytes),
        hasher=hasher or Argon2Hasher(),
        screener=screener or _real_screener,
        library=library or FileProtocolLibrary(),
        clock=clock or utc_now,
        anchor=FileAnchor(key_dir, settings.audit_checkpoint_every),
    )
    uow.after_audit_commit = lambda appended: audit.after_commit(ctx, appended)  # periodic checkpoints
    return Container(settings, engine, ctx)
