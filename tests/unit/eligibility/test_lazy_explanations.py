"""Issue 17 item 6: combinator outcomes derive inputs / missing / assumed from their children only
when read, and a screening sorts the excluding and undecided criteria as it evaluates them; both
give exactly what the eager computation gave (the reference below is the pre-change ``_merge``)."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources

from hypothesis import given
from hypothesis import strategies as st

from oligotrial.domain.eligibility import kleene
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
from oligotrial.domain.eligibility.screening import excludes, screen_against, trial_verdict
from oligotrial.domain.record.patient import parse_patient
from oligotrial.protocols import list_protocols

V = [MET, NOT_MET, UNKNOWN, NA]


def _uniq(parts):
    return tuple(dict.fromkeys(parts))


def eager_merge(outcomes, verdict, evaluated=None):
    """The eager combination every combinator used before (inputs, missing, assumed)."""
    if len(outcomes) == 1:
        o = outcomes[0]
        inputs, missing = o.inputs, (o.missing if verdict is UNKNOWN else ())
    else:
        inputs = _uniq(i for o in outcomes for i in o.inputs)
        missing = _uniq(m for o in outcomes for m in o.missing) if verdict is UNKNOWN else ()
    src = evaluated if evaluated is not None else outcomes
    assumed = _uniq(a for o in src for a in o.assumed) if any(o.assumed for o in src) else ()
    return inputs, missing, assumed


def eager_all(outs):
    bad = [o for o in outs if o.verdict is NOT_MET]
    unk = [o for o in outs if o.verdict is UNKNOWN]
    ok = [o for o in outs if o.verdict is MET]
    if bad:
        return NOT_MET, eager_merge(bad, NOT_MET, outs)
    if unk:
        return UNKNOWN, eager_merge(outs, UNKNOWN)
    if not ok:
        return NA, eager_merge(outs, NA)
    return MET, eager_merge(outs, MET)


def eager_any(outs):
    ok = [o for o in outs if o.verdict is MET]
    unk = [o for o in outs if o.verdict is UNKNOWN]
    bad = [o for o in outs if o.verdict is NOT_MET]
    if ok:
        return MET, eager_merge(ok, MET, outs)
    if unk:
        return UNKNOWN, eager_merge(outs, UNKNOWN)
    if not bad:
        return NA, eager_merge(outs, NA)
    return NOT_MET, eager_merge(bad, NOT_MET, outs)


child = st.tuples(st.sampled_from(V), st.lists(st.sampled_from("abc"), max_size=2),
                  st.lists(st.sampled_from("mn"), max_size=2), st.lists(st.sampled_from("xy"), max_size=2))


def leaf_of(spec, i):
    v, ins, mis, ass = spec
    return Outcome(v, f"r{i}", tuple(ins), tuple(mis) if v is UNKNOWN else (), tuple(ass))


def parts(o):
    return o.inputs, o.missing, o.assumed


@given(st.lists(child, min_size=1, max_size=5))
def test_lazy_combinations_equal_the_eager_ones(specs):
    outs = [leaf_of(s, i) for i, s in enumerate(specs)]
    nodes = [(lambda ctx, o=o: o) for o in outs]
    for combinator, eager in ((all_of, eager_all), (any_of, eager_any)):
        got = combinator(nodes)(None)
        verdict, expected = eager(outs)
        assert got.verdict is verdict and parts(got) == expected
    got = count_of(nodes, 2, at_least=True)(None)
    assert parts(got) == eager_merge(outs, got.verdict)
    n = negate(all_of(nodes))(None)
    a = all_of(nodes)(None)
    assert parts(n) == parts(a) and n.reason == a.reason


@given(child, child)
def test_applies_if_lazy_equals_eager(c_spec, t_spec):
    c, t = leaf_of(c_spec, 0), leaf_of(t_spec, 1)
    got = applies_if(lambda ctx: c, lambda ctx: t)(None)
    if c.verdict is NOT_MET:
        assert (got.verdict, parts(got)) == (NA, (c.inputs, (), ()))
        assert got.reason == "does not apply: r0"
    elif c.verdict in (MET, NA):
        assert got is t
    else:
        assert parts(got) == eager_merge([c, t], got.verdict)


def test_children_explanations_are_not_read_until_asked():
    reads = []

    class Spy(Outcome):
        __slots__ = ()

        @property
        def inputs(self):  # type: ignore[override]
            reads.append("inputs")
            return ("x",)

    spy = Spy.__new__(Spy)
    spy.verdict, spy._reason, spy.missing, spy.assumed = MET, "spy", (), ()
    o = all_of([lambda ctx: spy, lambda ctx: Outcome(MET, "b", ("y",))])(None)
    assert o.verdict is MET and reads == []
    assert o.inputs == ("x", "y") and reads == ["inputs"]
    assert o.inputs == ("x", "y") and reads == ["inputs"]  # derived once
    assert isinstance(o, kleene._Derived)


def test_screening_sorts_failing_and_undecided_as_the_criteria_say():
    protocols = list_protocols()
    seen = set()
    files = [p for p in resources.files("oligotrial.examples").iterdir() if p.name.endswith(".json")]
    for f in files:
        patient = parse_patient(json.loads(f.read_text()), today=dt.date(2026, 11, 1))
        for s in screen_against(patient, protocols):
            assert s.failing == [c for c in s.criteria if excludes(c)]
            assert s.undecided == [c for c in s.criteria if c.verdict == "unknown"]
            assert s.verdict == trial_verdict(list(s.criteria))
            seen.add(s.verdict)
    assert seen == {"eligible", "ineligible", "needs_review"}
