"""The keyed audit chain: each entry's version (1: unkeyed SHA-256 link, as before; 2: the link
covers an HMAC-SHA256 of the entry's content under a key held outside the database), its
keyed digest, the row it is bound to (an allocation's slot number and row digest) and the
marker that names the bound slot number in its values. Existing entries stay version 1 and
verify as they did; every entry appended from now on is version 2 (versions only rise along
the chain). Columns are added in place (ALTER TABLE ... ADD COLUMN): the append-only triggers
stay, and no existing row is rewritten.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("v", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("audit_log", sa.Column("mac", sa.String(length=64), nullable=True))
    op.add_column("audit_log", sa.Column("bind", sa.Text(), nullable=True))
    op.add_column("audit_log", sa.Column("marker", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # dropping the columns would leave version 2 entries unverifiable: refused once any exists
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM audit_log WHERE v >= 2")).scalar_one():
        raise RuntimeError("audit_log holds keyed (v2) entries; downgrading below 0004 would make them unverifiable")
    for column in ("marker", "bind", "mac", "v"):
        op.drop_column("audit_log", column)
