"""Allocation ciphertexts: AES-256-GCM, bound to their slot, and all the same length."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from oligotrial.adapters.db.crypto import AesGcmCipher
from oligotrial.errors import BlindingError

KEY = bytes(range(32))


def test_ciphertexts_of_different_arms_have_the_same_length():
    c = AesGcmCipher(KEY)
    tokens = [c.encrypt(arm, f"alloc|NCT06918951|P-{i}") for i, arm in
              enumerate(["palliative", "sabr", "sbrt_plus_standard_care", "standard_care", "x"])]
    assert len({len(t) for t in tokens}) == 1
    assert [c.decrypt(t, f"alloc|NCT06918951|P-{i}") for i, t in enumerate(tokens)] == \
        ["palliative", "sabr", "sbrt_plus_standard_care", "standard_care", "x"]


def test_a_ciphertext_is_bound_to_its_context_and_tampering_is_detected():
    c = AesGcmCipher(KEY)
    t = c.encrypt("sabr", "alloc|T|P-1")
    with pytest.raises(BlindingError) as exc:
        c.decrypt(t, "alloc|T|P-2")
    assert exc.value.code == "decrypt_failed"
    raw = bytearray(base64.urlsafe_b64decode(t[len(c.PREFIX):]))
    raw[-1] ^= 1
    with pytest.raises(BlindingError):
        c.decrypt(c.PREFIX + base64.urlsafe_b64encode(bytes(raw)).decode(), "alloc|T|P-1")
    with pytest.raises(BlindingError):
        AesGcmCipher(bytes(32)).decrypt(t, "alloc|T|P-1")


def test_tokens_written_before_padding_still_decrypt():
    nonce = os.urandom(12)
    legacy = base64.urlsafe_b64encode(nonce + AESGCM(KEY).encrypt(nonce, b"palliative", b"alloc|T|P-1")).decode()
    assert AesGcmCipher(KEY).decrypt(legacy, "alloc|T|P-1") == "palliative"


def test_long_plaintexts_pad_to_the_next_block():
    c = AesGcmCipher(KEY)
    long = "s" * 100
    assert c.decrypt(c.encrypt(long, "ctx"), "ctx") == long
    assert len(c.encrypt(long, "ctx")) > len(c.encrypt("sabr", "ctx"))
