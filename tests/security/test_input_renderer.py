"""The error renderer and every response cannot fail on any value (issue 19 item 3): whatever a
request echoes or the database holds (lone surrogates, NaN and Infinity, values nested past the
stack, objects that are not JSON) is written as valid, strict JSON (RFC 8259). Before the fix a
lone surrogate in a response raised UnicodeEncodeError and NaN raised ValueError (each a 500),
after the write had been committed."""

from __future__ import annotations

import datetime as dt
import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from oligotrial.adapters.web.responses import render_json
from oligotrial.domain.kernel.bounds import first_problem, shown

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(codec=None, exclude_categories=())),  # includes lone surrogates (category Cs)
    st.integers(0xD800, 0xDFFF).map(chr), st.dates(),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)), max_leaves=30)


def _strict(raw: bytes):
    def refuse(token):
        raise AssertionError(f"{token} is not JSON")
    return json.loads(raw.decode("utf-8"), parse_constant=refuse)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(VALUES)
def test_any_value_renders_as_strict_utf8_json(value):
    _strict(render_json(value))
    _strict(render_json({"code": "request_invalid", "errors": [{"path": "x", "value": value}]}))


def test_the_cases_the_probe_found_render_and_name_the_value():
    out = _strict(render_json({"note": "a\ud800b", "x": float("nan"), "y": float("-inf"), "d": dt.date(2026, 1, 1)}))
    assert out == {"note": "a\ud800b", "x": "NaN", "y": "-Infinity", "d": "2026-01-01"}
    deep: object = 1
    for _ in range(5000):
        deep = [deep]
    _strict(render_json({"deep": deep}))  # cut at the renderer's depth, never a RecursionError
    assert render_json({"a": 1}) == b'{"a":1}'  # the fast path is plain compact JSON


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(VALUES)
def test_the_input_check_finds_every_unstorable_value_and_never_fails(value):
    found = first_problem(value)
    encodable = True
    try:
        json.dumps(value, allow_nan=False, default=str).encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        encodable = False
    if not encodable:
        assert found is not None
    if found is not None:
        _where, what, expected = found
        what.encode("ascii")  # the echo is printable ASCII
        assert expected


def test_shown_escapes_and_cuts():
    assert shown("a\ud800\x00") == "a\\ud800\\x00"
    assert shown(float("nan")) == "nan" and math.isnan(float(shown(float("nan"))))
    assert shown("x" * 500).endswith("...") and len(shown("x" * 500)) == 83
    assert shown([1, 2, 3]) == "list of 3 item(s)"
