"""The protocol: a trial registration encoded as data, the bottom context of the domain.

Owns: the protocol schema (pydantic) parsed once when a protocol file is loaded: identity,
design, arms and their radiotherapy (:mod:`.rt_schema`), allocation, masking, endpoints,
windows, criteria (:mod:`.schema`), how each endpoint is derived (``endpoint_rules``:
:mod:`.endpoint_schema`) and the visit schedule (``schedule``: :mod:`.schedule_schema`). Every
protocol-derived number lives in the protocol file beside its registry text; the YAML loader,
which reads files, stays outside the domain (:mod:`oligotrial.protocols.loader`).

Depends on: ``kernel`` (its lazy surface) only. Used by ``radiotherapy`` (an arm's regimens), ``response``
(endpoint derivation), ``eligibility`` and ``trial`` (schedule, masking).
"""

from oligotrial.domain.kernel import lazy_exports

#: public name -> the sub-module that defines it (a public sub-module maps to itself)
_EXPORTS = {
    "endpoint_schema": "endpoint_schema",
    "rt_schema": "rt_schema",
    "schedule_schema": "schedule_schema",
    "schema": "schema",
    "EndpointRule": "endpoint_schema",
    "EndpointRules": "endpoint_schema",
    "parse_endpoint_rules": "endpoint_schema",
    "RadiotherapySpec": "rt_schema",
    "Regimen": "rt_schema",
    "Schedule": "schedule_schema",
    "VisitSpec": "schedule_schema",
    "parse_schedule": "schedule_schema",
    "Arm": "schema",
    "Protocol": "schema",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
