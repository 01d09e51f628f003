"""The follow-up entry forms: what each form asks, and a posted form as the entry's data.

The form only shapes the data; the record's own models (through
:func:`oligotrial.service.followup.record_entry`) decide whether it is right, and their errors,
which name the field (``grade``, ``findings[0].diameter_mm``), are shown beside the input of that
name. A value that is not a number is passed on as typed, so the model's message names it.
"""

from __future__ import annotations

import datetime as dt
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from oligotrial.domain.record import ctcae
from oligotrial.domain.record.entries import ENTRY_KINDS
from oligotrial.domain.record.followup import Attribution
from oligotrial.domain.record.patient import Assessment, Organ
from oligotrial.domain.record.units import LAB_UNITS
from oligotrial.service.enrolment import RT_TECHNIQUES
from oligotrial.service.followup import UNUSUAL_VALUE_REASON

#: entry kinds whose form is built from the record's model for them (:func:`fields_of`)
MODEL_KINDS = ("qol", "lab", "performance", "therapy", "event")
#: entry kinds with a form of their own (every kind the follow-up service takes)
FORM_KINDS = ("adverse_event", "assessment", *MODEL_KINDS)
KIND_LABELS = {
    "adverse_event": "adverse event",
    "assessment": "tumour assessment",
    "qol": "quality of life",
    "lab": "laboratory result",
    "performance": "performance status",
    "therapy": "new therapy",
    "event": "event",
}
#: the heading of each model-built form on the participant page
FORM_TITLES = {
    "qol": "Record a quality-of-life questionnaire",
    "lab": "Record a laboratory result",
    "performance": "Record a performance status",
    "therapy": "Record a new systemic therapy",
    "event": "Record an event: death, progression, next line, withdrawal, loss to follow-up",
}
FINDING_ROWS = 5
FINDING_FIELDS = ("lesion", "diameter_mm", "short_axis_mm", "organ")

