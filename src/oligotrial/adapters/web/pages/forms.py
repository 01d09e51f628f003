"""The follow-up entry forms: what each form asks, and a posted form as the entry's data.

The form only shapes the data; the record's own models (through
:func:`oligotrial.service.followup.record_entry`) decide whether it is right, and their errors,
which name the field (``grade``, ``findings[0].diameter_mm``), are shown beside the input of that
name. A value that is not a number is passed on as typed, so the model's message names it.
"""

from __future__ import annotations

from typing import Any, get_args

from oligotrial.domain.record import ctcae
from oligotrial.domain.record.followup import Attribution
from oligotrial.domain.record.patient import Assessment, Organ

#: entry kinds with a form of their own (the others are corrected as their JSON)
FORM_KINDS = ("adverse_event", "assessment")
KIND_LABELS = {"adverse_event": "adverse event", "assessment": "tumour assessment", "qol": "quality of life",
               "lab": "laboratory result", "performance": "performance status", "therapy": "new therapy",
               "event": "event"}
FINDING_ROWS = 5
FINDING_FIELDS = ("lesion", "diameter_mm", "short_axis_mm", "organ")

CHOICES = {
    "attribution": list(get_args(Attribution)),
    "organ": list(get_args(Organ)),
    "modality": list(get_args(Assessment.model_fields["modality"].annotation)),
    "ctcae_terms": sorted(ctcae.TERMS),
}


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _text(form: dict[str, Any], name: str) -> str:
    v = form.get(name)
    return v.strip() if isinstance(v, str) else ""


def adverse_event(form: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in ("date", "term", "specify", "resolved_on", "attribution_radiotherapy", "attribution_systemic", "note"):
        if _text(form, name):
            data[name] = _text(form, name)
    if _text(form, "grade"):
        data["grade"] = _number(_text(form, "grade"))
    data["serious"] = _text(form, "serious") == "on"
    return data


def assessment(form: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {k: _text(form, k) for k in ("date", "modality") if _text(form, k)}
    findings = []
    for i in range(FINDING_ROWS):
        row = {f: _text(form, f"findings[{i}].{f}") for f in FINDING_FIELDS}
        new = _text(form, f"findings[{i}].new") == "on"
        if not any(row.values()) and not new:
            continue
        finding: dict[str, Any] = {k: (_number(v) if k.endswith("_mm") else v) for k, v in row.items() if v}
        if new:
            finding["new"] = True
        findings.append(finding)
    data["findings"] = findings
    return data


def data_from(kind: str, form: dict[str, Any]) -> dict[str, Any]:
    return adverse_event(form) if kind == "adverse_event" else assessment(form)


def values_of(kind: str, data: dict[str, Any]) -> dict[str, str]:
    """An entry's data as the form's values (to correct it)."""
    out: dict[str, str] = {}
    for k, v in data.items():
        if k == "findings":
            for i, f in enumerate(v[:FINDING_ROWS]):
                for name in FINDING_FIELDS:
                    if f.get(name) is not None:
                        out[f"findings[{i}].{name}"] = str(f[name])
                if f.get("new"):
                    out[f"findings[{i}].new"] = "on"
        elif isinstance(v, bool):
            out[k] = "on" if v else ""
        elif v is not None:
            out[k] = str(v)
    return out


def field_errors(errors: list[dict[str, Any]] | None, message: str, field: str | None) -> dict[str, str]:
    """The service's errors by field name (the form's input names), each as 'what was expected'."""
    out: dict[str, str] = {}
    for e in errors or []:
        out.setdefault(str(e.get("path")), str(e.get("expected")))
    if not out:
        out[field or "form"] = message
    return out
