"""Builders shared by the response tests: patient records from the compact vectors in
tests/data/recist_vectors.yaml (see that file's header for the format)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from oligotrial.domain.record.patient import parse_patient

DATA = Path(__file__).resolve().parents[1] / "data"


def load_vectors(name: str = "recist_vectors.yaml") -> dict[str, Any]:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


def as_date(value: Any, start: dt.date | None = None) -> dt.date:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value.startswith("d") and start is not None:
        return start + dt.timedelta(days=int(value[1:]))
    return dt.date.fromisoformat(str(value))


def finding(lid: str, value: Any, *, node: bool) -> dict[str, Any]:
    if value is None:
        return {"lesion": lid, "state": "not_evaluated"}
    if isinstance(value, str):
        return {"lesion": lid, "state": value}
    if isinstance(value, dict):
        return {"lesion": lid, **value}
    return {"lesion": lid, ("short_axis_mm" if node else "diameter_mm"): value}


def lesion(spec: dict[str, Any]) -> dict[str, Any]:
    organ = spec["organ"]
    out = {"id": spec["id"], "kind": spec.get("kind", "lymph_node" if organ == "lymph_node" else "metastasis"),
           "organ": organ}
    if organ == "bone":
        out["soft_tissue_component"] = spec.get("soft_tissue_component", False)
    return out


def patient_from_vector(vec: dict[str, Any], **extra: Any) -> Any:
    lesions = [lesion(s) for s in vec["lesions"]]
    nodes = {s["id"] for s in vec["lesions"] if s["organ"] == "lymph_node"}
    new = {as_date(k): v for k, v in (vec.get("new") or {}).items()}
    new_nodes = {lid for v in new.values() for lid, f in v.items() if f.get("organ") == "lymph_node"}
    assessments = []
    for tp in vec["timepoints"]:
        date = as_date(tp["date"])
        findings = [finding(k, v, node=k in nodes or k in new_nodes) for k, v in tp.items() if k != "date"]
        for lid, f in (new.get(date) or {}).items():
            findings.append({"lesion": lid, "new": True, **f})
        assessments.append({"date": date.isoformat(), "modality": vec.get("modality", "CT"),
                            "findings": findings})
    record = {"format": "oligotrial.patient/1", "id": vec["id"], "as_of": "2027-01-01",
              "lesions": lesions, "assessments": assessments, **extra}
    return parse_patient(record)


def irecist_patient(vec: dict[str, Any]) -> Any:
    """One non-nodal 100 mm target at baseline 2026-01-01 (RT fixtures); new lesions are NLT."""
    assessments = [{"date": "2026-01-01", "modality": "CT",
                    "findings": [{"lesion": "T1", "diameter_mm": 100, "target": True}]}]
    seen: set[str] = set()
    for row in vec["sums"]:
        date, size = as_date(row[0]), row[1]
        findings = [finding("T1", size, node=False)]
        for lid, v in (row[2] if len(row) > 2 else {}).items():
            f = finding(lid, v, node=False)
            if lid not in seen:
                f.update({"new": True, "organ": "lung", "target": True})
                seen.add(lid)
            findings.append(f)
        assessments.append({"date": date.isoformat(), "modality": "CT", "findings": findings})
    return parse_patient({"format": "oligotrial.patient/1", "id": vec["id"], "as_of": "2027-01-01",
                          "lesions": [{"id": "T1", "kind": "metastasis", "organ": "liver"}],
                          "assessments": assessments})
