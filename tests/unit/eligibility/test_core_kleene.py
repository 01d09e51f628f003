"""Strong Kleene combination with not_applicable as neutral; n-of-m; applies_if."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oligotrial.domain.eligibility.kleene import (
    MET,
    NA,
    NOT_MET,
    UNKNOWN,
    Outcome,
    all_of,
    any_of,
    applies_if,
    count_of,
    negate,
)

V = [MET, NOT_MET, UNKNOWN, NA]


def const(v):
    return lambda ctx: Outcome(v, v.value, (), ("x",) if v is UNKNOWN else ())


ORDER = {NOT_MET: 0, UNKNOWN: 1, MET: 2}


def kleene_and(vs):
    vs = [v for v in vs if v is not NA]
    return NA if not vs else min(vs, key=ORDER.get)


def kleene_or(vs):
    vs = [v for v in vs if v is not NA]
    return NA if not vs else max(vs, key=ORDER.get)


@pytest.mark.parametrize("a,b", list(itertools.product(V, V)))
def test_truth_tables(a, b):
    assert all_of([const(a), const(b)])(None).verdict is kleene_and([a, b])
    assert any_of([const(a), const(b)])(None).verdict is kleene_or([a, b])


@given(st.lists(st.sampled_from(V), min_size=1, max_size=6))
def test_de_morgan_holds_in_three_valued_logic(vs):
    left = negate(all_of([const(v) for v in vs]))(None).verdict
    right = any_of([negate(const(v)) for v in vs])(None).verdict
    assert left is right


def test_every_child_is_evaluated_no_short_circuit():
    calls = []

    def rec(v):
        def node(ctx):
            calls.append(v)
            return Outcome(v, "")
        return node

    all_of([rec(NOT_MET), rec(MET), rec(UNKNOWN)])(None)
    assert calls == [NOT_MET, MET, UNKNOWN]


def test_unknown_carries_what_is_missing():
    o = all_of([const(MET), const(UNKNOWN)])(None)
    assert o.verdict is UNKNOWN and o.missing == ("x",)


@pytest.mark.parametrize("vs,n,at_least,expected", [
    ([MET, MET, UNKNOWN], 2, True, MET),
    ([MET, UNKNOWN, NOT_MET], 2, True, UNKNOWN),
    ([MET, NOT_MET, NOT_MET], 2, True, NOT_MET),
    ([MET, UNKNOWN], 1, False, UNKNOWN),
    ([MET, NOT_MET], 1, False, MET),
    ([MET, MET], 1, False, NOT_MET),
])
def test_n_of_m_decides_only_when_unknowns_cannot_matter(vs, n, at_least, expected):
    assert count_of([const(v) for v in vs], n, at_least=at_least)(None).verdict is expected


@pytest.mark.parametrize("cond,then,expected", [
    (NOT_MET, NOT_MET, NA), (MET, NOT_MET, NOT_MET), (MET, MET, MET),
    (UNKNOWN, MET, MET), (UNKNOWN, NOT_MET, UNKNOWN),
])
def test_applies_if(cond, then, expected):
    assert applies_if(const(cond), const(then))(None).verdict is expected
