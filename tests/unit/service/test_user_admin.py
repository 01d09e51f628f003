"""The administrator's account management against in-memory fakes: list, grant, revoke,
deactivate and reactivate, reset a password; each is the administrator's alone, each audited
(never with a password), a refusal names its field and stores nothing, and an administrator
cannot lock themself out."""

from __future__ import annotations

import itertools
import json

import pytest

from oligotrial.errors import BlindingError, OligotrialError
from oligotrial.protocols import load_protocol
from oligotrial.service import users
from oligotrial.service.ports import Actor
from service_fakes import committed, make_ctx

STOP2 = load_protocol("STOP-2")
PW = "first-password"


def _setup():
    ctx, store, _ = make_ctx()
    admin_user = users.add_user(ctx, "root", "root-password", "admin", "*")
    users.add_user(ctx, "alice", PW, "coordinator", STOP2.id, site="site-a")
    admin = users.actor_for(ctx, admin_user.id)
    return ctx, store, admin


def _uid(store, name):
    return committed(store).users.get_user_by_name(name).id


def _actions(store):
    return [e["action"] for e in store["db"].audit]


def test_the_list_shows_accounts_with_their_roles_per_trial_and_site_and_never_a_password_hash():
    ctx, _store, admin = _setup()
    out = users.list_users(ctx, admin)
    assert [u["username"] for u in out] == ["alice", "root"]
    assert out[0] == {"username": "alice", "active": True,
                      "grants": [{"trial": STOP2.id, "role": "coordinator", "site": "site-a"}]}
    assert out[1]["grants"] == [{"trial": "*", "role": "admin", "site": None}]
    assert "h:" not in json.dumps(out)  # the fake hasher's hashes start so


@pytest.mark.parametrize("actor", [Actor("coord", {STOP2.id: "coordinator"}),
                                   Actor("trial-admin", {STOP2.id: "admin"}),  # one trial's only
                                   Actor("nobody", {})], ids=["coordinator", "admin-of-one-trial", "no-role"])
@pytest.mark.parametrize("call", [
    lambda ctx, a: users.list_users(ctx, a),
    lambda ctx, a: users.add_user(ctx, "bob", "long-enough", "dsmb", STOP2.id, actor=a),
    lambda ctx, a: users.grant(ctx, a, "alice", STOP2.id, "dsmb"),
    lambda ctx, a: users.revoke(ctx, a, "alice", STOP2.id),
    lambda ctx, a: users.set_active(ctx, a, "alice", False),
    lambda ctx, a: users.reset_password(ctx, a, "alice", "another-password"),
    lambda ctx, a: users.account_history(ctx, a),
], ids=["list", "add", "grant", "revoke", "deactivate", "reset", "history"])
def test_only_the_administrator_of_every_trial_manages_accounts(actor, call):
    ctx, store, _ = _setup()
    before = len(store["db"].audit)
    with pytest.raises(BlindingError) as e:
        call(ctx, actor)
    assert e.value.code == "forbidden" and "manage_users" in e.value.message
    assert len(store["db"].audit) == before and committed(store).users.get_user_by_name("bob") is None
    assert users.authenticate(ctx, "alice", PW).roles == {STOP2.id: "coordinator"}


def test_an_administrator_adds_a_user_who_can_sign_in_and_the_creation_names_the_administrator():
    ctx, store, admin = _setup()
    users.add_user(ctx, "bob", "bobs-password", "dsmb", STOP2.id, actor=admin)
    assert users.authenticate(ctx, "bob", "bobs-password").roles == {STOP2.id: "dsmb"}
    created = [e for e in store["db"].audit if e["entity_id"] == "bob"]
    assert [(e["action"], e["actor"]) for e in created] == [("user.create", "root"), ("user.grant", "root")]


def test_grant_gives_an_existing_user_a_role_or_replaces_one_and_is_audited():
    ctx, store, admin = _setup()
    users.grant(ctx, admin, "alice", "*", "dsmb")
    assert users.actor_for(ctx, _uid(store, "alice")).roles == {STOP2.id: "coordinator", "*": "dsmb"}
    out = users.grant(ctx, admin, "alice", "STOP-2", "data_manager")  # short name; the site limit goes
    assert out["grants"][1] == {"trial": STOP2.id, "role": "data_manager", "site": None}
    actor = users.actor_for(ctx, _uid(store, "alice"))
    assert actor.role_in(STOP2.id) == "data_manager" and actor.site_in(STOP2.id) is None
    last = store["db"].audit[-1]
    assert last["action"] == "user.grant" and last["trial"] == STOP2.id and last["entity_id"] == "alice"
    assert last["new"] == {"trial": STOP2.id, "role": "data_manager", "site": None,
                           "replaces": {"role": "coordinator", "site": "site-a"}}


def test_revoke_takes_the_role_away_at_once_and_is_audited():
    ctx, store, admin = _setup()
    out = users.revoke(ctx, admin, "alice", STOP2.id)
    assert out["grants"] == []
    assert users.actor_for(ctx, _uid(store, "alice")).role_in(STOP2.id) is None
    last = store["db"].audit[-1]
    assert (last["action"], last["trial"], last["actor"]) == ("user.revoke", STOP2.id, "root")
    assert last["new"] == {"revoked": {"trial": STOP2.id, "role": "coordinator", "site": "site-a"}}


