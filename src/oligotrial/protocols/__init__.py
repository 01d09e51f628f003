"""The protocol library: the five seed trials as data, and their schema."""

from oligotrial.protocols.loader import list_protocols, load_protocol, load_protocol_file
from oligotrial.protocols.schema import Protocol

__all__ = ["Protocol", "list_protocols", "load_protocol", "load_protocol_file"]