CHOICES = {
    "attribution": list(get_args(Attribution)),
    "organ": list(get_args(Organ)),
    "modality": list(get_args(Assessment.model_fields["modality"].annotation)),
    "ctcae_terms": sorted(ctcae.TERMS),
    "technique": list(RT_TECHNIQUES),
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


def radiotherapy(form: dict[str, Any], lesions: list[str]) -> dict[str, Any]:
    """The radiotherapy form as the body the REST route takes (``RadiotherapyBody``): the
    course's dates, dose, fractions, technique, the lesions ticked (``lesion.<id>``) and an
    override reason (``override_reason``) as ``override.reason``."""
    data: dict[str, Any] = {k: _text(form, k) for k in ("start", "end", "technique") if _text(form, k)}
    for k in ("dose_gy", "fractions", "fractions_per_week"):
        if _text(form, k):
            data[k] = _number(_text(form, k))
    data["lesions"] = [lid for lid in lesions if _text(form, f"lesion.{lid}") == "on"]
    if _text(form, "override_reason"):
        data["override"] = {"reason": _text(form, "override_reason")}
    return data


def data_from(kind: str, form: dict[str, Any]) -> dict[str, Any]:
    if kind == "adverse_event":
        return adverse_event(form)
    if kind == "assessment":
        return assessment(form)
    return model_data(kind, form)


# ---- forms built from the record's models ------------------------------------------------------


@dataclass(frozen=True)
class FormField:
    """One input of a model-built form: ``widget`` is date, number, select, checkbox, list
    (comma-separated), lines (``item = answer`` a line) or text."""

    name: str
    label: str
    widget: str
    options: tuple[str, ...] = ()
    required: bool = False
    hint: str = ""


#: labels where the field name alone says too little
LABELS = {
    ("qol", "instrument"): "Questionnaire",
    ("qol", "responses"): "Answers, one 'item = answer' a line",
    ("lab", "test"): "Test",
    ("lab", "uln"): "Upper limit of normal",
    ("lab", "lln"): "Lower limit of normal",
    ("performance", "scale"): "Scale",
    ("performance", "score"): "Score",
    ("therapy", "line"): "Line of therapy",
    ("therapy", "agents"): "Agents (comma-separated)",
    ("therapy", "classes"): "Drug classes (comma-separated)",
    ("therapy", "start"): "Started on",
    ("therapy", "end"): "Ended on",
    ("therapy", "max_toxicity_grade"): "Worst toxicity grade (CTCAE)",
    ("event", "kind"): "Event",
    ("event", "detail"): "Detail",
    ("event", "lesions"): "Lesions concerned (comma-separated ids)",
    ("event", "scope"): "Withdrawal from (a withdrawal only)",
}
#: options of a field the model checks in a validator rather than by its type
OPTIONS = {
    ("lab", "test"): tuple(sorted(LAB_UNITS)),
    ("lab", "unit"): tuple(sorted({u for units in LAB_UNITS.values() for u in units})),
}
#: inputs of a kind's request that are not fields of its entry (the service takes them aside)
EXTRA = {
    "lab": (
        FormField(
            UNUSUAL_VALUE_REASON, "Reason to keep a value far outside the plausible range (only if asked)", "text"
        ),
    )
}


def _plain(annotation: Any) -> Any:
    """``X`` of ``X | None`` and of ``Annotated[X, ...]`` (the record's bounded types)."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _widget(annotation: Any) -> tuple[str, tuple[str, ...]]:
    t = _plain(annotation)
    if get_origin(t) is Literal:
        return "select", tuple(str(a) for a in get_args(t))
    if t is dt.date:
        return "date", ()
    if t is bool:
        return "checkbox", ()
    if t in (int, float):
        return "number", ()
    if get_origin(t) is list:
        return "list", ()
    if get_origin(t) is dict:
        return "lines", ()
    return "text", ()


def model_of(kind: str) -> type[BaseModel]:
    return ENTRY_KINDS[kind][1]


def fields_of(kind: str) -> list[FormField]:
    """The inputs of ``kind``'s form, one per field of the record's model for it (the same
    model the API validates with), in the model's order; select options from its ``Literal``
    types."""
    out = []
    for name, info in model_of(kind).model_fields.items():
        widget, options = _widget(info.annotation)
        options = OPTIONS.get((kind, name), options)
        if options and widget == "text":
            widget = "select"
        label = LABELS.get((kind, name)) or name.replace("_", " ").capitalize()
        out.append(FormField(name, label, widget, options, info.is_required(), info.description or ""))
    return [*out, *EXTRA.get(kind, ())]


def _lines(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in text.replace(",", "\n").splitlines():
        if part.strip():
            item, _sep, answer = part.partition("=")
            out[item.strip()] = _number(answer.strip())
    return out


def model_data(kind: str, form: dict[str, Any]) -> dict[str, Any]:
    """A posted model-built form as the entry's data: an empty input is left out (the model
    says whether it was needed); numbers that do not parse are passed as typed."""
    data: dict[str, Any] = {}
    for f in fields_of(kind):
        text = _text(form, f.name)
        if f.widget == "checkbox":
            if text == "on":
                data[f.name] = True
        elif not text:
            continue
        elif f.widget == "number":
            data[f.name] = _number(text)
        elif f.widget == "list":
            data[f.name] = [x.strip() for x in text.split(",") if x.strip()]
        elif f.widget == "lines":
            data[f.name] = _lines(text)
        else:
            data[f.name] = text
    return data


def fold_errors(kind: str, errors: dict[str, str]) -> dict[str, str]:
    """Errors of a model-built form under the input they belong to (``responses.q31`` beside
    ``responses``); the others unchanged."""
    if kind not in MODEL_KINDS:
        return errors
    names = {f.name for f in fields_of(kind)}
    out: dict[str, str] = {}
    for path, msg in errors.items():
        head = path.split(".", 1)[0].split("[", 1)[0]
        if path not in names and head in names:
            out[head] = f"{out[head]}; " if head in out else ""
            out[head] += f"{path}: {msg}"
        else:
            out[path] = msg
    return out


def values_of(kind: str, data: dict[str, Any]) -> dict[str, str]:
    """An entry's data as the form's values (to correct it)."""
    out: dict[str, str] = {}
    for k, v in data.items():
        if isinstance(v, dict):
            out[k] = "\n".join(f"{item} = {answer}" for item, answer in v.items())
        elif isinstance(v, list) and k != "findings":
            out[k] = ", ".join(str(x) for x in v)
        elif k == "findings":
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


def joined_errors(errors: list[dict[str, Any]] | None, message: str, field: str | None) -> dict[str, str]:
    """As :func:`field_errors`, every message of one field joined (a refused radiotherapy course
    can fail on dose_gy for several reasons)."""
    out: dict[str, str] = {}
    for e in errors or []:
        path, expected = str(e.get("path")), str(e.get("expected"))
        out[path] = f"{out[path]}; {expected}" if path in out and expected not in out[path] else expected
    if not out:
        out[field or "form"] = message
    return out
