"""Simon two-stage and exact single-stage designs against Simon (1989) Table 1 (tests/data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy import stats

from oligotrial.errors import DesignError
from oligotrial.stats.simon import simon_two_stage, single_stage_binomial

TABLE = json.loads((Path(__file__).resolve().parents[2] / "data" /
                    "simon_1989_table.json").read_text())
CASES = [(row, kind) for row in TABLE["rows"] for kind in ("optimal", "minimax")]


@pytest.mark.parametrize("row,kind", CASES,
                         ids=[f"{r['p0']}-{r['p1']}-b{r['beta']}-{k}" for r, k in CASES])
def test_simon_design_equals_published_table(row, kind):
    d = simon_two_stage(row["p0"], row["p1"], TABLE["alpha"], 1 - row["beta"], kind=kind)
    expected = row[kind]
    assert (d.r1, d.n1, d.r, d.n) == (expected["r1"], expected["n1"], expected["r"], expected["n"])
    assert round(d.en0, 1) == pytest.approx(expected["en0"])
    assert round(d.pet0, 2) == pytest.approx(expected["pet0"])
    assert d.alpha_actual <= TABLE["alpha"]
    assert d.power_actual >= 1 - row["beta"]


def test_operating_characteristics_recomputed_independently():
    d = simon_two_stage(0.1, 0.3, 0.05, 0.8)
    def reject(p):
        return sum(stats.binom.pmf(x, d.n1, p) * stats.binom.sf(d.r - x, d.n - d.n1, p)
                   for x in range(d.r1 + 1, d.n1 + 1))
    assert d.alpha_actual == pytest.approx(reject(0.1), abs=1e-12)
    assert d.power_actual == pytest.approx(reject(0.3), abs=1e-12)
    assert d.pet0 == pytest.approx(stats.binom.cdf(d.r1, d.n1, 0.1), abs=1e-12)


def test_single_stage_matches_reference_vector():
    # design-and-analysis.md section 2.2 vector 17: n=25, reject if X>=6, alpha 0.03340,
    # power 0.80651 (the smallest exact design; rpact's rounded normal answer is 29)
    d = single_stage_binomial(0.10, 0.30, 0.05, 0.8)
    assert (d.n, d.reject_at) == (25, 6)
    assert d.alpha_actual == pytest.approx(0.03340, abs=5e-6)
    assert d.power_actual == pytest.approx(0.80651, abs=5e-6)


@pytest.mark.parametrize("kwargs,field", [
    ({"p0": 0.3, "p1": 0.2}, "p1"),
    ({"p0": 0.1, "p1": 0.3, "alpha": 0.5, "power": 0.4}, "power"),
    ({"p0": 0.0, "p1": 0.3}, "p0"),
])
def test_invalid_single_arm_designs(kwargs, field):
    with pytest.raises(DesignError) as info:
        simon_two_stage(**kwargs)
    assert info.value.field == field
    assert field in info.value.message
