"""The audit chain's anchor outside the database: the HMAC key of the entries' keyed digests, an
Ed25519 key that signs checkpoints, and the append-only checkpoint log (JSON lines), all in one
directory the database's owner should not be able to write (see ``docs/threat-model.md``).

Files in the directory (created on first use, mode 0600 in a 0700 directory):

* ``audit-hmac.key``: base64 of 32 random bytes (the HMAC-SHA256 key, RFC 2104);
* ``checkpoint-ed25519.key``: the signing key (PKCS#8 PEM; RFC 8032 Ed25519);
* ``checkpoint-ed25519.pub``: its public key (SubjectPublicKeyInfo PEM): enough, with the
  checkpoint log, for an auditor to check the checkpoints;
* ``checkpoints.jsonl``: one checkpoint a line, ``{"seq", "hash", "at", "sig"}``, the signature
  (base64) over :func:`oligotrial.domain.trial.audit.checkpoint_message`; a restore checkpoint
  (``oligotrial db restore``) adds ``"kind": "restore"`` and ``"note"`` (the backup restored),
  both signed;
* ``chain-format.json``: the chain's format epoch, ``{"first_seq": {"<version>": seq}, "at",
  "how"}``: the first sequence number written in each entry version, so a chain rewritten in an
  older format is refused (:func:`oligotrial.domain.trial.audit.verify_chain`). Recorded by the
  first checkpoint, from a chain that verifies (for a key directory made before it existed:
  trust on first use); a version's first sequence number, once recorded, never changes.

When no directory is configured one is chosen beside the database: ``<file>.keys/`` for a
SQLite file, ``~/.local/share/oligotrial/keys/<host>-<port>-<database>-<schema>/`` for
PostgreSQL (:func:`default_key_dir`).
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import random
import re
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import make_url

from oligotrial.clock import epoch_seconds
from oligotrial.domain.trial.audit import checkpoint_message
from oligotrial.errors import AuditError

HMAC_FILE = "audit-hmac.key"
SIGNING_FILE = "checkpoint-ed25519.key"
PUBLIC_FILE = "checkpoint-ed25519.pub"
CHECKPOINTS_FILE = "checkpoints.jsonl"
FORMAT_FILE = "chain-format.json"


def default_key_dir(database_url: str, schema: str | None = None) -> Path:
    """Where the anchor lives when none is configured: beside a SQLite file, or per database
    and schema under the user's data directory for PostgreSQL."""
    url = make_url(database_url.replace("postgres://", "postgresql://", 1))
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return Path(tempfile.mkdtemp(prefix="oligotrial-keys-"))
        return Path(url.database + ".keys").resolve()
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "oligotrial" / "keys"
    name = "-".join(str(x) for x in (url.host or "local", url.port or 5432, url.database or "", schema or "public"))
    return base / re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _create_once(path: Path, make: Callable[[], bytes]) -> bytes:
    """The file's bytes, writing ``make()`` first when it does not exist yet; safe when several
    processes start at once (written whole to a temporary file, then linked into place)."""
    if path.exists():
        return path.read_bytes()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(make())
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won: use its key
    finally:
        os.unlink(tmp)
    return path.read_bytes()


