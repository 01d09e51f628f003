"""Sites of multi-centre trials: each participant belongs to one site (NULL: single-centre), and a
role may be granted for one site of a trial (NULL: every site).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.add_column(sa.Column("site", sa.String(length=64), nullable=True))
    op.create_index("ix_participants_trial_site", "participants", ["trial", "site"], unique=False)
    with op.batch_alter_table("user_roles") as batch:
        batch.add_column(sa.Column("site", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_roles") as batch:
        batch.drop_column("site")
    op.drop_index("ix_participants_trial_site", table_name="participants")
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("site")
