"""OAR constraints as data, and DVH metrics checked against them."""

from __future__ import annotations

import numpy as np
import pytest

from oligotrial.adapters.io.rt_data import load_oar_constraints
from oligotrial.domain.radiotherapy.dvh import DVH, parse_metric
from oligotrial.domain.radiotherapy.oar import Constraint, check_constraint, check_plan_oars
from oligotrial.errors import DoseError


def uniform_dvh(name: str, lo_gy: float, hi_gy: float, volume_cc: float, n: int = 20001) -> DVH:
    """A structure whose dose is uniformly distributed in [lo, hi]: V(>=d) = V (hi-d)/(hi-lo)."""
    doses = np.linspace(lo_gy, hi_gy, n)
    return DVH(name, doses, np.full(n, volume_cc / n), boundary_max_gy=hi_gy, boundary_min_gy=lo_gy)


def test_rt_constraint_data_every_row_has_source_and_verification_flag():
    cs = load_oar_constraints()
    assert cs.version
    assert len(cs.constraints) > 150
    for c in cs.constraints:
        assert c.source and isinstance(c.verified, bool) and c.verification, c.id
        parse_metric(c.metric)
    assert {1, 3, 5, 8} <= set(cs.fraction_numbers())
    assert {"tg101", "hytec_cord", "rtog_sbrt", "nor_sbrt_8fx"} == {c.set_id for c in cs.constraints}
    ids = [c.id for c in cs.constraints]
    assert len(ids) == len(set(ids)), "duplicate constraint rows"


@pytest.mark.parametrize("set_id, organ, fractions, metric, mandatory", [
    ("tg101", "spinal_cord", 1, "D0.35cc", 10), ("tg101", "spinal_cord", 1, "Dmax", 14),
    ("tg101", "spinal_cord", 3, "D0.35cc", 18), ("tg101", "spinal_cord", 5, "Dmax", 30),
    ("tg101", "esophagus", 5, "D5cc", 19.5), ("tg101", "heart", 3, "D15cc", 24),
    ("tg101", "lungs", 5, "CV12.5Gy", 1500),
    ("hytec_cord", "spinal_cord", 5, "Dmax", 25.3), ("rtog_sbrt", "brachial_plexus", 4, "Dmax", 27.2),
    ("nor_sbrt_8fx", "spinal_cord", 8, "D0.035cc", 32.0), ("nor_sbrt_8fx", "great_vessels", 8, "D0.1cc", 65),
])
def test_rt_constraint_values_transcribed_from_reference(set_id, organ, fractions, metric, mandatory):
    cs = load_oar_constraints()
    [c] = [c for c in cs.constraints if (c.set_id, c.organ, c.fractions, c.metric) ==
           (set_id, organ, fractions, metric)]
    assert c.mandatory == mandatory


def test_rt_structure_names_map_to_organs():
    cs = load_oar_constraints()
    assert cs.organ_for("SpinalCord") == "spinal_cord"
    assert cs.organ_for("BrachialPlex_L") == "brachial_plexus"
    assert cs.organ_for("Bowel_Small") == "bowel_small"
    assert cs.organ_for("Femur_Head_R") == "femoral_head"
    assert cs.organ_for("PTV_35") is None


def _c(metric, mandatory=None, optimal=None, unit="Gy"):
    return Constraint("test", "heart", 5, metric, unit, mandatory, optimal, False, "test source")


def test_rt_pass_optimal_fail_mandatory_fail():
    dvh = uniform_dvh("Heart", 0, 40, 400)  # D0.1cc = 40 - 40*0.1/400 = 39.99
    r = check_constraint("Heart", dvh, _c("D0.1cc", mandatory=46, optimal=40))
    assert r.status == "pass" and r.measured == pytest.approx(39.99, abs=1e-3)
    r = check_constraint("Heart", dvh, _c("D0.1cc", mandatory=46, optimal=30))
    assert r.status == "optimal_fail" and r.limit == 30
    r = check_constraint("Heart", dvh, _c("D0.1cc", mandatory=38, optimal=30))
    assert r.status == "mandatory_fail" and r.limit == 38
    assert "38" in r.message and "39.99" in r.message


