"""Compare two versions of a protocol: what an amendment adds, removes or changes.

:func:`diff_protocols` is a pure function of two :class:`~oligotrial.domain.protocol.schema.Protocol`
objects. Each :class:`Change` names its section, the item's id, the kind (``added``,
``removed`` or ``changed``) and, where changed, the fields that changed with their values
before and after (an added item carries its whole content as ``after``, a removed one as
``before``). Sections, in order:

- ``criteria`` (by criterion id: kind, source text, rule, attestation, note),
- ``windows`` (by window name),
- ``arms`` (by arm id: everything but the regimens, plus the arm's allocation ratio),
- ``regimens`` (by ``arm_id/label``),
- ``endpoints`` (by endpoint id, primary and secondary, with its ``level``),
- ``endpoint_rules`` (by rule id; ``(derivation)`` for the origin and the note),
- ``attestation_keys`` (by key), ``schedule`` (visits by code, ``(schedule)`` for the rest),
- ``protocol`` (any other top-level field, by field name; the version, effective date and
  ``amends`` identify the two versions and are not reported as changes).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from oligotrial.domain.protocol.schema import Protocol

Kind = Literal["added", "removed", "changed"]

SECTIONS = (
    "criteria",
    "windows",
    "arms",
    "regimens",
    "endpoints",
    "endpoint_rules",
    "attestation_keys",
    "schedule",
    "protocol",
)
_NOUN = {
    "criteria": "criterion",
    "windows": "window",
    "arms": "arm",
    "regimens": "regimen",
    "endpoints": "endpoint",
    "endpoint_rules": "endpoint rule",
    "attestation_keys": "attestation key",
    "schedule": "visit",
    "protocol": "protocol field",
}
#: top-level fields that identify a version, or are compared in their own section
_IDENTITY = {"version", "effective_date", "amends"}
_SECTIONED = {
    "criteria",
    "windows",
    "arms",
    "allocation_ratio",
    "endpoints",
    "endpoint_rules",
    "attestation_keys",
    "schedule",
}


@dataclass(frozen=True)
class Change:
    section: str
    id: str
    kind: Kind
    before: Any = None
    after: Any = None
    fields: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"section": self.section, "id": self.id, "kind": self.kind}
        if self.fields:
            out["fields"] = list(self.fields)
        if self.before is not None:
            out["before"] = self.before
        if self.after is not None:
            out["after"] = self.after
        return out

    def describe(self) -> str:
        """The change in words, e.g. ``criterion STOP2-IN-05 changed: rule ... -> ...``."""
        noun = _NOUN.get(self.section, self.section)
        if self.kind == "added":
            return f"{noun} {self.id} added{_gist(self.after)}"
        if self.kind == "removed":
            return f"{noun} {self.id} removed{_gist(self.before)}"
        parts = [f"{_label(f)} {_show(self.before.get(f))} -> {_show(self.after.get(f))}" for f in self.fields]
        return f"{noun} {self.id} changed: " + "; ".join(parts)


def _label(name: str) -> str:
    return name.replace("_", " ")


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, sort_keys=False, separators=(", ", ": "))


def _gist(item: Any) -> str:
    """A short description of an added or removed item: its kind/level and its text or rule."""
    if not isinstance(item, dict):
        return f": {_show(item)}" if item is not None else ""
    qual = [str(item[k]) for k in ("kind", "level") if isinstance(item.get(k), str)]
    head = f" ({', '.join(qual)})" if qual else ""
    text = next(
        (item[k] for k in ("source_text", "name", "label", "question", "description") if isinstance(item.get(k), str)),
        None,
    )
    out = head + (f": {_show(text)}" if text is not None else "")
    for key in ("rule", "attestation"):
        if item.get(key) is not None:
            out += f"; {_label(key)} {_show(item[key])}"
    return out


def _compare(section: str, before: Iterable[tuple[str, dict]], after: Iterable[tuple[str, dict]]) -> list[Change]:
    """Changes between two keyed lists of JSON-like items (order: ``before``'s, then additions)."""
    old, new = dict(before), dict(after)
    out: list[Change] = []
    for key, item in old.items():
        if key not in new:
            out.append(Change(section, key, "removed", before=item))
            continue
        other = new[key]
        names = list(dict.fromkeys([*item, *other]))
        changed = tuple(n for n in names if item.get(n) != other.get(n))
        if changed:
            out.append(
                Change(
                    section,
                    key,
                    "changed",
                    before={n: item.get(n) for n in changed},
                    after={n: other.get(n) for n in changed},
                    fields=changed,
                )
            )
    out += [Change(section, key, "added", after=item) for key, item in new.items() if key not in old]
    return out


def _criteria(p: Protocol) -> list[tuple[str, dict]]:
    return [(c.id, c.model_dump(mode="json", exclude={"id"})) for c in p.criteria]


def _windows(p: Protocol) -> list[tuple[str, dict]]:
    return [(name, w.model_dump(mode="json")) for name, w in p.windows.items()]


def _arms(p: Protocol) -> list[tuple[str, dict]]:
    out = []
    for a in p.arms:
        d = a.model_dump(mode="json", exclude={"id"})
        if d.get("radiotherapy"):
            d["radiotherapy"] = {k: v for k, v in d["radiotherapy"].items() if k != "regimens"}
        d["allocation_ratio"] = p.allocation_ratio.get(a.id)
        out.append((a.id, d))
    return out


def _regimens(p: Protocol) -> list[tuple[str, dict]]:
    out = []
    for a in p.arms:
        if a.radiotherapy is None:
            continue
        for r in a.radiotherapy.regimens:
            out.append((f"{a.id}/{r.label}", r.model_dump(mode="json", exclude_none=True)))
    return out


def _endpoints(p: Protocol) -> list[tuple[str, dict]]:
    return [
        (e.id, {"level": level, **e.model_dump(mode="json", exclude={"id"})})
        for level, eps in (("primary", p.endpoints.primary), ("secondary", p.endpoints.secondary))
        for e in eps
    ]


def _keyed_block(model: BaseModel | None, list_key: str, id_key: str, general: str) -> list[tuple[str, dict]]:
    """A block (``endpoint_rules``, ``schedule``) as the file wrote it: its items by id, the rest as
    ``general``."""
    block: dict[str, Any] | None = None if model is None else model.model_dump()
    if not block:
        return []
    rest = {k: v for k, v in block.items() if k != list_key}
    out = [(general, rest)] if rest else []
    for i, item in enumerate(block.get(list_key) or []):
        key = str(item.get(id_key)) if isinstance(item, dict) and item.get(id_key) is not None else f"#{i + 1}"
        body = {k: v for k, v in item.items() if k != id_key} if isinstance(item, dict) else {"value": item}
        out.append((key, body))
    return out


def _attestation_keys(p: Protocol) -> list[tuple[str, dict]]:
    return [(k.key, k.model_dump(mode="json", exclude={"key"})) for k in p.attestation_keys]


def _protocol_fields(p: Protocol) -> list[tuple[str, dict]]:
    doc = p.model_dump(mode="json")
    return [(name, {"value": value}) for name, value in doc.items() if name not in _IDENTITY | _SECTIONED]


def diff_protocols(before: Protocol, after: Protocol) -> list[Change]:
    """What changed from protocol ``before`` to protocol ``after`` (two versions of one trial),
    section by section (see the module docstring). Pure: reads nothing but its arguments."""
    out: list[Change] = []
    out += _compare("criteria", _criteria(before), _criteria(after))
    out += _compare("windows", _windows(before), _windows(after))
    out += _compare("arms", _arms(before), _arms(after))
    out += _compare("regimens", _regimens(before), _regimens(after))
    out += _compare("endpoints", _endpoints(before), _endpoints(after))
    out += _compare(
        "endpoint_rules",
        _keyed_block(before.endpoint_rules, "endpoints", "id", "(derivation)"),
        _keyed_block(after.endpoint_rules, "endpoints", "id", "(derivation)"),
    )
    out += _compare("attestation_keys", _attestation_keys(before), _attestation_keys(after))
    out += _compare(
        "schedule",
        _keyed_block(before.schedule, "visits", "code", "(schedule)"),
        _keyed_block(after.schedule, "visits", "code", "(schedule)"),
    )
    changes = _compare("protocol", _protocol_fields(before), _protocol_fields(after))
    # a top-level field reads better as its value than as {"value": ...}
    out += [
        Change(
            c.section,
            c.id,
            c.kind,
            before=(c.before or {}).get("value") if c.kind != "changed" else {c.id: c.before["value"]},
            after=(c.after or {}).get("value") if c.kind != "changed" else {c.id: c.after["value"]},
            fields=(c.id,) if c.kind == "changed" else (),
        )
        for c in changes
    ]
    return out


def diff_document(before: Protocol, after: Protocol) -> dict[str, Any]:
    """The diff as data: the two versions and every change (what ``protocols diff --json`` prints)."""

    def ident(p: Protocol) -> dict[str, Any]:
        return {"version": p.version, "effective_date": p.effective_date.isoformat(), "amends": p.amends}

    changes = diff_protocols(before, after)
    return {
        "trial": after.id,
        "short_name": after.short_name,
        "from": ident(before),
        "to": ident(after),
        "summary": {k: sum(c.kind == k for c in changes) for k in ("added", "removed", "changed")},
        "changes": [c.to_dict() for c in changes],
    }
