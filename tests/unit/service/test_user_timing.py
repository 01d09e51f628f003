"""Issue 26 item 2: "user names are enumerable by timing (about 200 ms for a real user, 30 ms for
an unknown one) ... password checks take the same time for unknown users"."""

from __future__ import annotations

import dataclasses

import pytest

from oligotrial.service import users
from service_fakes import make_ctx


class CountingHasher:
    def __init__(self) -> None:
        self.verified: list[str] = []

    def hash(self, password: str) -> str:
        return "h:" + password

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified.append(password_hash)
        return password_hash == "h:" + password


def test_an_unknown_user_name_costs_one_full_password_check_like_a_real_one():
    ctx, _store, _ = make_ctx()
    ctx = dataclasses.replace(ctx, hasher=CountingHasher())
    users.add_user(ctx, "real", "a-long-password", "coordinator", "NCT06918951")
    for name in ("real", "nobody", "real"):
        with pytest.raises(users.AuthenticationError) as exc:
            users.authenticate(ctx, name, "wrong-password")
        assert exc.value.message == "username or password: not recognised"  # never says which
    # one hash check each, the unknown name's against a stand-in hash (not the real user's)
    assert len(ctx.hasher.verified) == 3 and ctx.hasher.verified[0] == ctx.hasher.verified[2] != ctx.hasher.verified[1]
    assert users.authenticate(ctx, "real", "a-long-password").username == "real"


def test_an_unknown_user_name_takes_as_long_as_a_real_one_with_argon2():
    """Measured with the real hasher (its test cost): the unknown name's answer takes at least half
    the real one's (before the fix it skipped the hash: about 1/7 of the time)."""
    import time

    from oligotrial.adapters.db.crypto import Argon2Hasher

    ctx, _store, _ = make_ctx()
    ctx = dataclasses.replace(ctx, hasher=Argon2Hasher(fast=True))
    users.add_user(ctx, "real", "a-long-password", "coordinator", "NCT06918951")

    def median_s(name: str) -> float:
        times = []
        for _ in range(15):
            t = time.perf_counter()
            with pytest.raises(users.AuthenticationError):
                users.authenticate(ctx, name, "wrong-password")
            times.append(time.perf_counter() - t)
        return sorted(times)[len(times) // 2]

    median_s("nobody")  # the stand-in hash is made once
    real, unknown = median_s("real"), median_s("nobody")
    assert unknown >= 0.5 * real, (real, unknown)
