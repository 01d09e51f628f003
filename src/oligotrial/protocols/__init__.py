"""The protocol library: the five seed trials as data, read from their files and validated against
the protocol schema, which is the domain's (:mod:`oligotrial.domain.protocol`).

A trial may have several versions (amendments); ``load_protocol(id)`` gives the current one,
``load_protocol(id, version=...)`` a named one and ``protocol_versions(id)`` all of them.
Extra protocol directories come from ``OLIGOTRIAL_PROTOCOL_DIRS`` or ``extra_dirs``
(see :mod:`oligotrial.protocols.loader`); :func:`diff_protocols` compares two versions."""

from oligotrial.domain.protocol.schema import Protocol
from oligotrial.protocols.diff import Change, diff_protocols
from oligotrial.protocols.loader import (
    list_protocols,
    load_library,
    load_protocol,
    load_protocol_file,
    protocol_versions,
)

__all__ = [
    "Change",
    "Protocol",
    "diff_protocols",
    "list_protocols",
    "load_library",
    "load_protocol",
    "load_protocol_file",
    "protocol_versions",
]