def test_rt_volume_and_critical_volume_metrics():
    dvh = uniform_dvh("Lungs", 0, 40, 3000)
    # V20Gy = 50 % ; CV12.5Gy (volume below 12.5 Gy) = 3000 * 12.5/40 = 937.5 cc
    r = check_constraint("Lungs", dvh, _c("V20Gy", mandatory=15, optimal=10, unit="%"))
    assert r.measured == pytest.approx(50.0, abs=0.01) and r.status == "mandatory_fail"
    r = check_constraint("Lungs", dvh, _c("CV12.5Gy", mandatory=1500, unit="cc"))
    assert r.measured == pytest.approx(937.5, abs=0.5) and r.status == "mandatory_fail"
    r = check_constraint("Lungs", dvh, _c("CV12.5Gy", mandatory=900, unit="cc"))
    assert r.status == "pass"
    r = check_constraint("Lungs", dvh, _c("Dmean", mandatory=8))
    assert r.measured == pytest.approx(20.0, abs=1e-6) and r.status == "mandatory_fail"


def test_rt_not_evaluable_cases():
    small = uniform_dvh("Esophagus", 0, 10, 3.0)
    r = check_constraint("Esophagus", small, _c("D5cc", mandatory=19.5))
    assert r.status == "not_evaluable" and "smaller than 5 cc" in r.message
    r = check_constraint("Esophagus", small, _c("Dmax", mandatory=105, unit="%Rx"))
    assert r.status == "not_evaluable" and "prescription" in r.message
    r = check_constraint("Esophagus", small, _c("Dmax", mandatory=105, unit="%Rx"), prescription_gy=50)
    assert r.status == "pass" and r.limit == pytest.approx(52.5)


def test_rt_plan_check_uses_the_plan_fraction_number():
    cs = load_oar_constraints()
    dvhs = {"SpinalCord": uniform_dvh("SpinalCord", 0, 22, 20.0), "PTV": uniform_dvh("PTV", 30, 40, 30)}
    report = check_plan_oars(dvhs, 3, cs)
    assert report.unmatched_structures == ["PTV"]
    by = {(r.constraint.set_id, r.constraint.metric): r for r in report.results}
    assert by[("tg101", "Dmax")].status == "mandatory_fail"  # 22 > 21.9
    assert by[("tg101", "D0.35cc")].status == "mandatory_fail"  # 22 - 22*0.35/20 = 21.615 > 18
    assert by[("hytec_cord", "Dmax")].status == "mandatory_fail"  # 22 > 20.3
    assert all(r.constraint.fractions == 3 for r in report.results)
    assert report.worst == "mandatory_fail"
    none = check_plan_oars(dvhs, 10, cs)
    assert none.results == [] and "no OAR constraints for 10 fractions" in none.message


def test_rt_bad_metric_is_a_dose_error():
    with pytest.raises(DoseError, match="expected Dmax"):
        parse_metric("D-cc")


def test_rt_hytec_rows_match_the_primary_abstract():
    """The five HyTEC cord rows are marked verified: each equals the value the paper's abstract
    states (tests/data/hytec_spinal_cord_abstract.md, read from its quoted sentence), and no row
    of another set is marked verified without such a record."""
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "data" / "hytec_spinal_cord_abstract.md").read_text(encoding="utf-8")
    quote = " ".join(line[2:] for line in text.splitlines() if line.startswith("> "))
    stated = {int(n): (float(lo), float(hi or lo))
              for lo, hi, n in re.findall(r"(\d+\.\d)(?: to\s+(\d+\.\d))? Gy in (\d) fractions?", quote)}
    assert stated == {1: (12.4, 14.0), 2: (17.0, 17.0), 3: (20.3, 20.3), 4: (23.0, 23.0), 5: (25.3, 25.3)}
    constraints = load_oar_constraints().constraints
    rows = {c.fractions: c for c in constraints if c.set_id == "hytec_cord"}
    assert set(rows) == set(stated)
    for fx, (lo, hi) in stated.items():
        c = rows[fx]
        assert c.verified and c.organ == "spinal_cord" and c.metric == "Dmax"
        assert (c.optimal, c.mandatory) == ((lo, hi) if lo != hi else (None, hi))
    assert not [c.id for c in constraints if c.verified and c.set_id != "hytec_cord"]
