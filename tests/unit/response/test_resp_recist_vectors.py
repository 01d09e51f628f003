"""RECIST 1.1 lesion-level vectors (T3 of recist-and-oligo.md plus boundary cases), BOR (T1)
and iRECIST (T4), loaded from tests/data/recist_vectors.yaml."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oligotrial.domain.response import irecist, recist
from resp_helpers import as_date, irecist_patient, load_vectors, patient_from_vector

V = load_vectors()


@pytest.mark.parametrize("vec", V["recist_lesion"], ids=[v["id"] for v in V["recist_lesion"]])
def test_resp_recist_lesion_vector(vec):
    result = recist.assess(patient_from_vector(vec))
    assert len(result.timepoints) == len(vec["expect"])
    for tp, want in zip(result.timepoints, vec["expect"]):
        for key, value in want.items():
            got = getattr(tp, key)
            if key == "target_sum_mm":
                assert got == Decimal(str(value)), (tp.date, key)
            else:
                assert got == value, (tp.date, key, tp.reasons)


BOR_CASES = [(v, c) for v in V["bor"] for c in v["expect"]]


@pytest.mark.parametrize(("vec", "config"), BOR_CASES, ids=[f"{v['id']}-{c}" for v, c in BOR_CASES])
def test_resp_bor_vector(vec, config):
    cfg = dict(V["bor_configs"][config])
    opts = recist.RecistOptions(**cfg)
    visits = [(as_date(d), r) for d, r in vec["visits"]]
    got = recist.best_overall_response(visits, start=as_date(vec["start"]), confirm=config != "unconf",
                                       options=opts)
    want = vec["expect"][config]
    assert got.response == want[0]
    assert got.date == as_date(want[1])
    if len(want) > 2:
        assert got.confirmed is want[2]


@pytest.mark.parametrize("vec", V["irecist"], ids=[v["id"] for v in V["irecist"]])
def test_resp_irecist_vector(vec):
    opts = irecist.IrecistOptions(**(vec.get("options") or {}))
    result = irecist.assess(irecist_patient(vec), options=opts)
    assert [tp.overall for tp in result.timepoints] == vec["expect"], [tp.reasons for tp in result.timepoints]
    if "ignored" in vec:
        assert [tp.ignored_for_confirmation for tp in result.timepoints] == vec["ignored"]
    if "first_progression" in vec:
        assert result.first_progression == as_date(vec["first_progression"])
        assert irecist.ipfs_date(result.responses()) == as_date(vec["first_progression"])
    if "best" in vec:
        best = irecist.best_overall_response(result.responses(), start=as_date("2026-01-01"), options=opts)
        assert best.response == vec["best"]


@pytest.mark.parametrize("vec", V["ipfs"], ids=[v["id"] for v in V["ipfs"]])
def test_resp_ipfs_vector(vec):
    visits = [(as_date(d), r) for d, r in vec["visits"]]
    assert irecist.ipfs_date(visits) == as_date(vec["expect"])
