"""A candidate's closed screening: why a candidate assessed for eligibility will not be enrolled
(``participants.closure``: reason declined / not eligible / other, note, date, who, the state it
was closed from; NULL: not closed). CONSORT 2010 item 13a and its flow diagram ("Excluded: not
meeting inclusion criteria, declined to participate, other reasons").

Revision ID: 0007_consent
Revises: 0006_sessions
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_consent"
down_revision = "0006_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.add_column(sa.Column("closure", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("closure")
