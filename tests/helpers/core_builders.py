"""Small builders for crafted patient records in the core tests."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

from oligotrial.domain.record.patient import parse_patient


def example(name: str) -> dict[str, Any]:
    """A shipped example record (a fresh copy, safe to modify)."""
    text = resources.files("oligotrial.examples").joinpath(f"{name}.json").read_text()
    return json.loads(text)


def base(**over: Any) -> dict[str, Any]:
    rec = {
        "format": "oligotrial.patient/1", "id": "T-1", "as_of": "2026-03-02", "birth_date": "1960-03-02",
        "sex": "male",
    }
    rec.update(over)
    return rec


def lesion_record(history: list[tuple[str, list[dict]]], lesions: list[dict], *, lines=None, as_of="2026-03-02",
                  **over: Any) -> dict[str, Any]:
    """A record whose assessments are (date, findings) pairs."""
    rec = base(as_of=as_of, lesions=lesions,
               assessments=[{"date": d, "modality": "CT", "findings": f} for d, f in history], **over)
    if lines is not None:
        rec["systemic_therapy"] = lines
    return rec


def parsed(rec: dict[str, Any]):
    return parse_patient(copy.deepcopy(rec))
