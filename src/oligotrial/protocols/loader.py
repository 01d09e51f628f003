"""Load the shipped protocol library (YAML). The only file reader in ``protocols``."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from oligotrial.errors import ProtocolError
from oligotrial.protocols.schema import Protocol

_LIBRARY = "oligotrial.protocols.library"


def _library_files() -> list[Path]:
    root = resources.files(_LIBRARY)
    return sorted(Path(str(p)) for p in root.iterdir() if str(p).endswith(".yaml"))


def load_protocol_file(path: str | Path) -> Protocol:
    """Parse and validate one protocol YAML file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ProtocolError(f"protocol file {path}: cannot be read as YAML ({exc})", field=str(path)) from None
    try:
        return Protocol.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ProtocolError(
            f"protocol file {path.name}: {loc or 'protocol'}: {first['msg']} "
            f"({len(exc.errors())} problem(s))", field=loc) from None


@functools.cache
def _library() -> dict[str, Protocol]:
    protocols: dict[str, Protocol] = {}
    for path in _library_files():
        p = load_protocol_file(path)
        if p.id in protocols:
            raise ProtocolError(f"protocol {p.id} is defined twice in the library")
        protocols[p.id] = p
    return protocols


def list_protocols() -> list[Protocol]:
    """Every shipped protocol, ordered by registry id."""
    return [p for _, p in sorted(_library().items())]


def load_protocol(trial: str) -> Protocol:
    """A shipped protocol by NCT id or short name (case-insensitive)."""
    lib = _library()
    key = trial.strip()
    if key.upper() in lib:
        return lib[key.upper()]
    for p in lib.values():
        if p.short_name.lower() == key.lower():
            return p
    known = ", ".join(f"{p.id} ({p.short_name})" for p in lib.values())
    raise ProtocolError(f"trial {trial!r}: expected one of {known}", code="protocol_not_found", field="trial")
