"""Screening one patient against several trials shares work without changing any result.

Reasons are formatted when read (once), per-patient facts (latest lab, latest attestation,
per-lesion rule results) are derived once and reused by every trial that asks the same
question. These tests pin that the shared path gives exactly what screening each trial on its
own gives, and that the sharing and laziness really happen.
"""

from __future__ import annotations

import json
from importlib import resources

import pytest

from core_builders import example, lesion_record, parsed
from oligotrial.domain.eligibility.kleene import MET, Outcome, all_of, met
from oligotrial.domain.eligibility.screening import screen_against, screen_patient, screening_document
from oligotrial.domain.response import counting as disease_counting
from oligotrial.domain.response import progression
from oligotrial.protocols import list_protocols

EXAMPLES = sorted(p.name[:-5] for p in resources.files("oligotrial.examples").iterdir() if p.name.endswith(".json"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_screening_all_trials_together_equals_screening_each_alone(name):
    patient = parsed(example(name))
    protocols = list_protocols()
    together = screening_document(patient, screen_against(patient, protocols))
    alone = screening_document(patient, [screen_patient(patient, p) for p in protocols])
    assert json.dumps(together, sort_keys=True) == json.dumps(alone, sort_keys=True)


def test_a_reason_given_as_a_callable_is_built_only_when_read_and_only_once():
    calls = []

    def why():
        calls.append(1)
        return "age 66 on 2026-03-02 (required >= 18)"

    o = met(why, ["birth_date 1960-03-02"])
    assert o.verdict is MET and calls == []
    assert o.reason == "age 66 on 2026-03-02 (required >= 18)"
    assert o.reason == "age 66 on 2026-03-02 (required >= 18)"
    assert calls == [1]


def test_combined_reasons_are_joined_when_read():
    calls = []

    def child(text):
        def why():
            calls.append(text)
            return text
        return lambda ctx: Outcome(MET, why, (text,))

    node = all_of([child("a"), child("b")])
    out = node(None)
    assert out.verdict is MET and calls == []
    assert out.reason == "a; b" and out.inputs == ("a", "b")


def _two_trial_specs():
    by_id = {p.id: p for p in list_protocols()}
    return by_id["NCT06523673"].disease_state, by_id["NCT06918951"].disease_state  # both use RECIST growth


def test_a_rule_two_trials_share_is_evaluated_once_per_lesion(monkeypatch):
    oppress, stop2 = _two_trial_specs()
    rec = lesion_record([("2025-10-01", [{"lesion": "L1", "diameter_mm": 20.0}]),
                         ("2026-02-20", [{"lesion": "L1", "diameter_mm": 26.0}])],
                        [{"id": "L1", "organ": "lung", "kind": "metastasis"}],
                        lines=[{"line": 1, "start": "2025-10-01", "agents": ["pembrolizumab"],
                                "classes": ["immunotherapy"]}])
    patient = parsed(rec)
    calls = []
    real = progression._RULES["size_increase"]

    def counting(ctx, rule):
        calls.append(ctx.lid)
        return real(ctx, rule)

    monkeypatch.setitem(progression._RULES, "size_increase", counting)
    shared: dict = {}
    a = disease_counting.evaluate_disease_state(patient, oppress, shared)
    b = disease_counting.evaluate_disease_state(patient, stop2, shared)
    assert calls == ["L1"]  # same parameters (+20 %, +5 mm, nadir, >=): evaluated once
    assert a.counted == b.counted == ("L1",)
    assert a.lesions[0].reason == b.lesions[0].reason == "26 mm vs nadir 20 mm on 2025-10-01 (+30.0%, +6 mm)"
    # without the shared cache each trial evaluates it itself
    disease_counting.evaluate_disease_state(patient, oppress)
    disease_counting.evaluate_disease_state(patient, stop2)
    assert calls == ["L1", "L1", "L1"]


def test_rules_that_differ_only_in_name_share_a_result_and_rules_that_differ_in_a_threshold_do_not():
    base = {"type": "size_increase", "reference": "nadir", "pct": 20, "pct_op": ">=", "abs_mm": 5, "abs_op": ">="}
    renamed = dict(base, name="another trial's wording", source_text="other text")
    stricter = dict(base, pct_op=">")
    assert progression._rule_key(base) == progression._rule_key(renamed)
    assert progression._rule_key(base) != progression._rule_key(stricter)


def test_latest_attestation_wins_and_is_shared_by_every_trial():
    rec = example("stop2_eligible")
    key = rec["attestations"][0]["key"]
    first = dict(rec["attestations"][0])
    later = dict(first, value=not first["value"], date="2026-02-28")
    rec["attestations"] = [later, first] + rec["attestations"][1:]
    patient = parsed(rec)
    by_id = {p.id: p for p in list_protocols()}
    res = screen_against(patient, [by_id["NCT06918951"]])[0]
    hits = [c for c in res.criteria if any(i.startswith(f"attestation {key} ") for i in c.inputs)]
    assert hits, "the edited attestation is read by some STOP-2 criterion"
    assert all("2026-02-28" in " ".join(c.inputs) for c in hits)
