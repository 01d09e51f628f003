"""Settings as data: every setting documented; unsafe values refused with the setting named."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import ValidationError

from oligotrial.config import Settings

DOC = (Path(__file__).parents[3] / "docs" / "configuration.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name):
    assert f"`{name}`" in DOC and f"`OLIGOTRIAL_{name.upper()}`" in DOC


def test_environment_variables_are_read(monkeypatch):
    monkeypatch.setenv("OLIGOTRIAL_DATABASE_URL", "postgresql://u@h:5432/db")
    monkeypatch.setenv("OLIGOTRIAL_PORT", "9001")
    s = Settings()
    assert s.database_url.startswith("postgresql") and s.port == 9001


@pytest.mark.parametrize("kwargs,field", [
    ({"environment": "production"}, "secret_key"),
    ({"environment": "production", "secret_key": "x" * 40}, "allocation_key"),
    ({"allocation_key": base64.b64encode(b"short").decode()}, "allocation_key"),
    ({"allocation_key": "not base64!!"}, "allocation_key"),
    ({"database_url": "mysql://x"}, "database_url"),
    ({"port": 0}, "port"),
    ({"unknown_setting": 1}, "unknown_setting"),
])
def test_unsafe_or_unknown_values_are_refused(kwargs, field):
    with pytest.raises(ValidationError) as e:
        Settings(**kwargs)
    assert field in str(e.value)


def test_production_accepts_its_own_secrets():
    key = base64.b64encode(b"k" * 32).decode()
    s = Settings(environment="production", secret_key="p" * 40, allocation_key=key)
    assert s.allocation_key_bytes == b"k" * 32
