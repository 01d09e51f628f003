"""Data queries (discrepancy notes): a query raised on one field of a participant's data (a
follow-up entry's, or the registered record's when ``entry_id`` is NULL), its status (open,
answered, closed), and every step of its history (raise, answer, close, reopen: who, in which
role, when, the text). New tables only; nothing existing changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_queries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("trial", sa.String(length=32), nullable=False),
        sa.Column("participant_id", sa.String(length=32), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("raised_by", sa.String(length=64), nullable=False),
        sa.Column("raised_at", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"]),
        sa.ForeignKeyConstraint(["entry_id"], ["clinical_entries.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_data_queries_trial_status", "data_queries", ["trial", "status"], unique=False)
    op.create_index("ix_data_queries_participant", "data_queries", ["participant_id"], unique=False)
    op.create_table(
        "data_query_messages",
        sa.Column("query_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["query_id"], ["data_queries.id"]),
        sa.PrimaryKeyConstraint("query_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("data_query_messages")
    op.drop_index("ix_data_queries_participant", table_name="data_queries")
    op.drop_index("ix_data_queries_trial_status", table_name="data_queries")
    op.drop_table("data_queries")
