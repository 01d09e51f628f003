"""Run the packaged Alembic migrations on an engine (``oligotrial db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Upgrade to ``revision``; returns the revision now current."""
    from alembic.migration import MigrationContext

    cfg = alembic_config()
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # one migrator at a time (several servers may start together)
            conn.exec_driver_sql("SELECT pg_advisory_lock(7462301)")
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
        finally:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_unlock(7462301)")
                conn.commit()
        return MigrationContext.configure(conn).get_current_revision() or ""
