"""Settings: the one place configuration is read, as data (pydantic-settings, prefix ``OLIGOTRIAL_``).

Nothing reads settings at import time; :mod:`oligotrial.bootstrap` builds a :class:`Settings`
and hands the values to the adapters. Every field is documented in ``docs/configuration.md``
(a test keeps the two in step). Unsafe values are refused: the development secrets are only
accepted when ``environment`` is ``development``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Development-only defaults. Any other environment must set its own values.
DEV_SECRET_KEY = "dev-insecure-token-signing-secret-change-me"
DEV_ALLOCATION_KEY = base64.b64encode(b"dev-insecure-allocation-key-32by").decode()


class Settings(BaseSettings):
    """oligotrial's configuration (environment variables ``OLIGOTRIAL_<NAME>``)."""

    model_config = SettingsConfigDict(env_prefix="OLIGOTRIAL_", extra="forbid", frozen=True)

    environment: Literal["development", "test", "production"] = Field(
        "development", description="Deployment environment; secrets must be set outside development."
    )
    database_url: str = Field(
        "sqlite:///oligotrial.db",
        description="SQLAlchemy URL; SQLite file by default, postgresql://... for PostgreSQL.",
    )
    database_schema: str | None = Field(
        None, description="PostgreSQL schema to use (search_path); None uses the server default."
    )
    db_pool_size: int = Field(10, ge=1, le=200, description="Connection pool size (PostgreSQL).")
    db_ping_after_idle_s: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="A pooled PostgreSQL connection idle longer than this is pinged "
        "before use and replaced if dead (0: ping on every checkout).",
    )
    auto_migrate: bool = Field(True, description="Run database migrations to head when the server starts.")
    secret_key: str = Field(DEV_SECRET_KEY, min_length=16, description="HMAC key signing bearer tokens.")
    allocation_key: str = Field(
        DEV_ALLOCATION_KEY, description="Base64 of a 32-byte AES-256-GCM key encrypting allocations at rest."
    )
    audit_key_dir: str | None = Field(
        None,
        description="Directory (outside the database) holding the audit HMAC key, the Ed25519 key that signs "
        "audit checkpoints and the checkpoint log; created with new keys on first use. None: `<file>.keys/` beside "
        "a SQLite file, ~/.local/share/oligotrial/keys/<host>-<port>-<db>-<schema>/ for PostgreSQL.",
    )
    audit_checkpoint_every: int = Field(
        100,
        ge=1,
        le=1_000_000,
        description="Write a signed audit checkpoint every this many entries a server "
        "process appends (and at the first commit of a chain without one).",
    )
    token_ttl_minutes: int = Field(60, ge=1, le=24 * 60, description="Lifetime of a bearer token.")
    max_request_bytes: int = Field(
        1_000_000,
        ge=1024,
        le=100_000_000,
        description="Largest request body the API accepts (bytes); a larger one is answered 413.",
    )
    login_failures_per_account: int = Field(
        5,
        ge=1,
        le=1000,
        description="Failed logins of one account from one client address within "
        "`login_window_s` after which that account's logins from that address back off (429 with Retry-After, "
        "the wait doubling with each further failure). Failures from other addresses never hold the account "
        "back, and no count ever refuses emergency unblinding; a session or token that reaches this many wrong "
        "passwords there is ended. Counted in the server process's memory: each process of a multi-process "
        "deployment counts its own.",
    )
    login_failures_per_address: int = Field(
        20,
        ge=1,
        le=100_000,
        description="Failed logins from one client address (any accounts) within "
        "`login_window_s` after which that address's logins back off (in-process, as for the account limit).",
    )
    login_window_s: float = Field(
        300.0,
        gt=0,
        le=86_400,
        description="Sliding window (seconds) over which failed logins are counted; "
        "no backoff outlasts the moment the oldest counted failure leaves it.",
    )
    login_backoff_base_s: float = Field(
        1.0,
        gt=0,
        le=3600,
        description="The first backoff (seconds) once a limit is reached; it doubles with "
        "each further failure (exponential backoff, OWASP Authentication Cheat Sheet), bounded by the window.",
    )
    public_url: str | None = Field(
        None,
        description="The address users open (e.g. https://trials.example.org/). When it starts with https:// "
        "the page session and sign-in cookies are marked Secure even where a proxy ends TLS and the server itself "
        "is reached over plain http. None: cookies are Secure when the request came over https.",
    )
    host: str = Field("127.0.0.1", description="Address `oligotrial serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `oligotrial serve` listens on.")

    @field_validator("allocation_key")
    @classmethod
    def _key_is_32_bytes(cls, v: str) -> str:
        try:
            raw = base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("allocation_key: expected base64 of 32 random bytes") from None
        if len(raw) != 32:
            raise ValueError(f"allocation_key: decodes to {len(raw)} bytes; expected 32")
        return v

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, v: str) -> str:
        if not v.startswith(("sqlite", "postgresql")):
            raise ValueError(f"database_url {v.split(':')[0]!r}: expected sqlite:/// or postgresql://")
        return v

    @model_validator(mode="after")
    def _no_default_secret_outside_development(self) -> Settings:
        if self.environment != "development":
            if self.secret_key == DEV_SECRET_KEY:
                raise ValueError(
                    "secret_key: the development default is refused outside development; set OLIGOTRIAL_SECRET_KEY"
                )
            if self.allocation_key == DEV_ALLOCATION_KEY:
                raise ValueError(
                    "allocation_key: the development default is refused outside development; "
                    "set OLIGOTRIAL_ALLOCATION_KEY"
                )
        return self

    @property
    def allocation_key_bytes(self) -> bytes:
        return base64.b64decode(self.allocation_key)
