"""Alembic environment: runs on the connection oligotrial hands it (see ``migrate.py``)."""

from __future__ import annotations

from alembic import context

from oligotrial.adapters.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached through the alembic CLI
    raise RuntimeError("run migrations with `oligotrial db upgrade`, which supplies the connection")

context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
