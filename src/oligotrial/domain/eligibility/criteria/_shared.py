"""Helpers shared by the criterion leaves: parameter checks, operators, protocol windows, and the
per-patient facts every leaf reads from the record (latest attestation per key, age on the
screening date, performance scores, latest lab per test, vital signs, a therapy line's RECIST
time points and the progression date they show), memoised per patient.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from oligotrial.domain.eligibility.kleene import (
    Context,
)
from oligotrial.domain.kernel import Period
from oligotrial.domain.record import scores
from oligotrial.domain.response.counting import DiseaseState, evaluate_disease_state
from oligotrial.domain.response.recist import assess
from oligotrial.errors import AssessmentError, ProtocolError

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
        # compile_rule turns a TypeError and a ValueError alike into the ProtocolError naming the rule
        raise TypeError(f"expected a mapping, got {params!r}")
    extra = set(params) - allowed
    if extra:
        raise ValueError(f"unknown parameter(s) {sorted(extra)}; expected {sorted(allowed)}")
    lacking = set(required) - set(params)
    if lacking:
        raise ValueError(f"missing parameter(s) {sorted(lacking)}")


def _window_period(w) -> Period | None:
    """A protocol window's period: its ``months`` or ``days``, else its upper bound
    (``max_months`` / ``max_days``); None when it has only a lower bound."""
    if getattr(w, "months", None) is not None:
        return Period(months=w.months)
    if w.days is not None:
        return Period(days=w.days)
    if getattr(w, "max_months", None) is not None:
        return Period(months=w.max_months)
    if w.max_days is not None:
        return Period(days=w.max_days)
    return None


def _period_resolver(params: dict):
    """A leaf's time window as a :class:`Period` from its parameters: a fixed ``days``, or a named
    protocol ``window`` (calendar months or days) resolved once per protocol; None when the leaf
    has no window. For a window counted forward from a date of the record (a line's start)."""
    if "days" in params:
        fixed = Period(days=int(params["days"]))
        return lambda ctx: fixed
    if "window" not in params:
        return lambda ctx: None
    name = params["window"]
    per_protocol: dict[int, tuple[Any, Period | None]] = {}

    def resolve(ctx: Context) -> Period | None:
        proto = ctx.protocol
        hit = per_protocol.get(id(proto))
        if hit is None or hit[0] is not proto:
            hit = per_protocol[id(proto)] = (proto, _window_period(proto.windows[name]))
        return hit[1]

    return resolve


def _window_resolver(params: dict):
    """A leaf's time window in days counted back from the screening date: a fixed ``days``, or a
    named protocol ``window`` (its ``days``, else its ``max_days``; a window in calendar months
    is the days from the same day of the month N months before the screening date, the month's
    last day where that day does not exist, to the screening date). None when the leaf has no
    window. The parameter lookups are done once, not on every evaluation."""
    if "days" in params:
        fixed = int(params["days"])
        return lambda ctx: fixed
    if "window" not in params:
        return lambda ctx: None
    name = params["window"]
    per_protocol: dict[int, tuple[Any, int | Period | None]] = {}

    def resolve(ctx: Context) -> int | None:
        proto = ctx.protocol
        hit = per_protocol.get(id(proto))
        if hit is None or hit[0] is not proto:
            p = _window_period(proto.windows[name])
            hit = per_protocol[id(proto)] = (proto, p.days if p is not None and p.days is not None else p)
        v = hit[1]
        return v if v is None or isinstance(v, int) else v.days_before(ctx.as_of)

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


# ---- what the record's imaging says about a therapy line (RECIST 1.1 time points) ---------------

_BENEFIT = {"CR", "PR", "SD", "NON-CR/NON-PD"}  # NON-CR/NON-PD: the SD of non-target-only disease
_RANK = {"CR": 0, "PR": 1, "SD": 2, "NON-CR/NON-PD": 2}


class _LineImaging:
    """The RECIST 1.1 time points of one line: assessed against the last scan on or before the
    line's start (its baseline), up to the screening date and the next line's start; NE time
    points are left out. ``why`` says why the scans cannot be used (then ``points`` is empty)."""

    __slots__ = ("baseline", "first_pd", "points", "why")

    def __init__(self, baseline=None, points=(), why: str | None = None) -> None:
        self.baseline = baseline
        self.points: tuple[tuple[dt.date, str], ...] = tuple(points)
        self.first_pd = next((d for d, r in self.points if r == "PD"), None)
        self.why = why

    def scans(self) -> str:
        return ", ".join(_fmt(d) for d in (self.baseline, *(d for d, _ in self.points)))

    def before_pd(self) -> list[tuple[dt.date, str]]:
        """Time points showing CR/PR/SD (or NON-CR/NON-PD) before the first PD."""
        return [(d, r) for d, r in self.points if r in _BENEFIT and (self.first_pd is None or d < self.first_pd)]


def _recist_against(patient, baseline):
    try:
        return assess(patient, baseline=baseline), None
    except AssessmentError as exc:
        return None, str(exc)


def _make_line_imaging(ctx: Context, t) -> _LineImaging:
    p, as_of = ctx.patient, ctx.as_of
    dates = sorted({a.date for a in p.assessments or () if a.date <= as_of})
    if not dates:
        return _LineImaging(why="no imaging recorded")
    before = [d for d in dates if d <= t.start]
    if not before:
        return _LineImaging(
            why=f"no scan on or before the start of line {t.line} ({_fmt(t.start)}) to serve as its RECIST baseline"
        )
    baseline = before[-1]
    res, err = ctx.patient_memo(("recist", baseline), _recist_against, p, baseline)
    if res is None:
        return _LineImaging(baseline, why=f"RECIST 1.1 cannot be assessed against the scan of {_fmt(baseline)}: {err}")
    nxt = min((u.start for u in p.systemic_therapy or () if u.start > t.start), default=None)
    points = [
        (tp.date, tp.overall)
        for tp in res.timepoints
        if tp.date <= as_of and (nxt is None or tp.date <= nxt) and tp.overall != "NE"
    ]
    if not points:
        return _LineImaging(
            baseline, why=f"no evaluable follow-up scan on line {t.line} after its baseline {_fmt(baseline)}"
        )
    return _LineImaging(baseline, points)


def _line_imaging(ctx: Context, t) -> _LineImaging:
    """The line's RECIST time points (per patient and line)."""
    return ctx.patient_memo(("line_imaging", t.line, t.start), _make_line_imaging, ctx, t)


def _progression_of(ctx: Context, t) -> tuple[dt.date | None, str]:
    """The line's progression date: recorded, else the first RECIST PD time point on the line
    (saying so), else None. Returns (date, how a reason describes it)."""
    if t.progression_date is not None:
        return t.progression_date, f"progression {_fmt(t.progression_date)}"
    im = _line_imaging(ctx, t)
    if im.first_pd is not None:
        return im.first_pd, f"progression date from imaging (first PD on {_fmt(im.first_pd)}), not recorded"
    return None, ""


def _imaging_best(im: _LineImaging) -> str | None:
    """The best time-point response on the line up to its first PD (unconfirmed), or None."""
    seen = im.before_pd()
    if seen:
        return min((r for _, r in seen), key=_RANK.__getitem__)
    return "PD" if im.first_pd is not None else None


def _imaging_srcs(t, im: _LineImaging) -> list[str]:
    return [f"systemic_therapy line {t.line}", f"assessments {im.scans()}"]
