"""Invariants of the RECIST 1.1 engine, property-based (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oligotrial.domain.record.patient import parse_patient
from oligotrial.domain.response import recist
from resp_strategies import follow_up, target_sets


def _patient(targets, sizes_by_tp, new_at=None):
    lesions = [{"id": t, "kind": "lymph_node" if o == "lymph_node" else "metastasis", "organ": o}
               for t, o, _ in targets]

    def f(tid, organ, size, base=False):
        key = "short_axis_mm" if organ == "lymph_node" else "diameter_mm"
        out = {"lesion": tid, key: size}
        if base:
            out["target"] = True
        return out

    assessments = [{"date": "2026-01-01", "modality": "CT",
                    "findings": [f(t, o, s, base=True) for t, o, s in targets]}]
    for i, sizes in enumerate(sizes_by_tp):
        findings = [f(t, o, sizes[t]) for t, o, _ in targets]
        if new_at == i:
            findings.append({"lesion": "NEW1", "new": True, "organ": "liver", "diameter_mm": 12})
        assessments.append({"date": f"2026-{i + 3:02d}-01", "modality": "CT", "findings": findings})
    return parse_patient({"id": "H", "as_of": "2027-01-01", "lesions": lesions, "assessments": assessments})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_resp_never_cr_with_nonnodal_target_or_new_lesion(data):
    targets = data.draw(target_sets())
    tps = [data.draw(follow_up(targets)) for _ in range(data.draw(st.integers(1, 3)))]
    new_at = data.draw(st.one_of(st.none(), st.integers(0, len(tps) - 1)))
    result = recist.assess(_patient(targets, tps, new_at))
    organs = {t: o for t, o, _ in targets}
    for tp, sizes in zip(result.timepoints, tps):
        if tp.overall == "CR":
            assert not tp.new_lesions
            assert all(sizes[t] == 0 for t in sizes if organs[t] != "lymph_node")
            assert all(sizes[t] < 10 for t in sizes if organs[t] == "lymph_node")
        if new_at is not None and tp.date >= result.timepoints[new_at].date:
            assert tp.overall == "PD"


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_resp_pd_monotone_in_added_growth(data):
    """If a time point is PD, adding growth to any target keeps it PD (R11 s.4.3.1)."""
    targets = data.draw(target_sets())
    sizes = data.draw(follow_up(targets))
    extra = data.draw(st.decimals(min_value=0, max_value=50, places=1).map(float))
    who = data.draw(st.sampled_from([t for t, _, _ in targets]))
    grown = dict(sizes)
    grown[who] = round(grown[who] + extra, 1)
    a = recist.assess(_patient(targets, [sizes])).timepoints[0]
    b = recist.assess(_patient(targets, [grown])).timepoints[0]
    if a.target == "PD":
        assert b.target == "PD"
        assert b.overall == "PD"


@settings(max_examples=80, deadline=None)
@given(base=st.decimals(min_value=10, max_value=200, places=1))
def test_resp_exact_20pct_and_5mm_boundary_is_pd(base):
    """At exactly +20 % with >= 5 mm (or +5 mm with >= 20 %), the target is PD whatever the
    binary representation of the numbers."""
    from decimal import Decimal

    base = Decimal(base)
    up = max(base * Decimal("1.2"), base + 5)
    assert recist.is_pd(up, base)
    assert not recist.is_pd(up - Decimal("0.01"), base)
