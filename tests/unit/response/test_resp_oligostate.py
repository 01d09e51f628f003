"""ESTRO-EORTC classification (T6 vectors and the remaining states, unknowns)."""

from __future__ import annotations

import datetime as dt

import pytest

from oligotrial.domain.record.patient import parse_patient
from oligotrial.domain.response import oligostate as os_
from oligotrial.service.assessment import classify_patient
from resp_helpers import load_vectors

V = load_vectors()
PRIMARY = dt.date(2024, 1, 15)


def _inputs(row):
    months = row["months"]
    return os_.OligoInputs(row["prior_poly"], row["prior_omd"], PRIMARY,
                           os_.add_months(PRIMARY, months) if months is not None else dt.date(2025, 6, 1),
                           row["on_therapy"], row["progressing"])


@pytest.mark.parametrize("row", V["oligostate"], ids=[r["id"] for r in V["oligostate"]])
def test_resp_oligostate_vector(row):
    assert os_.classify(_inputs(row)).state == row["expect"]


@pytest.mark.parametrize(("poly", "omd", "months", "therapy", "prog", "state"), [
    (False, False, 24, True, None, "metachronous_oligoprogression"),
    (False, True, None, True, True, "repeat_oligoprogression"),
    (False, True, None, True, False, "repeat_oligopersistence"),
    (True, None, None, True, False, "induced_oligopersistence"),
    (False, False, 6, None, None, "synchronous_oligometastatic_disease"),   # exactly 6 months: synchronous
])
def test_resp_oligostate_other_states(poly, omd, months, therapy, prog, state):
    row = {"prior_poly": poly, "prior_omd": omd, "months": months, "on_therapy": therapy, "progressing": prog}
    assert os_.classify(_inputs(row)).state == state


def test_resp_oligostate_nine_states():
    assert len(os_.STATES) == 9


@pytest.mark.parametrize(("inp", "missing"), [
    (os_.OligoInputs(None, None, None, None, None, None), "cancer.prior_polymetastatic"),
    (os_.OligoInputs(False, None, None, None, None, None), "cancer.prior_oligometastatic"),
    (os_.OligoInputs(False, False, PRIMARY, None, None, None), "cancer.metastatic_on"),
    (os_.OligoInputs(True, None, None, None, True, None), "progression status of the lesions (assessments)"),
])
def test_resp_oligostate_unknown_names_the_missing_input(inp, missing):
    got = os_.classify(inp)
    assert got.state == "unknown" and missing in got.missing


def test_resp_classify_from_record():
    rec = {"id": "C", "as_of": "2026-06-01",
           "cancer": {"diagnosis": "NSCLC", "diagnosed_on": "2023-01-10", "metastatic_on": "2026-03-01",
                      "prior_polymetastatic": True},
           "systemic_therapy": [{"line": 1, "agents": ["pembrolizumab"], "start": "2023-02-01"}],
           "lesions": [{"id": "L1", "kind": "metastasis", "organ": "lung"}],
           "assessments": [{"date": "2026-01-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 20}]},
                           {"date": "2026-03-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 30}]}]}
    doc = classify_patient(parse_patient(rec))
    assert doc["state"] == "induced_oligoprogression"
    assert doc["inputs_used"]["on_systemic_therapy"] is True and doc["inputs_used"]["progressing"] is True
