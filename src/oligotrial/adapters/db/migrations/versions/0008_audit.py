"""The replay-evident audit chain (issue 26 item 4): each entry's random nonce, covered by its
keyed digest (version 3, :mod:`oligotrial.domain.trial.audit`), so an entry copied elsewhere in
the chain shows a nonce twice; indexed, so a checkpoint looks the nonces it signs up in the
whole chain. Existing entries keep no nonce and verify as before (v1, v2); every entry appended
from now on is version 3. Added in place (ALTER TABLE ... ADD COLUMN): the append-only triggers
stay, and no existing row is rewritten.

Revision ID: 0008_audit
Revises: 0007_consent
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_audit"
down_revision = "0007_consent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("nonce", sa.String(length=32), nullable=True))
    op.create_index("ix_audit_log_nonce", "audit_log", ["nonce"])


def downgrade() -> None:
    # dropping the nonce would leave version 3 entries unverifiable: refused once any exists
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM audit_log WHERE v >= 3")).scalar_one():
        raise RuntimeError(
            "audit_log holds version 3 entries; downgrading below 0008_audit would make them unverifiable"
        )
    op.drop_index("ix_audit_log_nonce", table_name="audit_log")
    op.drop_column("audit_log", "nonce")
