"""The follow-up entry routes' documentation: each body is the patient record's own entry model
(``oligotrial.patient/1``), so the OpenAPI schema is that model's JSON Schema, with an example."""

from __future__ import annotations

from typing import Any

from oligotrial.domain.record import ENTRY_KINDS
from oligotrial.service.followup import UNUSUAL_VALUE_REASON

#: (path under the participant, entry kind, summary)
ENTRY_ROUTES = (
    ("assessments", "assessment", "Record a tumour assessment (one imaging time point, per-lesion findings)"),
    ("adverse-events", "adverse_event", "Record an adverse event (CTCAE v5.0 term and grade)"),
    ("qol", "qol", "Record a quality-of-life questionnaire"),
    ("labs", "lab", "Record a laboratory result"),
    ("performance", "performance", "Record a performance status (ECOG or Karnofsky)"),
    ("therapies", "therapy", "Record a systemic therapy line started during follow-up"),
    ("events", "event", "Record an event: death, progression, next line start, loss to follow-up, withdrawal"),
)

EXAMPLES: dict[str, dict[str, Any]] = {
    "assessment": {
        "date": "2026-06-01",
        "modality": "CT",
        "findings": [
            {"lesion": "L1", "diameter_mm": 18},
            {"lesion": "L2", "short_axis_mm": 9},
            {"lesion": "L9", "new": True, "diameter_mm": 7, "organ": "liver"},
        ],
    },
    "adverse_event": {
        "date": "2026-04-02",
        "term": "Pneumonitis",
        "grade": 2,
        "serious": False,
        "attribution_radiotherapy": "probable",
        "attribution_systemic": "unlikely",
    },
    "qol": {
        "date": "2026-04-02",
        "instrument": "EQ-5D-5L",
        "responses": {
            "mobility": 2,
            "self_care": 1,
            "usual_activities": 2,
            "pain_discomfort": 2,
            "anxiety_depression": 1,
            "vas": 70,
        },
    },
    "lab": {"date": "2026-04-02", "test": "hemoglobin", "value": 11.8, "unit": "g/dL"},
    "performance": {"date": "2026-04-02", "scale": "ECOG", "score": 1},
    "therapy": {"line": 2, "agents": ["docetaxel"], "classes": ["chemotherapy"], "start": "2026-05-04"},
    "event": {"date": "2026-09-01", "kind": "death", "detail": "disease progression"},
}


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON Schema with its ``$defs`` references resolved in place (OpenAPI keeps
    component schemas elsewhere)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(dict(defs[ref.split("/")[-1]]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


def entry_openapi(kind: str) -> dict[str, Any]:
    """The route's request body: the entry model's schema; a lab's also documents
    ``unusual_value_reason`` (:data:`oligotrial.service.followup.UNUSUAL_VALUE_REASON`), the
    reason that keeps a value far outside its plausible range (without it such a value is
    answered 422 on that field and nothing is stored; it goes to the audit trail, not the entry)."""
    _field, model = ENTRY_KINDS[kind]
    schema = _inline(model.model_json_schema())
    if kind == "lab":
        schema.setdefault("properties", {})[UNUSUAL_VALUE_REASON] = {
            "type": "string",
            "minLength": 3,
            "title": "Unusual value reason",
            "description": "Needed only when the value is far outside the plausible range for the test: why it is "
            "kept (recorded in the audit trail, not in the entry).",
        }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "example": EXAMPLES[kind]}},
        }
    }
