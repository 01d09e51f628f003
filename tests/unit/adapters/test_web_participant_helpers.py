"""The participant page's helpers: forms built from the record's models (inputs, a posted form
as the entry's data and back, errors beside their input) and the spider plot's SVG."""

from __future__ import annotations

import itertools
import re

import pytest

from oligotrial.adapters.web.pages import charts, forms
from oligotrial.domain.record.entries import parse_entry


def test_every_model_field_has_an_input_and_literal_types_become_selects():
    for kind in forms.MODEL_KINDS:
        names = [f.name for f in forms.fields_of(kind)]
        assert set(forms.model_of(kind).model_fields) <= set(names), kind
    by = {f.name: f for f in forms.fields_of("event")}
    assert by["kind"].widget == "select" and "lost_to_follow_up" in by["kind"].options and by["kind"].required
    assert by["date"].widget == "date" and by["lesions"].widget == "list"
    lab = {f.name: f for f in forms.fields_of("lab")}
    assert "hemoglobin" in lab["test"].options and "g/dL" in lab["unit"].options and lab["value"].widget == "number"
    assert lab["unusual_value_reason"].widget == "text"  # the request's reason, beside the entry's fields
    assert {f.name: f.widget for f in forms.fields_of("qol")}["responses"] == "lines"


@pytest.mark.parametrize(("kind", "form"), [
    ("qol", {"date": "2026-06-01", "instrument": "EQ-5D-5L", "responses": "mobility = 2\nvas = 70"}),
    ("lab", {"date": "2026-06-01", "test": "alt", "value": "31", "unit": "U/L", "uln": "40"}),
    ("performance", {"date": "2026-06-01", "scale": "KPS", "score": "80"}),
    ("therapy", {"line": "2", "agents": "docetaxel, ramucirumab", "start": "2026-04-01", "cycles": "3"}),
    ("event", {"kind": "withdrawal", "date": "2026-05-01", "scope": "treatment", "lesions": "L1, L2"}),
])
def test_a_posted_form_is_the_entry_the_model_accepts_and_its_values_fill_the_form_again(kind, form):
    data = forms.model_data(kind, form)
    stored = parse_entry(kind, data)
    again = forms.values_of(kind, stored)
    assert forms.model_data(kind, again) == forms.model_data(kind, form)


def test_a_value_that_is_not_a_number_is_passed_as_typed_so_the_model_names_it():
    assert forms.model_data("performance", {"score": "two"})["score"] == "two"
    assert forms.model_data("qol", {"responses": "mobility = x"})["responses"] == {"mobility": "x"}


def test_errors_inside_a_field_are_shown_beside_its_input():
    errors = forms.fold_errors("qol", {"responses.q31": "an item of EORTC QLQ-C30", "date": "a date"})
    assert errors == {"responses": "responses.q31: an item of EORTC QLQ-C30", "date": "a date"}
    assert forms.fold_errors("adverse_event", {"x.y": "z"}) == {"x.y": "z"}


def test_every_problem_of_a_field_is_kept():
    errors = forms.joined_errors([{"path": "dose_gy", "expected": "a"}, {"path": "dose_gy", "expected": "b"},
                                  {"path": "fractions", "expected": "c"}], "refused", "dose_gy")
    assert errors == {"dose_gy": "a; b", "fractions": "c"}
    assert forms.joined_errors(None, "refused", None) == {"form": "refused"}


def test_the_radiotherapy_form_is_the_rest_routes_body():
    data = forms.radiotherapy({"start": "2026-03-10", "end": "2026-03-14", "dose_gy": "37.5", "fractions": "5",
                               "technique": "SABR", "lesion.L1": "on", "lesion.L9": "on",
                               "override_reason": "tumour board"}, ["L1", "L2"])
    assert data == {"start": "2026-03-10", "end": "2026-03-14", "technique": "SABR", "dose_gy": 37.5,
                    "fractions": 5, "lesions": ["L1"], "override": {"reason": "tumour board"}}


SPIDER = {"baseline": "2026-02-20", "note": None, "responses": {}, "series": [
    {"id": "L1", "points": [{"date": "2026-02-20", "size_mm": 40, "change_pct": 0.0},
                            {"date": "2026-05-01", "size_mm": 28, "change_pct": -30.0}]},
    {"id": "L2", "points": [{"date": "2026-02-20", "size_mm": 20, "change_pct": 0.0},
                            {"date": "2026-05-01", "size_mm": 14, "change_pct": -30.0}]},
    {"id": "sum", "points": [{"date": "2026-02-20", "size_mm": 60, "change_pct": 0.0},
                             {"date": "2026-05-01", "size_mm": 42, "change_pct": -30.0}]}]}


def test_the_spider_svg_has_a_title_a_line_per_series_and_labels_that_do_not_overlap():
    svg = charts.spider_svg(SPIDER, "Change & more")
    assert "<title>Change &amp; more</title>" in svg and 'role="img"' in svg
    assert re.findall(r'data-series="([^"]+)"', svg) == ["L1", "L2", "sum"]
    assert svg.count("<path") == 3 and svg.count("<circle") == 6
    ends = sorted(float(y) for y in re.findall(r'<text x="[^"]+" y="([^"]+)" dy="4">(?:L1|L2|sum)</text>', svg))
    assert len(ends) == 3 and all(b - a >= 11 for a, b in itertools.pairwise(ends))


def test_the_spider_svg_without_series_says_why():
    svg = charts.spider_svg({"series": [], "note": "no target lesion at baseline"}, "t")
    assert "No plot: no target lesion at baseline" in svg and "<path" not in svg


def test_an_audit_rows_changed_fields_are_those_whose_values_differ():
    from oligotrial.adapters.web.pages.base import changed_fields

    old = {"date": "2027-01-03", "grade": 1, "term": "Fatigue", "note": "x"}
    new = {"date": "2027-01-03", "grade": 2, "term": "Fatigue", "serious": False}
    assert changed_fields(old, new) == [("grade", 1, 2), ("serious", None, False), ("note", "x", None)]
    assert changed_fields(None, new) == [] and changed_fields(old, None) == [] and changed_fields(old, old) == []
