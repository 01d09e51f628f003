"""Follow-up entries can be corrected and retracted: status, version and who/when/why of the
current version (earlier values stay in the audit trail). Legacy event entries (``type``,
``details``) take the record's shape (``kind``, ``detail``); legacy emergency unblinding events become entries of
kind ``unblinding`` (a trial operation, not part of the patient record).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_LEGACY_EVENT_KIND = {"next_line": "next_line_start"}


def upgrade() -> None:
    with op.batch_alter_table("clinical_entries") as batch:
        batch.add_column(sa.Column("status", sa.String(length=16), server_default="active", nullable=False))
        batch.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("updated_at", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("updated_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
    conn = op.get_bind()
    entries = sa.table(
        "clinical_entries", sa.column("id", sa.Integer), sa.column("kind", sa.String), sa.column("data", sa.JSON)
    )
    for row in conn.execute(sa.select(entries.c.id, entries.c.data).where(entries.c.kind == "event")).all():
        data = row.data if isinstance(row.data, dict) else json.loads(row.data)
        if "type" not in data:
            continue
        if data["type"] == "emergency_unblinding":  # a trial operation, not a record event
            details = data.get("details") or {}
            conn.execute(
                sa.update(entries)
                .where(entries.c.id == row.id)
                .values(
                    kind="unblinding",
                    data={"date": data.get("date"), "by": details.get("by"), "reason": details.get("reason")},
                )
            )
            continue
        new = {"kind": _LEGACY_EVENT_KIND.get(data["type"], data["type"]), "date": data.get("date")}
        if data.get("details"):
            new["detail"] = data["details"]
        conn.execute(sa.update(entries).where(entries.c.id == row.id).values(data=new))


def downgrade() -> None:
    with op.batch_alter_table("clinical_entries") as batch:
        for name in ("reason", "updated_by", "updated_at", "version", "status"):
            batch.drop_column(name)
