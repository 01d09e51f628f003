"""Helpers shared by the criterion leaves: parameter checks, operators, protocol windows, and the
per-patient facts every leaf reads from the record (latest attestation per key, age on the
screening date, performance scores, latest lab per test, vital signs), memoised per patient.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from oligotrial.domain.eligibility.kleene import (
    Context,
)
from oligotrial.domain.record import scores
from oligotrial.domain.response.counting import DiseaseState, evaluate_disease_state
from oligotrial.errors import ProtocolError

_OPS = {
    ">=": lambda a, b: a >= b - 1e-9,
    ">": lambda a, b: a > b + 1e-9,
    "<=": lambda a, b: a <= b + 1e-9,
    "<": lambda a, b: a < b - 1e-9,
}



def _op(name: str):
    if name not in _OPS:
        raise ProtocolError(f"operator {name!r}: expected one of >=, >, <=, <")
    return _OPS[name]



def _check_keys(params: dict, allowed: set[str], required: set[str] | frozenset[str] = frozenset()) -> None:
    if not isinstance(params, dict):
        raise ValueError(f"expected a mapping, got {params!r}")
    extra = set(params) - allowed
    if extra:
        raise ValueError(f"unknown parameter(s) {sorted(extra)}; expected {sorted(allowed)}")
    lacking = set(required) - set(params)
    if lacking:
        raise ValueError(f"missing parameter(s) {sorted(lacking)}")



def _window_resolver(params: dict):
    """A leaf's time window in days from its parameters: a fixed ``days``, or a named protocol
    ``window`` (its ``days``, else its ``max_days``) resolved once per protocol; None when the
    leaf has no window. The parameter lookups are done once, not on every evaluation."""
    if "days" in params:
        fixed = int(params["days"])
        return lambda ctx: fixed
    if "window" not in params:
        return lambda ctx: None
    name = params["window"]
    per_protocol: dict[int, tuple[Any, int | None]] = {}

    def resolve(ctx: Context) -> int | None:
        proto = ctx.protocol
        hit = per_protocol.get(id(proto))
        if hit is None or hit[0] is not proto:
            w = proto.windows[name]
            hit = per_protocol[id(proto)] = (proto, w.days if w.days is not None else w.max_days)
        return hit[1]

    return resolve



def _fmt(d: dt.date) -> str:
    return d.isoformat()



def _disease_state(ctx: Context) -> DiseaseState:
    return ctx.memo("disease_state", evaluate_disease_state, ctx.patient, ctx.protocol.disease_state, ctx.shared)



def _latest_attestations(patient) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in patient.attestations or ():
        prev = out.get(a.key)
        if prev is None or a.date > prev.date:
            out[a.key] = a
    return out



def _attestations(ctx: Context) -> dict[str, Any]:
    """The latest attestation per key (per patient)."""
    return ctx.patient_memo("attestations", _latest_attestations, ctx.patient)



def _attestation_text(ctx: Context, a) -> str:
    return ctx.patient_memo(("attestation_text", id(a)), lambda: f"attestation {a.key} by {a.by} on {_fmt(a.date)}")



def _age_and_source(p, as_of: dt.date) -> tuple[int | None, str]:
    if p.birth_date is not None:
        return scores.age_on(p.birth_date, as_of), f"birth_date {_fmt(p.birth_date)}"
    if p.age_years is not None:
        return p.age_years, "age_years"
    return None, ""



def _age(ctx: Context) -> tuple[int | None, str]:
    """Age on the screening date and where it comes from (per patient)."""
    return ctx.patient_memo("age", _age_and_source, ctx.patient, ctx.as_of)



def _scores_until(p, as_of: dt.date) -> list:
    return sorted((r for r in p.performance or () if r.date <= as_of), key=lambda r: r.date)



def _labs_until(p, as_of: dt.date) -> dict[str, Any]:
    latest: dict[str, Any] = {}
    for lab in p.labs or ():
        d = lab.date
        if d <= as_of:
            prev = latest.get(lab.test)
            if prev is None or d >= prev.date:
                latest[lab.test] = lab
    return latest



def _latest_labs(ctx: Context) -> dict[str, Any]:
    """Per patient: the latest result of each test on or before the screening date (of results
    on the same date, the last one recorded), found in one pass over the labs."""
    return ctx.patient_memo("labs:latest", _labs_until, ctx.patient, ctx.as_of)



def _latest_lab(ctx: Context, test: str, days: int | None):
    """The latest ``test`` result on or before the screening date (within ``days`` if given).

    The latest result on or before the date decides: if it is outside the window, every
    earlier one is too."""
    lab = _latest_labs(ctx).get(test)
    if lab is None or days is None or (ctx.as_of - lab.date).days <= days:
        return lab
    return None



def _vitals_until(p, as_of: dt.date, attr: str):
    vs = sorted((v for v in p.vitals or () if v.date <= as_of and getattr(v, attr) is not None), key=lambda v: v.date)
    return vs[-1] if vs else None



def _latest_vitals(ctx: Context, attr: str):
    """The latest vitals record with ``attr`` on or before the screening date (per patient)."""
    return ctx.patient_memo(("vitals", attr), _vitals_until, ctx.patient, ctx.as_of, attr)