class FileAnchor:
    """:class:`oligotrial.service.ports.AuditAnchor` in a directory of files."""

    def __init__(self, directory: str | os.PathLike, checkpoint_every: int = 100) -> None:
        self.dir = Path(directory)
        self.checkpoint_every = int(checkpoint_every)
        self._key: bytes | None = None
        self._signer: Ed25519PrivateKey | None = None
        self._count = 0
        self._seen_checkpoint = False
        self._jitter = random.Random(os.getpid())  # operational only: spreads processes' checkpoints apart
        self._next = self._threshold()

    def _ready(self) -> None:
        if self._key is not None:
            return
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            raw = _create_once(self.dir / HMAC_FILE, lambda: base64.b64encode(secrets.token_bytes(32)) + b"\n")
            key = base64.b64decode(raw.strip(), validate=True)
            pem = _create_once(
                self.dir / SIGNING_FILE,
                lambda: Ed25519PrivateKey.generate().private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                ),
            )
            signer = serialization.load_pem_private_key(pem, password=None)
            _create_once(
                self.dir / PUBLIC_FILE,
                lambda: signer.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                ),
            )
        except (OSError, ValueError, binascii.Error) as exc:
            raise AuditError(
                f"audit key directory {self.dir}: cannot read or create its keys ({exc}); expected a "
                "writable directory (OLIGOTRIAL_AUDIT_KEY_DIR)",
                field="audit_key_dir",
            ) from None
        if len(key) != 32 or not isinstance(signer, Ed25519PrivateKey):
            raise AuditError(
                f"audit key directory {self.dir}: {HMAC_FILE} must hold base64 of 32 bytes and "
                f"{SIGNING_FILE} an Ed25519 key",
                field="audit_key_dir",
            )
        self._key, self._signer = key, signer

    def mac_key(self) -> bytes:
        self._ready()
        return self._key  # type: ignore[return-value]

    def _public(self) -> Ed25519PublicKey:
        self._ready()
        key = serialization.load_pem_public_key((self.dir / PUBLIC_FILE).read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise AuditError(f"{self.dir / PUBLIC_FILE}: not an Ed25519 public key", field="audit_key_dir")
        return key

    def _read(self) -> list[dict[str, Any]]:
        path = self.dir / CHECKPOINTS_FILE
        if not path.exists():
            return []
        public = self._public()
        out = []
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                cp = json.loads(line)
                public.verify(
                    base64.b64decode(cp["sig"]),
                    checkpoint_message(cp["seq"], cp["hash"], cp["at"], cp.get("kind"), cp.get("note")),
                )
            except (ValueError, KeyError, TypeError, InvalidSignature, binascii.Error):
                raise AuditError(
                    f"{path} line {n}: not a validly signed checkpoint (forged or damaged)", code="bad_checkpoint"
                ) from None
            out.append({k: cp[k] for k in ("seq", "hash", "at", "kind", "note") if k in cp})
        return out

    def checkpoints(self) -> list[dict[str, Any]]:
        cps = self._read()
        self._seen_checkpoint = self._seen_checkpoint or bool(cps)
        return cps

    def add_checkpoint(
        self, seq: int, hash_: str, at: str, kind: str | None = None, note: str | None = None
    ) -> dict[str, Any]:
        """Sign and append a checkpoint; ``kind`` "restore" (with ``note``, the backup) records a
        restore, whose head may be older than the latest checkpoint (it rolls those back)."""
        self._ready()
        path = self.dir / CHECKPOINTS_FILE
        with open(path, "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # one writer at a time; readers see whole lines
            try:
                cps = self._read()
                if kind is None and cps and int(cps[-1]["seq"]) >= seq:
                    return cps[-1]  # never sign an older head after a newer one
                sig = self._signer.sign(checkpoint_message(seq, hash_, at, kind, note))  # type: ignore[union-attr]
                cp = {"seq": int(seq), "hash": hash_, "at": at}
                if kind is not None:
                    cp.update(kind=kind, note=note or "")
                f.write(json.dumps({**cp, "sig": base64.b64encode(sig).decode()}) + "\n")
                f.flush()
                os.fsync(f.fileno())
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        self._seen_checkpoint = True
        return cp

    def format_epoch(self) -> dict[int, int] | None:
        """The chain's format epoch (version -> first sequence number written in it), or None
        when none is recorded yet."""
        path = self.dir / FORMAT_FILE
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            return {int(v): int(seq) for v, seq in data["first_seq"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise AuditError(
                f'{path}: not a chain format epoch (damaged); expected {{"first_seq": {{"<version>": seq}}}}',
                code="bad_format_epoch",
            ) from None

    def record_format(self, first_seq: dict[int, int], at: str) -> dict[int, int]:
        """Record the versions in ``first_seq`` not recorded yet (a recorded one never changes);
        returns the epoch as recorded."""
        self._ready()
        path = self.dir / FORMAT_FILE
        with open(self.dir / CHECKPOINTS_FILE, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                known = self.format_epoch() or {}
                merged = {**{int(v): int(s) for v, s in first_seq.items()}, **known}
                if merged != known:
                    tmp = path.with_name(f".{path.name}.tmp")
                    tmp.write_text(
                        json.dumps(
                            {
                                "first_seq": {str(v): s for v, s in sorted(merged.items())},
                                "at": at,
                                "how": "recorded from a verified chain (trust on first use)",
                            }
                        )
                        + "\n"
                    )
                    os.chmod(tmp, 0o600)
                    os.replace(tmp, path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return merged

    def _threshold(self) -> int:
        n = self.checkpoint_every
        return max(1, n // 2 + self._jitter.randrange(n + 1))  # n/2 .. 3n/2, n on average

    def due(self, appended: int) -> bool:
        """About every ``checkpoint_every`` entries this process appended (each process's
        threshold drawn between half and one and a half times that, so processes started together
        do not all verify and sign at once), unless another process wrote a checkpoint in the
        last second; and at the first commit of a chain with no checkpoint yet."""
        if appended <= 0:
            return False
        self._count += appended
        path = self.dir / CHECKPOINTS_FILE
        if not self._seen_checkpoint:
            self._seen_checkpoint = True  # asked once per process; the periodic rule does the rest
            if not path.exists() or path.stat().st_size == 0:
                self._count = 0
                return True
        if self._count < self._next:
            return False
        self._count, self._next = 0, self._threshold()
        try:
            if epoch_seconds() - path.stat().st_mtime < 1.0:
                return False  # another process has just checkpointed: the chain's tip is anchored
        except OSError:
            pass
        return True
