"""The protocol library port (:class:`oligotrial.service.ports.ProtocolLibrary`) over the YAML
loader: the shipped library, ``OLIGOTRIAL_PROTOCOL_DIRS`` and any ``extra_dirs``, read through
the loader's public functions (each file is read once per process: the loader caches)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from oligotrial.domain.protocol.schema import Protocol
from oligotrial.protocols.loader import list_protocols, load_protocol, protocol_versions


class FileProtocolLibrary:
    """The protocols of the YAML files; ``on=None`` is the loader's today (UTC)."""

    def __init__(self, extra_dirs: Iterable[str | Path] | None = None) -> None:
        self._extra_dirs = tuple(extra_dirs) if extra_dirs else None

    def get(self, trial: str, version: str | None = None, on: dt.date | None = None) -> Protocol:
        return load_protocol(trial, version, on=on, extra_dirs=self._extra_dirs)

    def versions(self, trial: str) -> list[Protocol]:
        return protocol_versions(trial, extra_dirs=self._extra_dirs)

    def in_force(self, on: dt.date | None = None) -> list[Protocol]:
        return list_protocols(on=on, extra_dirs=self._extra_dirs)