def test_deactivation_ends_sign_in_and_sessions_and_reactivation_restores_them():
    ctx, store, admin = _setup()
    uid = _uid(store, "alice")
    assert users.set_active(ctx, admin, "alice", False)["active"] is False
    with pytest.raises(users.AuthenticationError):
        users.authenticate(ctx, "alice", PW)
    with pytest.raises(users.AuthenticationError):
        users.actor_for(ctx, uid)  # every page and API call reads the actor anew: the session ends
    assert users.list_users(ctx, admin)[0]["active"] is False
    n = len(store["db"].audit)
    users.set_active(ctx, admin, "alice", False)  # already inactive: nothing written
    assert len(store["db"].audit) == n
    users.set_active(ctx, admin, "alice", True)
    assert users.authenticate(ctx, "alice", PW).username == "alice"
    assert _actions(store)[-2:] == ["user.deactivate", "user.activate"]


def test_a_password_reset_replaces_the_old_one_and_never_enters_the_trail():
    ctx, store, admin = _setup()
    users.reset_password(ctx, admin, "alice", "brand-new-secret")
    assert users.authenticate(ctx, "alice", "brand-new-secret").username == "alice"
    with pytest.raises(users.AuthenticationError):
        users.authenticate(ctx, "alice", PW)
    last = store["db"].audit[-1]
    assert last["action"] == "user.password_reset" and last["entity_id"] == "alice"
    assert "brand-new-secret" not in json.dumps(store["db"].audit)
    assert PW not in json.dumps(store["db"].audit)


@pytest.mark.parametrize("call, field, words", [
    (lambda ctx, a: users.grant(ctx, a, "alice", STOP2.id, "king"), "role", "expected one of"),
    (lambda ctx, a: users.grant(ctx, a, "ghost", STOP2.id, "dsmb"), "username", "expected an existing user"),
    (lambda ctx, a: users.grant(ctx, a, "alice", "*", "dsmb", site="site-a"), "site", "one trial"),
    (lambda ctx, a: users.grant(ctx, a, "alice", STOP2.id, "dsmb", site="bad site!"), "site", "site code"),
    (lambda ctx, a: users.revoke(ctx, a, "alice", "*"), "trial", "has no role there"),
    (lambda ctx, a: users.revoke(ctx, a, "ghost", STOP2.id), "username", "'ghost'"),
    (lambda ctx, a: users.set_active(ctx, a, "ghost", False), "username", "expected an existing user"),
    (lambda ctx, a: users.set_active(ctx, a, "alice", "no"), "active", "expected true or false"),
    (lambda ctx, a: users.reset_password(ctx, a, "alice", "short"), "password", "at least 8 characters"),
    (lambda ctx, a: users.reset_password(ctx, a, "ghost", "long-enough"), "username", "existing user"),
    (lambda ctx, a: users.add_user(ctx, "bad name!", "long-enough", "dsmb", STOP2.id, actor=a), "username",
     "'bad name!'"),
], ids=["role", "grant-unknown-user", "site-for-every-trial", "bad-site", "no-such-grant", "revoke-unknown-user",
        "deactivate-unknown-user", "active-not-bool", "short-password", "reset-unknown-user", "bad-username"])
def test_bad_input_names_the_field_and_the_expectation_and_stores_nothing(call, field, words):
    ctx, store, admin = _setup()
    before = (len(store["db"].audit), store["commits"])
    with pytest.raises(OligotrialError) as e:
        call(ctx, admin)
    assert e.value.field == field and words in e.value.message, e.value.message
    assert (len(store["db"].audit), store["commits"]) == before
    assert users.authenticate(ctx, "alice", PW).roles == {STOP2.id: "coordinator"}


@pytest.mark.parametrize("call", [
    lambda ctx, a: users.set_active(ctx, a, "root", False),
    lambda ctx, a: users.revoke(ctx, a, "root", "*"),
    lambda ctx, a: users.grant(ctx, a, "root", "*", "coordinator"),
], ids=["deactivate-self", "revoke-own-admin", "replace-own-admin"])
def test_an_administrator_cannot_lock_themself_out(call):
    ctx, store, admin = _setup()
    before = len(store["db"].audit)
    with pytest.raises(OligotrialError) as e:
        call(ctx, admin)
    assert e.value.code == "self_lockout" and "another administrator" in e.value.message
    assert len(store["db"].audit) == before
    assert users.actor_for(ctx, admin.user_id).role_in("*") == "admin"


def test_an_administrator_may_change_their_own_other_roles_while_another_admin_may_revoke_theirs():
    ctx, _store, admin = _setup()
    users.grant(ctx, admin, "root", STOP2.id, "dsmb")
    users.revoke(ctx, admin, "root", STOP2.id)  # their grant for every trial stays
    other = users.add_user(ctx, "root2", "root2-password", "admin", "*", actor=admin)
    users.revoke(ctx, users.actor_for(ctx, other.id), "root", "*")
    with pytest.raises(BlindingError):
        users.list_users(ctx, users.actor_for(ctx, admin.user_id))


def test_the_account_history_lists_account_entries_newest_first_without_passwords():
    ctx, _store, admin = _setup()
    users.revoke(ctx, admin, "alice", STOP2.id)
    users.reset_password(ctx, admin, "alice", "brand-new-secret")
    hist = users.account_history(ctx, admin)
    assert [h["action"] for h in hist][:2] == ["user.password_reset", "user.revoke"]
    assert {h["action"] for h in hist} >= {"user.create", "user.grant"}
    assert all(h["seq"] > nxt["seq"] for h, nxt in itertools.pairwise(hist))
    assert "brand-new-secret" not in json.dumps(hist) and "h:" not in json.dumps(hist)
    assert len(users.account_history(ctx, admin, limit=2)) == 2
