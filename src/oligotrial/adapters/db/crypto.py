"""Secrets at rest: AES-256-GCM for allocations (concealment), Argon2id for passwords."""

from __future__ import annotations

import base64
import os

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from oligotrial.errors import BlindingError


class AesGcmCipher:
    """Each value gets a fresh 96-bit nonce; ``context`` is bound as associated data, so a
    ciphertext moved to another slot or participant no longer decrypts.

    Plaintexts are padded to a multiple of ``BLOCK`` bytes before encryption (ISO/IEC 7816-4
    padding: 0x80 then zeros), so every allocation's ciphertext has the same length whatever
    the arm: without it, "palliative" and "sabr" encrypt to different lengths and anyone who can
    read the table could tell the arms apart without the key. Padded tokens carry the prefix
    ``p1.``; tokens written before padding existed still decrypt.
    """

    BLOCK = 64
    PREFIX = "p1."

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise BlindingError(
                f"allocation key: {len(key)} bytes; expected 32", code="bad_key", field="allocation_key"
            )
        self._aes = AESGCM(key)

    def encrypt(self, plaintext: str, context: str) -> str:
        data = plaintext.encode() + b"\x80"
        data += b"\x00" * (-len(data) % self.BLOCK)
        nonce = os.urandom(12)
        ct = self._aes.encrypt(nonce, data, context.encode())
        return self.PREFIX + base64.urlsafe_b64encode(nonce + ct).decode()

    def decrypt(self, token: str, context: str) -> str:
        padded = token.startswith(self.PREFIX)
        body = token[len(self.PREFIX) :] if padded else token
        try:
            raw = base64.urlsafe_b64decode(body.encode())
            data = self._aes.decrypt(raw[:12], raw[12:], context.encode())
            if padded:
                data = data.rstrip(b"\x00")
                if not data.endswith(b"\x80"):
                    raise ValueError("bad padding")
                data = data[:-1]
            return data.decode()
        except (InvalidTag, ValueError):
            raise BlindingError(
                "allocation: cannot be decrypted with the configured key (wrong key or tampered value)",
                code="decrypt_failed",
            ) from None


class Argon2Hasher:
    def __init__(self, fast: bool = False) -> None:
        # ``fast`` only for tests: same algorithm, smaller cost
        self._ph = _Argon2(time_cost=1, memory_cost=8 * 1024, parallelism=1) if fast else _Argon2()

    def hash(self, password: str) -> str:
        return self._ph.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._ph.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
