"""The database schema (SQLAlchemy Core). Migrations in ``migrations/versions`` create it;
``tests/integration`` checks the two never drift apart. Times are ISO 8601 UTC strings."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", String(40), nullable=False),
)

user_roles = Table(
    "user_roles",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("trial", String(32), primary_key=True),
    Column("role", String(32), nullable=False),
    Column("site", String(64)),  # NULL: every site of the trial
)

participants = Table(
    "participants",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("trial", String(32), nullable=False),
    Column("external_id", String(128), nullable=False),
    Column("state", String(32), nullable=False),
    Column("record", JSON, nullable=False),
    Column("screening", JSON),
    Column("consent", JSON),
    Column("enrolment", JSON),
    Column("radiotherapy", JSON),
    Column("randomized_on", String(10)),
    Column("created_at", String(40), nullable=False),
    Column("version", Integer, nullable=False),
    Column("site", String(64)),  # the centre the participant belongs to (NULL: single-centre)
    Column("closure", JSON),  # a closed screening: reason, note, date, by, from state (NULL: not closed)
    UniqueConstraint("trial", "external_id", name="uq_participants_trial_external"),
    Index("ix_participants_trial_site", "trial", "site"),
)

randomization_lists = Table(
    "randomization_lists",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("trial", String(32), nullable=False, unique=True),
    Column("method", String(32), nullable=False),
    Column("seed_ct", Text, nullable=False),
    Column("params", JSON, nullable=False),
    Column("commitment", String(64), nullable=False),
    Column("size_per_stratum", Integer, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("created_by", String(64), nullable=False),
)

randomization_strata = Table(
    "randomization_strata",
    metadata,
    Column("list_id", Integer, ForeignKey("randomization_lists.id"), primary_key=True),
    Column("stratum", String(255), primary_key=True),
    Column("next_seq", Integer, nullable=False),
)

randomization_slots = Table(
    "randomization_slots",
    metadata,
    Column("list_id", Integer, ForeignKey("randomization_lists.id"), primary_key=True),
    Column("stratum", String(255), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("block", Integer, nullable=False),
    Column("block_size", Integer, nullable=False),
    Column("payload_ct", Text, nullable=False),
    Column("participant_id", String(32), ForeignKey("participants.id"), unique=True),
    Column("allocated_at", String(40)),
)

allocations = Table(
    "allocations",
    metadata,
    Column("participant_id", String(32), ForeignKey("participants.id"), primary_key=True),
    Column("trial", String(32), nullable=False),
    Column("list_id", Integer, ForeignKey("randomization_lists.id"), nullable=False),
    Column("stratum", String(255), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("strata", JSON, nullable=False),
    Column("arm_ct", Text, nullable=False),
    Column("allocated_at", String(40), nullable=False),
    Column("allocated_by", String(64), nullable=False),
    UniqueConstraint("list_id", "stratum", "seq", name="uq_allocations_slot"),
)

visits = Table(
    "visits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("participant_id", String(32), ForeignKey("participants.id"), nullable=False),
    Column("code", String(64), nullable=False),
    Column("label", Text, nullable=False),
    Column("anchor", String(32), nullable=False),
    Column("target", String(10), nullable=False),
    Column("earliest", String(10), nullable=False),
    Column("latest", String(10), nullable=False),
    Column("forms", JSON, nullable=False),
    Column("actual", String(10)),
    Column("status", String(32), nullable=False),
    Column("note", Text),
    UniqueConstraint("participant_id", "code", name="uq_visits_participant_code"),
)

entries = Table(
    "clinical_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("participant_id", String(32), ForeignKey("participants.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("data", JSON, nullable=False),
    Column("at", String(40), nullable=False),
    Column("by", String(64), nullable=False),
    # corrections: the current version; the earlier values stay in the audit trail
    Column("status", String(16), nullable=False, server_default="active"),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("updated_at", String(40)),
    Column("updated_by", String(64)),
    Column("reason", Text),
    Index("ix_clinical_entries_participant", "participant_id"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("trial", String(32), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("participant_id", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("at", String(40), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(32)),
    Column("trial", String(32)),
    Column("action", String(64), nullable=False),
    Column("entity_type", String(64), nullable=False),
    Column("entity_id", String(128), nullable=False),
    Column("old", JSON),
    Column("new", JSON),
    Column("reason", Text),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # 0004: the keyed chain (domain.trial.audit): 1 = unkeyed SHA-256 link, 2 = keyed digest
    Column("v", Integer, nullable=False, server_default="1"),
    Column("mac", String(64)),  # HMAC-SHA256 of the entry's content (v2)
    Column("bind", Text),  # a row written with the entry: "<slot seq>:<allocation digest>"
    Column("marker", String(64)),  # the text in ``new`` that stands for the bound slot number
    # 0008_audit: a random nonce inside the keyed digest (v3): a copied entry repeats it
    Column("nonce", String(32)),
    Index("ix_audit_log_trial", "trial"),
    Index("ix_audit_log_nonce", "nonce"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_seq", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

# 0005: data queries (discrepancy notes) on a participant's data, and each step of their history
data_queries = Table(
    "data_queries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("trial", String(32), nullable=False),
    Column("participant_id", String(32), ForeignKey("participants.id"), nullable=False),
    Column("entry_id", Integer, ForeignKey("clinical_entries.id")),  # NULL: a field of the registered record
    Column("field", String(200), nullable=False),  # e.g. findings[0].diameter_mm
    Column("status", String(16), nullable=False),  # open, answered, closed
    Column("raised_by", String(64), nullable=False),
    Column("raised_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Index("ix_data_queries_trial_status", "trial", "status"),
    Index("ix_data_queries_participant", "participant_id"),
)

data_query_messages = Table(
    "data_query_messages",
    metadata,
    Column("query_id", Integer, ForeignKey("data_queries.id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("action", String(16), nullable=False),  # raise, answer, close, reopen
    Column("by", String(64), nullable=False),
    Column("role", String(32)),
    Column("at", String(40), nullable=False),
    Column("text", Text, nullable=False),
)

# 0006: page sessions ended on the server (sign-out). A session is a signed cookie; its id (a
# digest of its CSRF secret, never the secret) is kept here from sign-out until it would have
# expired anyway, and a cookie whose id is here is refused.
ended_sessions = Table(
    "ended_sessions",
    metadata,
    Column("sid", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False),
    Column("ended_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
    Index("ix_ended_sessions_expires", "expires_at"),
)
