"""Account management through the SQL repository, on SQLite and PostgreSQL: the listing, a
grant replaced and revoked, deactivation and a password reset stored, each audited in the
chain (which still verifies) and without the password."""

from __future__ import annotations

import json

import pytest

from oligotrial.errors import OligotrialError
from oligotrial.service import audit, users

TRIAL = "NCT06918951"


def test_accounts_are_managed_and_audited_in_the_database(container):
    ctx = container.ctx
    root = users.actor_for(ctx, users.add_user(ctx, "root", "root-password", "admin", "*").id)
    users.add_user(ctx, "alice", "first-password", "coordinator", TRIAL, site="site-a")
    assert users.list_users(ctx, root) == [
        {"username": "alice", "active": True, "grants": [{"trial": TRIAL, "role": "coordinator", "site": "site-a"}]},
        {"username": "root", "active": True, "grants": [{"trial": "*", "role": "admin", "site": None}]}]

    users.grant(ctx, root, "alice", "*", "dsmb")
    users.grant(ctx, root, "alice", TRIAL, "data_manager")  # replaces the site-limited role
    alice = users.authenticate(ctx, "alice", "first-password")
    assert alice.roles == {TRIAL: "data_manager", "*": "dsmb"} and alice.sites == {}
    users.revoke(ctx, root, "alice", "*")
    assert users.actor_for(ctx, alice.id).roles == {TRIAL: "data_manager"}

    users.set_active(ctx, root, "alice", False)
    with pytest.raises(users.AuthenticationError):
        users.actor_for(ctx, alice.id)
    users.set_active(ctx, root, "alice", True)
    users.reset_password(ctx, root, "alice", "second-password")
    with pytest.raises(users.AuthenticationError):
        users.authenticate(ctx, "alice", "first-password")
    assert users.authenticate(ctx, "alice", "second-password").id == alice.id

    with pytest.raises(OligotrialError) as e:
        users.revoke(ctx, root, "alice", "*")
    assert e.value.field == "trial"

    hist = users.account_history(ctx, root)
    assert [h["action"] for h in hist][:6] == ["user.password_reset", "user.activate", "user.deactivate",
                                               "user.revoke", "user.grant", "user.grant"]
    assert not any(p in json.dumps(hist) for p in ("first-password", "second-password", "root-password"))
    assert audit.verify(ctx).ok
