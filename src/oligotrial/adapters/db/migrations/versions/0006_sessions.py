"""Page sessions ended on the server: signing out records the session's id (a digest of its CSRF
secret) until the session would have expired anyway, and a cookie with that id is refused
(OWASP Session Management Cheat Sheet, "Manual Session Expiration": the session is invalidated
on the server side at logout). New table only; nothing existing changes.

Revision ID: 0006_sessions
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_sessions"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ended_sessions",
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("ended_at", sa.String(length=40), nullable=False),
        sa.Column("expires_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("sid"),
    )
    op.create_index("ix_ended_sessions_expires", "ended_sessions", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ended_sessions_expires", table_name="ended_sessions")
    op.drop_table("ended_sessions")
