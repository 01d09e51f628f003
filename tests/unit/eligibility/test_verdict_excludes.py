"""verdict_excludes: the exclusion rule of a criterion known only by its stored verdict and kind
(the screening worklist reads stored screenings) is the rule excludes() applies to a result."""

from __future__ import annotations

import pytest

from oligotrial.domain.eligibility.screening import CriterionResult, excludes, verdict_excludes

VERDICTS = ["met", "not_met", "unknown", "not_applicable"]


@pytest.mark.parametrize("kind", ["inclusion", "exclusion"])
@pytest.mark.parametrize("verdict", VERDICTS)
def test_a_stored_verdict_excludes_as_the_result_does(kind, verdict):
    result = CriterionResult("C-1", kind, "text", verdict, "why")
    assert verdict_excludes(verdict, kind) is excludes(result)


def test_only_an_inclusion_not_met_or_an_exclusion_met_excludes():
    excluding = {(v, k) for v in VERDICTS for k in ("inclusion", "exclusion") if verdict_excludes(v, k)}
    assert excluding == {("not_met", "inclusion"), ("met", "exclusion")}
    assert verdict_excludes(None, None) is False  # a stored criterion without a verdict passes
