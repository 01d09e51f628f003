"""Issue 27 item 5: one rule decides who sees arms (``sees_arms``), and one role list."""

from __future__ import annotations

from types import SimpleNamespace
from typing import get_args

import pytest

from oligotrial.domain.trial.blinding import ROLES, Role, sees_arms


def _protocol(*blinded: str):
    return SimpleNamespace(masking=SimpleNamespace(blinded_roles=list(blinded)))


def test_admin_is_blind_in_a_trial_that_blinds_anyone_and_sees_arms_in_an_open_label_one():
    assert sees_arms(_protocol("statistician"), "admin") is False
    assert sees_arms(_protocol(), "admin") is True


@pytest.mark.parametrize("role", [r for r in ROLES if r != "admin"])
def test_other_roles_follow_the_protocol(role):
    assert sees_arms(_protocol(role), role) is (role in ("coordinator", "treating_oncologist"))
    assert sees_arms(_protocol(), role) is True


def test_the_role_list_is_one_list():
    """Defined once, in the bottom context with the protocol schema that names roles; the trial
    context re-exports the same objects."""
    from oligotrial.domain.protocol import schema
    from oligotrial.domain.trial import blinding

    assert ROLES == get_args(Role)
    assert blinding.ROLES is schema.ROLES and blinding.Role is schema.Role
    assert schema.Masking.model_fields["blinded_roles"].annotation == list[Role]
    assert not any(
        isinstance(v, tuple) and v == ROLES and v is not schema.ROLES
        for mod in (blinding, schema)
        for v in vars(mod).values()
    )


def test_no_module_decides_admin_blindness_itself():
    """The admin rule lives only in ``sees_arms``: no other module compares the role to admin
    next to a blinding check."""
    import pathlib
    import re

    import oligotrial

    root = pathlib.Path(oligotrial.__file__).parent
    found = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if p.name != "blinding.py" and re.search(r"is_blinded\([^)]*\)\s*(or|and)[^\n]*admin", p.read_text())
    ]
    assert found == []
