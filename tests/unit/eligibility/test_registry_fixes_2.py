"""Fixes from the review of the protocol files, second round (issue 17, item 1): each test quotes
the registry words it enforces (verified against shared/seeds/*.txt) and failed on the code before
its fix."""

from __future__ import annotations

import pytest

from core_builders import example, parsed
from oligotrial.domain.eligibility.screening import screen_patient
from oligotrial.domain.record.patient import parse_patient
from oligotrial.errors import RecordError
from oligotrial.protocols import load_protocol
from registry_words import HCC, LDRT, SEEDS, STOP2, quoted


def criterion(trial: str, cid: str, rec: dict):
    result = screen_patient(parsed(rec), load_protocol(trial))
    return next(c for c in result.criteria if c.id == cid)


# ---- 1. HCC EX-07: local treatment (TACE, ablation, resection, ...) within 3 months ----------------

EX07 = "Received any other antitumor drug therapy or local treatment within 3 months before enrollment;"


@pytest.mark.parametrize("kind,date,expected", [
    ("tace", "2025-10-01", "met"),            # 50 days before as_of 2025-11-20
    ("ablation", "2025-08-20", "met"),        # the same day 3 calendar months before: inside
    ("resection", "2025-08-19", "not_met"),   # the day before it: outside (issue 25 item 8)
])
def test_hcc_ex07_sees_local_therapies(kind, date, expected):
    quoted(HCC, EX07)
    ex = example("hcc_eligible")
    ex["local_therapies"] = [{"kind": kind, "date": date, "lesions": ["T1"]}]
    c = criterion("HCC-OPD", "HCC-EX-07", ex)
    assert c.verdict == expected, c.reason
    if expected == "met":
        assert kind in c.reason and date in c.reason


def test_hcc_ex07_local_therapies_absent_is_not_known_empty_is_none():
    quoted(HCC, EX07)
    ex = example("hcc_eligible")
    ex["local_therapies"] = []
    assert criterion("HCC-OPD", "HCC-EX-07", ex).verdict == "not_met"
    del ex["local_therapies"]
    c = criterion("HCC-OPD", "HCC-EX-07", ex)
    assert c.verdict == "unknown" and "local_therapies" in c.missing
    # the systemic part is kept: a drug line within 3 months still excludes, whatever local_therapies says
    ex["systemic_therapy"].append({"line": 2, "agents": ["regorafenib"], "classes": ["tki"], "start": "2025-10-15"})
    assert criterion("HCC-OPD", "HCC-EX-07", ex).verdict == "met"


def test_local_therapies_are_validated_like_other_lists():
    ex = example("hcc_eligible")
    ex["local_therapies"] = [{"kind": "tace", "date": "1950-01-01", "lesions": ["NOPE"]}]
    with pytest.raises(RecordError) as exc:
        parse_patient(ex)
    paths = {e["path"] for e in exc.value.errors}
    assert {"local_therapies[0].date", "local_therapies[0].lesions[0]"} <= paths
    ex["local_therapies"] = [{"kind": "cryo", "date": "2025-10-01"}]
    with pytest.raises(RecordError) as exc:
        parse_patient(ex)
    assert exc.value.errors[0]["path"] == "local_therapies[0].kind"


# ---- 3. HCC masking: the outcomes assessor is blinded ------------------------------------------

def test_hcc_outcome_assessor_is_blinded():
    from oligotrial.domain.trial.blinding import ROLES, is_blinded
    from oligotrial.service.access import PERMISSIONS

    quoted(HCC, "Masking: Single (Outcomes Assessor)")
    assert "outcome_assessor" in ROLES
    hcc = load_protocol("HCC-OPD")
    assert is_blinded(hcc.masking.blinded_roles, "outcome_assessor")
    assert not is_blinded(hcc.masking.blinded_roles, "treating_oncologist")
    # STOP-2 masks outcome assessors too: the new role must not see the arm there either
    quoted(STOP2, "Outcome Assessor")
    assert is_blinded(load_protocol("STOP-2").masking.blinded_roles, "outcome_assessor")
    # what the role may do: view and record imaging assessments, and see and answer the data
    # manager's queries about them (issue 20); never randomize, treat, raise or close a query, or unblind
    allowed = {action for action, roles in PERMISSIONS.items() if "outcome_assessor" in roles}
    assert allowed == {"view", "assessment", "query_view", "query_answer"}


# ---- 5. NCT05906329 (LDRT): the registry names no primary endpoint ----------------------------

def test_ldrt_orr_is_primary_only_as_the_projects_reading():
    quoted(LDRT, "Evaluate the incidence of ORR, PFS, DCR, HRQoL, AE, and sAE according to the guidelines for response "
                 "criteria for use in trials testing immunotherapeutics (iRECIST)")
    seed = (SEEDS / LDRT).read_text(encoding="utf-8").lower()
    assert "primary endpoint" not in seed and "primary outcome" not in seed
    ep = load_protocol("NCT05906329").endpoints
    assert [e.id for e in ep.primary] == ["orr"]
    assert ep.registry_names_primary is False and "names no primary endpoint" in ep.note
    # the other four trials name theirs
    for trial in ("STOP-2", "HCC-OPD", "OPPRESS", "NCT07014202"):
        assert load_protocol(trial).endpoints.registry_names_primary is True, trial


def test_registry_names_primary_false_needs_a_note():
    from oligotrial.domain.protocol.schema import Endpoints

    primary = [{"id": "orr", "name": "ORR", "kind": "proportion", "source_text": "x"}]
    with pytest.raises(ValueError):
        Endpoints.model_validate({"primary": primary, "registry_names_primary": False})
