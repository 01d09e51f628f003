"""The leaves of eligibility rules: each reads the patient record and returns an Outcome.

Every leaf returns ``unknown`` with what would decide it when the record is silent (an absent
field means "not known"); an empty list states there are none. Time windows are relative to the
screening date (the record's ``as_of``) and name either ``days`` or a protocol ``window``.
Thresholds carry their registry's own operator (``>=``, ``>``, ``<=``, ``<``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from oligotrial.domain.record import scores
from oligotrial.domain.eligibility.kleene import (
    MET,
    NOT_MET,
    UNKNOWN,
    Context,
    Node,
    Outcome,
    leaf,
    met,
    not_applicable,
    not_met,
    unknown,
)
from oligotrial.domain.response.progression import DiseaseState, evaluate_disease_state, reference_line
from oligotrial.domain.kernel.reasons import Reason, reason_text
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


# ---- attestations --------------------------------------------------------------------------

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


@leaf("attested")
def _attested(arg: Any) -> Node:
    key = arg if isinstance(arg, str) else arg["key"]
    # per protocol: (protocol, spec, the outcome without an attestation, the assumed outcome);
    # outcomes are immutable, so the two constant ones are built once and shared
    per_protocol: dict[int, tuple[Any, Any, Outcome, Outcome]] = {}
    missing = (f"attestation {key}",)

    def node(ctx: Context) -> Outcome:
        proto = ctx.protocol
        hit = per_protocol.get(id(proto))
        if hit is None or hit[0] is not proto:
            spec = proto.attestation_key(key)
            hit = per_protocol[id(proto)] = (
                proto, spec,
                Outcome(UNKNOWN, f"needs {spec.by}'s attestation: {spec.question}", (), missing),
                Outcome(MET if spec.favourable else NOT_MET,
                        f"assumed attested ({key} = {str(spec.favourable).lower()})", (), (), (key,)))
        if ctx.assume_attested:
            return hit[3]
        a = _attestations(ctx).get(key)
        if a is None:
            return hit[2]
        src = _attestation_text(ctx, a)
        return Outcome(MET if a.value else NOT_MET,
                       lambda: f"{key} = {str(a.value).lower()} ({a.by}, {_fmt(a.date)})", (src,))

    return node


# ---- demographics and diagnosis ------------------------------------------------------------

def _age_and_source(p, as_of: dt.date) -> tuple[int | None, str]:
    if p.birth_date is not None:
        return scores.age_on(p.birth_date, as_of), f"birth_date {_fmt(p.birth_date)}"
    if p.age_years is not None:
        return p.age_years, "age_years"
    return None, ""


def _age(ctx: Context) -> tuple[int | None, str]:
    """Age on the screening date and where it comes from (per patient)."""
    return ctx.patient_memo("age", _age_and_source, ctx.patient, ctx.as_of)


@leaf("age")
def _age_leaf(params: dict) -> Node:
    _check_keys(params, {"min", "max"})
    lo, hi = params.get("min"), params.get("max")
    rng = f"{'' if lo is None else f'>= {lo}'}{' and ' if lo is not None and hi is not None else ''}{'' if hi is None else f'<= {hi}'}"
    missing = unknown("age not recorded", ["birth_date or age_years"])

    def node(ctx: Context) -> Outcome:
        age, src = _age(ctx)
        if age is None:
            return missing
        ok = (lo is None or age >= lo) and (hi is None or age <= hi)
        return Outcome(MET if ok else NOT_MET, lambda: f"age {age} on {_fmt(ctx.as_of)} (required {rng})", (src,))

    return node


@leaf("diagnosis")
def _diagnosis(params: dict) -> Node:
    _check_keys(params, {"in", "confirmation_in", "histology_any"}, {"in"})
    allowed = set(params["in"])
    conf = set(params.get("confirmation_in") or ())
    hist = [h.lower() for h in params.get("histology_any") or ()]

    def node(ctx: Context) -> Outcome:
        c = ctx.patient.cancer
        if c is None:
            return unknown("cancer diagnosis not recorded", ["cancer.diagnosis"])
        if c.diagnosis not in allowed:
            return not_met(lambda: f"diagnosis {c.diagnosis}, required {', '.join(sorted(allowed))}", ["cancer.diagnosis"])
        parts = [f"diagnosis {c.diagnosis}"]
        if conf:
            if c.confirmation is None:
                return unknown(lambda: f"diagnosis {c.diagnosis}; how it was confirmed is not recorded",
                               ["cancer.confirmation"], ["cancer.diagnosis"])
            if c.confirmation not in conf:
                return not_met(lambda: f"{c.diagnosis} confirmed by {c.confirmation}, required {' or '.join(sorted(conf))}",
                               ["cancer.confirmation"])
            parts.append(f"confirmed by {c.confirmation}")
        if hist:
            if c.histology is None:
                return unknown(lambda: f"diagnosis {c.diagnosis}; histology not recorded", ["cancer.histology"])
            if not any(h in c.histology.lower() for h in hist):
                return not_met(lambda: f"histology {c.histology!r} is not one of {', '.join(hist)}", ["cancer.histology"])
            parts.append(f"histology {c.histology}")
        return met(", ".join(parts), ["cancer"])

    return node


@leaf("stage")
def _stage(params: dict) -> Node:
    _check_keys(params, {"in"}, {"in"})
    allowed = {s.upper() for s in params["in"]}

    def node(ctx: Context) -> Outcome:
        c = ctx.patient.cancer
        if c is None or c.stage is None:
            return unknown("stage not recorded", ["cancer.stage"])
        ok = c.stage.upper() in allowed
        return (met if ok else not_met)(lambda: f"stage {c.stage} (required {', '.join(sorted(allowed))})", ["cancer.stage"])

    return node


def _scores_until(p, as_of: dt.date) -> list:
    return sorted((r for r in p.performance or () if r.date <= as_of), key=lambda r: r.date)


def _performance_records(ctx: Context) -> list:
    """Per patient: performance scores on or before the screening date, oldest first (of the
    same date, in record order)."""
    return ctx.patient_memo("performance", _scores_until, ctx.patient, ctx.as_of)


@leaf("performance")
def _performance(params: dict) -> Node:
    _check_keys(params, {"scale", "min", "max", "days", "window"}, {"scale"})
    scale, lo, hi = params["scale"], params.get("min"), params.get("max")
    if scale not in ("ECOG", "KPS"):
        raise ValueError(f"scale {scale!r}: expected ECOG or KPS")
    window = _window_resolver(params)
    need = f"{scale} {'' if lo is None else f'>= {lo}'}{' ' if lo is not None and hi is not None else ''}{'' if hi is None else f'<= {hi}'}"

    def node(ctx: Context) -> Outcome:
        days = window(ctx)
        recs = _performance_records(ctx)
        if days is not None:
            as_of = ctx.as_of
            recs = [r for r in recs if (as_of - r.date).days <= days]
        if not recs:
            return Outcome(UNKNOWN, lambda: f"no {scale} score{'' if days is None else f' within {days} days'}", (),
                           (f"performance ({scale} or its equivalent){'' if days is None else f' within {days} days'}",))
        # the latest date; on that date a score on the asked scale, else the first recorded
        last = recs[-1].date
        r = None
        for x in recs:
            if x.date == last and (r is None or (x.scale == scale and r.scale != scale)):
                r = x
        possible = scores.possible_scores(r.scale, r.score, scale)
        verdicts = {(lo is None or v >= lo) and (hi is None or v <= hi) for v in possible}
        src = f"{r.scale} {r.score} on {_fmt(r.date)}"
        if len(verdicts) > 1:
            return Outcome(UNKNOWN, lambda: f"{src} corresponds to {scale} {sorted(possible)}: cannot decide {need}",
                           (src,), (f"a {scale} score",))

        def why() -> str:
            conv = "" if r.scale == scale else f" (= {scale} {'/'.join(map(str, sorted(possible)))}, Oken 1982)"
            return f"{src}{conv}; required {need}"

        return Outcome(MET if verdicts.pop() else NOT_MET, why, (src,))

    return node


# ---- labs ----------------------------------------------------------------------------------

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


def _lab_line(lab, unit: str) -> str:
    return f"{lab.test} {lab.value:g} {unit} on {_fmt(lab.date)}"


def _lab_text(ctx: Context, lab, unit: str) -> str:
    """``creatinine 80 umol/L on 2026-01-05``, built once per result and patient."""
    return ctx.patient_memo(("lab_text", id(lab)), _lab_line, lab, unit)


@leaf("lab")
def _lab(params: dict) -> Node:
    _check_keys(params, {"test", "op", "value", "x_uln", "x_lln", "days", "window", "unit", "label"},
                {"test", "op"})
    test, opname = params["test"], params["op"]
    cmp_ = _op(opname)
    value, x_uln, x_lln = params.get("value"), params.get("x_uln"), params.get("x_lln")
    if sum(v is not None for v in (value, x_uln, x_lln)) != 1:
        raise ValueError("give exactly one of value, x_uln, x_lln")
    from oligotrial.domain.record.units import LAB_UNITS, canonical_unit, conversion_factor

    if test not in LAB_UNITS:
        raise ValueError(f"test {test!r} is not a known lab test")
    if value is not None and params.get("unit"):
        value = value * conversion_factor(test, params["unit"])
    unit = canonical_unit(test)
    window = _window_resolver(params)

    def node(ctx: Context) -> Outcome:
        days = window(ctx)
        lab = _latest_lab(ctx, test, days)
        if lab is None:
            win = "" if days is None else f" within {days} days of {_fmt(ctx.as_of)}"
            return Outcome(UNKNOWN, lambda: f"no {test}{win}", (), (f"{test} result{win}",))
        src = _lab_text(ctx, lab, unit)
        if value is not None:
            return Outcome(MET if cmp_(lab.value, value) else NOT_MET,
                           lambda: f"{src} (required {opname} {value:g} {unit})", (src,))
        bound, mult, name = (lab.uln, x_uln, "ULN") if x_uln is not None else (lab.lln, x_lln, "LLN")
        if bound is None:
            return Outcome(UNKNOWN, lambda: f"{src}: the reporting lab's {name} is not recorded", (src,),
                           (f"{name.lower()} of the {test} result on {_fmt(lab.date)}",))
        limit = bound * mult
        return Outcome(MET if cmp_(lab.value, limit) else NOT_MET,
                       lambda: f"{src} = {lab.value / bound:.2f} x {name} (required {opname} {mult:g} x {name} = {limit:g})",
                       (src,))

    return node


@leaf("lab_within_normal_range")
def _lab_normal(params: dict) -> Node:
    _check_keys(params, {"tests", "tolerance_pct", "days", "window"}, {"tests"})
    tests, tol = list(params["tests"]), float(params.get("tolerance_pct", 0))
    window = _window_resolver(params)

    def node(ctx: Context) -> Outcome:
        days = window(ctx)
        reasons: list[str] = []
        inputs: list[str] = []
        missing: list[str] = []
        bad: list[str] = []
        for test in tests:
            lab = _latest_lab(ctx, test, days)
            if lab is None:
                missing.append(f"{test} result" + ("" if days is None else f" within {days} days"))
                continue
            if lab.uln is None or lab.lln is None:
                missing.append(f"reference range (lln and uln) of {test} on {_fmt(lab.date)}")
                continue
            lo, hi = lab.lln * (1 - tol / 100), lab.uln * (1 + tol / 100)
            src = f"{test} {lab.value:g} on {_fmt(lab.date)} (range {lab.lln:g}-{lab.uln:g}, +/-{tol:g}%: {lo:g}-{hi:g})"
            inputs.append(src)
            (reasons if lo - 1e-9 <= lab.value <= hi + 1e-9 else bad).append(src)
        if bad:
            return not_met(lambda: "outside range: " + "; ".join(bad), inputs)
        if missing:
            return unknown(lambda: "cannot check " + ", ".join(missing), missing, inputs)
        return met(lambda: "within range: " + "; ".join(reasons), inputs)

    return node


def _vitals_until(p, as_of: dt.date, attr: str):
    vs = sorted((v for v in p.vitals or () if v.date <= as_of and getattr(v, attr) is not None), key=lambda v: v.date)
    return vs[-1] if vs else None


def _latest_vitals(ctx: Context, attr: str):
    """The latest vitals record with ``attr`` on or before the screening date (per patient)."""
    return ctx.patient_memo(("vitals", attr), _vitals_until, ctx.patient, ctx.as_of, attr)


@leaf("creatinine_clearance")
def _crcl(params: dict) -> Node:
    _check_keys(params, {"op", "value", "days", "window", "method"}, {"op", "value"})
    opname, value = params["op"], float(params["value"])
    cmp_ = _op(opname)
    method = params.get("method", "cockcroft_gault_or_measured")
    window = _window_resolver(params)

    def node(ctx: Context) -> Outcome:
        days = window(ctx)
        need = f"{opname} {value:g} mL/min"
        if method != "cockcroft_gault":
            measured = _latest_lab(ctx, "creatinine_clearance", days)
            if measured is not None:
                src = f"creatinine_clearance {measured.value:g} mL/min (measured) on {_fmt(measured.date)}"
                return (met if cmp_(measured.value, value) else not_met)(f"{src} (required {need})", [src])
        p = ctx.patient
        cr = _latest_lab(ctx, "creatinine", days)
        wt = _latest_vitals(ctx, "weight_kg")
        if p.birth_date is not None:
            age = scores.age_on(p.birth_date, ctx.as_of)
        else:
            age = p.age_years
        missing = []
        if cr is None:
            missing.append("creatinine" + ("" if days is None else f" within {days} days"))
        if wt is None:
            missing.append("weight (vitals.weight_kg)")
        if age is None:
            missing.append("birth_date or age_years")
        sexes = [p.sex] if p.sex in ("female", "male") else ["female", "male"]
        if missing:
            return unknown(lambda: "Cockcroft-Gault creatinine clearance needs " + ", ".join(missing), missing)
        vals = {s: scores.cockcroft_gault_ml_min(age_years=age, weight_kg=wt.weight_kg,
                                                  creatinine_umol_l=cr.value, sex=s) for s in sexes}
        verdicts = {cmp_(v, value) for v in vals.values()}
        inputs = [f"creatinine {cr.value:g} umol/L on {_fmt(cr.date)}", f"weight {wt.weight_kg:g} kg on {_fmt(wt.date)}",
                  f"age {age}"]
        shown = ", ".join(f"{v:.1f} mL/min ({s})" for s, v in vals.items())
        if len(verdicts) > 1:
            return unknown(lambda: f"Cockcroft-Gault {shown}: depends on sex", ["sex (female or male)"], inputs)
        return (met if verdicts.pop() else not_met)(
            f"Cockcroft-Gault creatinine clearance {shown} (required {need})", inputs)

    return node


@leaf("child_pugh")
def _child_pugh(params: dict) -> Node:
    _check_keys(params, {"op", "value", "days", "window"}, {"op", "value"})
    opname, value = params["op"], int(params["value"])
    cmp_ = _op(opname)
    window = _window_resolver(params)

    def node(ctx: Context) -> Outcome:
        days = window(ctx)
        cf = ctx.patient.clinical_findings
        if cf is not None and cf.child_pugh is not None:
            ok = cmp_(cf.child_pugh, value)
            return (met if ok else not_met)(lambda: f"Child-Pugh {cf.child_pugh} (recorded score; required {opname} {value})",
                                            ["clinical_findings.child_pugh"])
        bil = _latest_lab(ctx, "total_bilirubin", days)
        alb = _latest_lab(ctx, "albumin", days)
        inr = _latest_lab(ctx, "inr", days)
        cp = scores.child_pugh(
            bilirubin_umol_l=bil.value if bil else None, albumin_g_l=alb.value if alb else None,
            inr=inr.value if inr else None,
            ascites=cf.ascites if cf else None, encephalopathy=cf.encephalopathy if cf else None)
        verdicts = {cmp_(s, value) for s in cp.possible}
        inputs = [f"{k} {v} point(s)" for k, v in cp.points.items() if v is not None]
        if len(verdicts) > 1:
            return unknown(lambda: f"Child-Pugh between {min(cp.possible)} and {max(cp.possible)}: "
                           f"missing {', '.join(cp.missing)}", [f"{m} (Child-Pugh part)" for m in cp.missing], inputs)
        shown = (f"Child-Pugh {cp.score} (class {cp.class_of(cp.score)})" if cp.known else
                 f"Child-Pugh {min(cp.possible)}-{max(cp.possible)} whatever the missing {', '.join(cp.missing)}")
        return (met if verdicts.pop() else not_met)(f"{shown}; required {opname} {value}", inputs)

    return node


# ---- conditions, biomarkers, reproduction ---------------------------------------------------

@leaf("condition")
def _condition(params: dict) -> Node:
    _check_keys(params, {"any_of", "within_days", "history"}, {"any_of"})
    names = list(params["any_of"])
    wanted = frozenset(names)
    within = params.get("within_days")
    history = bool(params.get("history", False))
    not_recorded = unknown(f"conditions not recorded ({', '.join(names)})", [f"conditions ({' / '.join(names)})"])
    none_found = not_met(f"none of {', '.join(names)} {'recorded' if history else 'active'}", ["conditions"])

    def node(ctx: Context) -> Outcome:
        conds = ctx.patient.conditions
        if conds is None:
            return not_recorded
        hits = [c for c in conds if c.name in wanted]
        if not hits:
            return none_found
        active = [c for c in hits if c.active is True or history or (within is not None and c.since is not None and
                                                                      (ctx.as_of - c.since).days <= within)]
        if active:
            c = active[0]
            state = "active" if c.active else ("history" if history else f"since {_fmt(c.since)}")
            return met(lambda: f"{c.name} ({state}){'' if not c.detail else f': {c.detail}'}", [f"condition {c.name}"])
        undecided = [c for c in hits if c.active is None and not (within is not None and c.since is not None)]
        if undecided:
            return unknown(lambda: f"{undecided[0].name} recorded without saying whether it is active",
                           [f"conditions.{undecided[0].name}.active"])
        return none_found

    return node


@leaf("biomarker")
def _biomarker(params: dict) -> Node:
    _check_keys(params, {"any_positive", "all_negative"})
    if len(params) != 1:
        raise ValueError("give one of any_positive, all_negative")
    (mode, names), = params.items()

    def node(ctx: Context) -> Outcome:
        bms = ctx.patient.biomarkers
        if bms is None:
            return unknown("biomarkers not recorded", [f"biomarker results for {', '.join(names)}"])
        status = {b.name.upper(): b.status for b in bms}
        pos = [n for n in names if status.get(n.upper()) == "positive"]
        untested = [n for n in names if status.get(n.upper()) in (None, "unknown")]
        if mode == "any_positive":
            if pos:
                return met(lambda: f"{', '.join(pos)} positive", ["biomarkers"])
            if untested:
                return unknown(lambda: f"{', '.join(untested)} not tested", [f"{n} status" for n in untested])
            return not_met(lambda: f"{', '.join(names)} all negative", ["biomarkers"])
        if pos:
            return not_met(lambda: f"{', '.join(pos)} positive", ["biomarkers"])
        if untested:
            return unknown(lambda: f"{', '.join(untested)} not tested", [f"{n} status" for n in untested])
        return met(lambda: f"{', '.join(names)} negative", ["biomarkers"])

    return node


def _female_relevant(ctx: Context) -> Outcome | None:
    p = ctx.patient
    if p.sex == "male":
        return not_applicable("not applicable: male", ["sex"])
    rep = p.reproductive
    if rep is not None and rep.childbearing_potential is False:
        return not_applicable("not applicable: no childbearing potential", ["reproductive.childbearing_potential"])
    return None


@leaf("pregnancy_test")
def _pregnancy_test(params: dict) -> Node:
    _check_keys(params, {"days", "window"})
    window = _window_resolver(params)

    def node(ctx: Context) -> Outcome:
        na = _female_relevant(ctx)
        if na is not None:
            return na
        p = ctx.patient
        rep = p.reproductive
        days = window(ctx)
        t = rep.pregnancy_test if rep else None
        if t is None or (days is not None and not 0 <= (ctx.as_of - t.date).days <= days):
            missing = [f"negative pregnancy test within {days} days" if days else "pregnancy test"]
            if rep is None or rep.childbearing_potential is None:
                missing.insert(0, "reproductive.childbearing_potential")
            return unknown(lambda: "no pregnancy test" + ("" if days is None else f" within {days} days of {_fmt(ctx.as_of)}"),
                           missing)
        src = f"pregnancy test {t.result} on {_fmt(t.date)}"
        return (met if t.result == "negative" else not_met)(src, [src])

    return node


@leaf("pregnant_or_lactating")
def _pregnant(params: Any) -> Node:
    def node(ctx: Context) -> Outcome:
        if ctx.patient.sex == "male":
            return not_applicable("not applicable: male", ["sex"])
        rep = ctx.patient.reproductive
        if rep is not None and (rep.pregnant or rep.lactating):
            return met("pregnant" if rep.pregnant else "lactating", ["reproductive"])
        if rep is not None and rep.pregnant is False and rep.lactating is False:
            return not_met("neither pregnant nor lactating", ["reproductive"])
        if rep is not None and rep.childbearing_potential is False and rep.lactating is False:
            return not_met("no childbearing potential, not lactating", ["reproductive"])
        t = rep.pregnancy_test if rep else None
        if rep is not None and rep.lactating is False and t is not None and t.result == "negative" \
                and 0 <= (ctx.as_of - t.date).days <= 14:
            return not_met(lambda: f"negative pregnancy test on {_fmt(t.date)}, not lactating", ["reproductive"])
        return unknown("pregnancy and lactation status not recorded", ["reproductive.pregnant", "reproductive.lactating"])

    return node


# ---- therapy history ------------------------------------------------------------------------

def _line(ctx: Context, which: Any):
    """Therapy line ``which`` ("current" or its number), found once per patient."""
    def make():
        if which == "current":
            return reference_line(ctx.patient, ctx.as_of)
        lines = sorted(ctx.patient.systemic_therapy or (), key=lambda t: t.start)
        return next((t for t in lines if t.line == which), None)

    return ctx.patient_memo(("line", which), make)


def _line_or_outcome(ctx: Context, which: Any):
    """The therapy line ``which`` ("current" or a number), or the Outcome that decides the leaf
    without one: unknown when the history is not recorded, not met when the line is absent."""
    if ctx.patient.systemic_therapy is None:
        return None, unknown("systemic therapy history not recorded", ["systemic_therapy"])
    t = _line(ctx, which)
    if t is None:
        name = "current" if which == "current" else f"line {which}"
        return None, not_met(lambda: f"no {name} systemic therapy recorded", ["systemic_therapy"])
    return t, None


@leaf("therapy_history_known")
def _therapy_known(params: Any) -> Node:
    def node(ctx: Context) -> Outcome:
        if ctx.patient.systemic_therapy is None:
            return unknown("systemic therapy history not recorded", ["systemic_therapy"])
        return met("systemic therapy history recorded", ["systemic_therapy"])

    return node


@leaf("line_classes")
def _line_classes(params: dict) -> Node:
    _check_keys(params, {"line", "all_of", "any_of", "none_of", "agents_any_of"}, {"line"})
    which = params["line"]
    all_of = set(params["all_of"]) if params.get("all_of") else None
    any_of = set(params["any_of"]) if params.get("any_of") else None
    agents_any_of = {a.lower() for a in params["agents_any_of"]} if params.get("agents_any_of") else None
    none_of = set(params["none_of"]) if params.get("none_of") else None

    def node(ctx: Context) -> Outcome:
        t, decided = _line_or_outcome(ctx, which)
        if decided is not None:
            return decided
        have = set(t.classes) | set(t.agents)

        def desc() -> str:
            return f"line {t.line} ({'+'.join(t.agents)}; {', '.join(t.classes) or 'no classes'})"

        src = (f"systemic_therapy line {t.line}",)
        if all_of is not None and not all_of <= have:
            return Outcome(NOT_MET, lambda: f"{desc()} lacks {', '.join(sorted(all_of - have))}", src)
        if any_of is not None and not any_of & have:
            return Outcome(NOT_MET, lambda: f"{desc()} has none of {', '.join(params['any_of'])}", src)
        if agents_any_of is not None and not agents_any_of & set(t.agents):
            return Outcome(NOT_MET, lambda: f"{desc()} has none of the agents {', '.join(params['agents_any_of'])}", src)
        if none_of is not None and none_of & have:
            return Outcome(NOT_MET, lambda: f"{desc()} includes {', '.join(sorted(none_of & have))}", src)
        return Outcome(MET, desc, src)

    return node


@leaf("prior_line_with")
def _prior_line_with(params: dict) -> Node:
    _check_keys(params, {"any_of", "before_line"}, {"any_of"})
    wanted = set(params["any_of"])

    def node(ctx: Context) -> Outcome:
        lines = ctx.patient.systemic_therapy
        if lines is None:
            return unknown("systemic therapy history not recorded", ["systemic_therapy"])
        ref = _line(ctx, params.get("before_line", "current"))
        cutoff = ref.start if ref is not None else ctx.as_of
        prior = [t for t in lines if t.start < cutoff and (wanted & (set(t.classes) | set(t.agents)))]
        if prior:
            return met(lambda: f"prior line {prior[0].line} with {', '.join(sorted(wanted & (set(prior[0].classes) | set(prior[0].agents))))}",
                       [f"systemic_therapy line {prior[0].line}"])
        return not_met(lambda: f"no line with {', '.join(sorted(wanted))} before {_fmt(cutoff)}", ["systemic_therapy"])

    return node


@leaf("line_cycles")
def _line_cycles(params: dict) -> Node:
    _check_keys(params, {"line", "min", "max"}, {"line"})

    def node(ctx: Context) -> Outcome:
        t, decided = _line_or_outcome(ctx, params["line"])
        if decided is not None:
            return decided
        if t.cycles is None:
            return unknown(lambda: f"cycles of line {t.line} not recorded", [f"systemic_therapy line {t.line} cycles"])
        lo, hi = params.get("min"), params.get("max")
        ok = (lo is None or t.cycles >= lo) and (hi is None or t.cycles <= hi)
        return (met if ok else not_met)(lambda: f"line {t.line}: {t.cycles} cycles (required {lo}-{hi})",
                                        [f"systemic_therapy line {t.line}"])

    return node


@leaf("line_benefit")
def _line_benefit(params: dict) -> Node:
    """Clinical benefit (best response CR/PR/SD) lasting at least N days from the line's start
    to its documented progression (or, if none is documented, to the judged scan)."""
    _check_keys(params, {"line", "min_days", "window", "responses"}, {"line"})
    responses = set(params.get("responses", ["CR", "PR", "SD"]))

    def node(ctx: Context) -> Outcome:
        t, decided = _line_or_outcome(ctx, params["line"])
        if decided is not None:
            return decided
        need = params.get("min_days")
        if need is None:
            need = ctx.protocol.windows[params["window"]].days
        src = [f"systemic_therapy line {t.line}"]
        if t.best_response is None:
            return unknown(lambda: f"best response to line {t.line} not recorded", [f"systemic_therapy line {t.line} best_response"])
        if t.best_response not in responses:
            return not_met(lambda: f"best response to line {t.line} was {t.best_response} (required {'/'.join(sorted(responses))})", src)
        end = t.progression_date
        basis = "progression"
        if end is None:
            scans = [a.date for a in ctx.patient.assessments or () if a.date <= ctx.as_of]
            if not scans:
                return unknown(lambda: f"date of progression on line {t.line} not recorded",
                               [f"systemic_therapy line {t.line} progression_date"])
            end, basis = max(scans), "latest scan"
        days = (end - t.start).days
        ok = days >= need
        return (met if ok else not_met)(
            f"line {t.line} ({'+'.join(t.agents)}): {t.best_response}, {days} days from start {_fmt(t.start)} to "
            f"{basis} {_fmt(end)} (required >= {need} days)", src)

    return node


@leaf("on_systemic_therapy")
def _on_therapy(params: Any) -> Node:
    def node(ctx: Context) -> Outcome:
        lines = ctx.patient.systemic_therapy
        if lines is None:
            return unknown("systemic therapy history not recorded", ["systemic_therapy"])
        ongoing = [t for t in lines if t.start <= ctx.as_of and (t.end is None or t.end >= ctx.as_of)]
        if ongoing:
            t = ongoing[-1]
            return met(lambda: f"on line {t.line} ({'+'.join(t.agents)}) since {_fmt(t.start)}", [f"systemic_therapy line {t.line}"])
        return not_met("not on systemic therapy at screening", ["systemic_therapy"])

    return node


@leaf("progression_within_days_of_line")
def _early_progression(params: dict) -> Node:
    _check_keys(params, {"line", "days", "window"}, {"line"})
    window = _window_resolver(params)

    def node(ctx: Context) -> Outcome:
        t, decided = _line_or_outcome(ctx, params["line"])
        if decided is not None:
            return decided
        limit = window(ctx)
        if t.progression_date is None:
            return unknown(lambda: f"date of progression on line {t.line} not recorded",
                           [f"systemic_therapy line {t.line} progression_date"])
        days = (t.progression_date - t.start).days
        ok = days < limit
        return (met if ok else not_met)(lambda: f"progression on line {t.line} {days} days after its start (within {limit} days: "
                                        f"{'yes' if ok else 'no'})", [f"systemic_therapy line {t.line}"])

    return node


@leaf("line_toxicity_grade")
def _line_tox(params: dict) -> Node:
    _check_keys(params, {"line", "min_grade"}, {"line", "min_grade"})

    def node(ctx: Context) -> Outcome:
        t, decided = _line_or_outcome(ctx, params["line"])
        if decided is not None:
            return decided
        grades = [x.grade for x in ctx.patient.toxicities or () if x.date >= t.start and (t.end is None or x.date <= t.end)]
        if t.max_toxicity_grade is not None:
            grades.append(t.max_toxicity_grade)
        if not grades and ctx.patient.toxicities is None:
            return unknown(lambda: f"adverse events on line {t.line} not recorded",
                           [f"systemic_therapy line {t.line} max_toxicity_grade or toxicities"])
        worst = max(grades, default=0)
        ok = worst >= params["min_grade"]
        return (met if ok else not_met)(lambda: f"worst CTCAE grade on line {t.line}: {worst}", [f"systemic_therapy line {t.line}"])

    return node


@leaf("toxicity_recovered")
def _tox_recovered(params: dict) -> Node:
    _check_keys(params, {"max_grade", "except_terms", "except"})
    max_grade = params.get("max_grade", 1)
    exempt = {t.lower() for t in params.get("except_terms", [])}
    exempt_rules = params.get("except", [])  # [{term, max_grade}]

    def node(ctx: Context) -> Outcome:
        tox = ctx.patient.toxicities
        if tox is None:
            return unknown("toxicities of prior therapy not recorded", ["toxicities (CTCAE v5.0 term and current grade)"])
        bad, undecided = [], []
        for x in tox:
            term = x.term.lower()
            if term in exempt:
                continue
            allowed = next((r["max_grade"] for r in exempt_rules if r["term"].lower() == term), max_grade)
            current = 0 if x.resolved_on is not None and x.resolved_on <= ctx.as_of else x.current_grade
            if current is None:
                undecided.append(x.term)
            elif current > allowed:
                bad.append(f"{x.term} grade {current} (allowed <= {allowed})")
        if bad:
            return not_met(lambda: "not recovered: " + ", ".join(bad), ["toxicities"])
        if undecided:
            return unknown(lambda: "current grade not recorded for " + ", ".join(undecided),
                           [f"current grade of {t}" for t in undecided])
        return met(lambda: f"all prior toxicities recovered to grade <= {max_grade} (or exempt)", ["toxicities"])

    return node


@leaf("immunotherapy_resistance")
def _io_resistance(params: dict) -> Node:
    """Resistance to immunotherapy as NCT05906329 describes it: primary (no response after more
    than ``primary_min_days`` of exposure, with imaging progression) or acquired (progression
    after more than ``acquired_min_days`` of exposure)."""
    _check_keys(params, {"primary_min_days", "acquired_min_days"}, {"primary_min_days", "acquired_min_days"})
    p_days, a_days = int(params["primary_min_days"]), int(params["acquired_min_days"])

    def node(ctx: Context) -> Outcome:
        lines = ctx.patient.systemic_therapy
        if lines is None:
            return unknown("systemic therapy history not recorded", ["systemic_therapy"])
        io = [t for t in lines if "immunotherapy" in t.classes and t.start <= ctx.as_of]
        if not io:
            return not_met("no immunotherapy line recorded", ["systemic_therapy"])
        undecided = []
        for t in io:
            prog = t.progression_date
            if prog is None:
                undecided.append(t)
                continue
            exposure = (prog - t.start).days
            src = [f"systemic_therapy line {t.line}"]
            if exposure > a_days:
                return met(lambda: f"acquired resistance: progression on line {t.line} after {exposure} days of immunotherapy "
                           f"(> {a_days})", src)
            if exposure > p_days and t.best_response in ("SD", "PD"):
                return met(lambda: f"primary resistance: no response ({t.best_response}) and progression after {exposure} days "
                           f"of immunotherapy (> {p_days})", src)
            if exposure > p_days and t.best_response is None:
                undecided.append(t)
        if undecided:
            t = undecided[0]
            return unknown(lambda: f"line {t.line}: progression date or best response on immunotherapy not recorded",
                           [f"systemic_therapy line {t.line} progression_date and best_response"])
        return not_met("progression on immunotherapy does not meet the resistance definition", ["systemic_therapy"])

    return node


@leaf("other_anticancer_therapy_within")
def _other_therapy(params: dict) -> Node:
    _check_keys(params, {"days", "window", "exclude_line", "include_local"})
    window = _window_resolver(params)

    def node(ctx: Context) -> Outcome:
        days = window(ctx)
        lines, rts = ctx.patient.systemic_therapy, ctx.patient.radiotherapy
        start = ctx.as_of - dt.timedelta(days=days)
        excl = params.get("exclude_line")
        missing = []
        if lines is None:
            missing.append("systemic_therapy")
        if params.get("include_local", True) and rts is None:
            missing.append("radiotherapy (local treatment history)")
        hits = []
        for t in lines or ():
            if excl is not None and (t.line == excl or (excl == "current" and t is reference_line(ctx.patient, ctx.as_of))):
                continue
            if t.start <= ctx.as_of and (t.end is None or t.end >= start):
                hits.append(f"line {t.line} ({'+'.join(t.agents)})")
        if params.get("include_local", True):
            for c in rts or ():
                end = c.end or c.start
                if c.start <= ctx.as_of and end >= start:
                    hits.append(f"radiotherapy {_fmt(c.start)}")
        if hits:
            return met(lambda: f"within {days} days: " + ", ".join(hits), ["systemic_therapy", "radiotherapy"])
        if missing:
            return unknown("treatment history not recorded", missing)
        return not_met(lambda: f"no other anticancer therapy within {days} days", ["systemic_therapy", "radiotherapy"])

    return node


@leaf("radiotherapy_history")
def _rt_history(params: Any) -> Node:
    def node(ctx: Context) -> Outcome:
        rts = ctx.patient.radiotherapy
        if rts is None:
            return unknown("radiotherapy history not recorded", ["radiotherapy (an empty list if none)"])
        prior = [c for c in rts if c.start <= ctx.as_of]
        if prior:
            c = prior[0]
            return met(lambda: f"prior radiotherapy from {_fmt(c.start)}"
                       f"{'' if c.dose_gy is None else f' ({c.dose_gy:g} Gy/{c.fractions})'}", ["radiotherapy"])
        return not_met("no prior radiotherapy", ["radiotherapy"])

    return node


@leaf("prior_rt_to_counted_lesions")
def _rt_overlap(params: Any) -> Node:
    def node(ctx: Context) -> Outcome:
        rts = ctx.patient.radiotherapy
        if rts is None:
            return unknown("radiotherapy history not recorded", ["radiotherapy (an empty list if none)"])
        ds = _disease_state(ctx)
        counted = set(ds.counted)
        hit = sorted({lid for c in rts if c.start <= ctx.as_of for lid in (c.lesions or ()) if lid in counted})
        region_only = [c for c in rts if c.start <= ctx.as_of and not c.lesions and c.region]
        if hit:
            return met(lambda: f"prior radiotherapy to {', '.join(hit)}", ["radiotherapy"])
        if region_only and counted:
            return unknown(lambda: f"prior radiotherapy to region {region_only[0].region!r}: overlap with "
                           f"{', '.join(sorted(counted))} needs review", ["lesions treated by each prior course"])
        return not_met("no prior radiotherapy to the counted lesions", ["radiotherapy"])

    return node


@leaf("study_participation_within")
def _studies(params: dict) -> Node:
    _check_keys(params, {"days", "window", "interventional_only"})
    window = _window_resolver(params)

    def node(ctx: Context) -> Outcome:
        studies = ctx.patient.studies
        days = window(ctx)
        if studies is None:
            return unknown("participation in other studies not recorded", ["studies (an empty list if none)"])
        start = ctx.as_of - dt.timedelta(days=days)
        hits = [s for s in studies if (not params.get("interventional_only", True) or s.interventional)
                and s.start <= ctx.as_of and (s.end is None or s.end >= start)]
        if hits:
            return met(lambda: f"in study {hits[0].name} within {days} days", ["studies"])
        return not_met(lambda: f"no interventional study within {days} days", ["studies"])

    return node


@leaf("transfusion_within")
def _transfusion(params: dict) -> Node:
    _check_keys(params, {"days", "window"})
    window = _window_resolver(params)

    def node(ctx: Context) -> Outcome:
        tr = ctx.patient.transfusions
        days = window(ctx)
        if tr is None:
            return unknown("transfusions not recorded", [f"transfusions within {days} days (an empty list if none)"])
        hits = [t for t in tr if 0 <= (ctx.as_of - t.date).days <= days]
        if hits:
            return met(lambda: f"transfusion on {_fmt(hits[0].date)}", ["transfusions"])
        return not_met(lambda: f"no transfusion within {days} days", ["transfusions"])

    return node


@leaf("assessment_within")
def _assessment_within(params: dict) -> Node:
    _check_keys(params, {"days", "window", "modalities"})
    mods = set(params.get("modalities") or ())
    window = _window_resolver(params)

    def node(ctx: Context) -> Outcome:
        days = window(ctx)
        scans = [a for a in ctx.patient.assessments or () if a.date <= ctx.as_of and (not mods or a.modality in mods)]
        if not scans:
            return unknown("no imaging assessment recorded", [f"imaging within {days} days"])
        last = max(scans, key=lambda a: a.date)
        age = (ctx.as_of - last.date).days
        ok = age <= days
        return (met if ok else not_met)(lambda: f"latest {last.modality} on {_fmt(last.date)}, {age} days before screening "
                                        f"(required within {days})", [f"assessment {_fmt(last.date)}"])

    return node


# ---- disease state --------------------------------------------------------------------------

def _range_check(name: str, lo: int | None, hi: int | None, rng: dict) -> tuple[bool | None, Reason]:
    """Whether a count known to lie in ``lo``..``hi`` is within ``rng`` (None: it depends on
    what is unknown); the reason is formatted when read."""
    mn, mx = rng.get("min"), rng.get("max")
    if lo is None:
        return None, f"{name} unknown"

    def txt_req() -> tuple[str, str]:
        txt = f"{name} {lo if lo == hi else f'{lo}-{hi}'}"
        req = f"{'' if mn is None else f'>= {mn}'}{' and ' if mn is not None and mx is not None else ''}{'' if mx is None else f'<= {mx}'}"
        return txt, req

    ok_lo = (mn is None or lo >= mn) and (mx is None or lo <= mx)
    ok_hi = (mn is None or hi >= mn) and (mx is None or hi <= mx)
    if ok_lo == ok_hi:
        def decided() -> str:
            txt, req = txt_req()
            return f"{txt} (required {req})"
        return ok_lo, decided

    def undecided() -> str:
        txt, req = txt_req()
        return f"{txt}: cannot decide {req}"
    return None, undecided


@leaf("disease_state")
def _disease(params: dict) -> Node:
    _check_keys(params, {"counted", "sites", "organs", "intracranial_sites", "progression_detected",
                         "largest_mm", "measurable_counted"})

    def node(ctx: Context) -> Outcome:
        ds = _disease_state(ctx)
        if ds.judged_scan is None:
            return unknown("no imaging assessment on or before the screening date", list(ds.missing))
        inputs = ds.inputs
        checks: list[tuple[bool | None, Any]] = []
        n_c, n_u = len(ds.counted), len(ds.uncertain)
        if "counted" in params:
            ok, why = _range_check("lesions", n_c, n_c + n_u, params["counted"])

            def counted_why(why=why) -> str:
                detail = ", ".join(f"{s.lesion}: {s.reason}" for s in ds.lesions if s.lesion in ds.counted)
                return f"{reason_text(why)}{f' [{detail}]' if detail else ''}"

            checks.append((ok, counted_why))
        if "sites" in params:
            checks.append(_range_check("sites", ds.sites, ds.sites_max, params["sites"]))
        if "organs" in params:
            checks.append(_range_check("organs", ds.organs, ds.organs_max, params["organs"]))
        if "intracranial_sites" in params:
            extra = f" ({', '.join(ds.intracranial_uncounted)} treated before enrolment, not counted)" if ds.intracranial_uncounted else ""
            ok, why = _range_check("intracranial sites", ds.intracranial_sites, ds.intracranial_sites, params["intracranial_sites"])
            checks.append((ok, lambda why=why, extra=extra: reason_text(why) + extra))
        if "progression_detected" in params:
            want = params["progression_detected"]
            pd_ = ds.progression_detected
            if pd_ is None:
                checks.append((None, "progression status uncertain"))
            else:
                checks.append((pd_ == want, "progression detected" if pd_ else "no progression"))
        if "largest_mm" in params:
            r = params["largest_mm"]
            sizes = [s.size_mm for s in ds.lesions if s.lesion in ds.counted]
            if any(s is None for s in sizes):
                checks.append((None, "size of a counted lesion not recorded"))
            elif sizes:
                big = max(sizes)
                ok = _op(r.get("op", "<="))(big, r["max"])
                checks.append((ok, f"largest counted lesion {big:g} mm (required {r.get('op', '<=')} {r['max']:g} mm)"))
            else:
                checks.append((True, "no counted lesion to size"))
        if "measurable_counted" in params:
            lesion_map = ctx.patient_memo("lesion_map", ctx.patient.lesion_map)
            n_meas = 0
            for s in ds.lesions:
                if s.lesion not in ds.counted or s.size_mm is None:
                    continue
                les = lesion_map.get(s.lesion)
                is_node = s.kind == "lymph_node" or s.organ == "lymph_node"
                if s.organ == "bone" and (les is None or les.soft_tissue_component is not True):
                    continue
                if (is_node and s.size_mm >= 15) or (not is_node and s.size_mm >= 10):
                    n_meas += 1
            ok = n_meas >= params["measurable_counted"].get("min", 1)
            checks.append((ok, f"{n_meas} measurable lesion(s) by RECIST 1.1 (>=10 mm, nodes >=15 mm short axis; "
                               "bone only with a soft-tissue component)"))
        def reason() -> str:
            return "; ".join(w if w.__class__ is str else w() for _, w in checks)

        if any(c is False for c, _ in checks):
            return not_met(reason, inputs)
        if any(c is None for c, _ in checks):
            return unknown(reason, list(ds.missing) or ["lesion evaluation at the judged scan"], inputs)
        return met(reason, inputs)

    return node


@leaf("lesions_in_organs")
def _lesions_in_organs(params: dict) -> Node:
    """Any counted (progressing or residual) lesion in the given organs."""
    _check_keys(params, {"organs", "among"}, {"organs"})
    organs = set(params["organs"])

    def node(ctx: Context) -> Outcome:
        ds = _disease_state(ctx)
        pool = ds.lesions if params.get("among") == "all" else [s for s in ds.lesions if s.lesion in ds.counted]
        hits = [s.lesion for s in pool if s.organ in organs and s.status not in ("absent",)]
        if hits:
            return met(lambda: f"{', '.join(hits)} in {', '.join(sorted(organs))}", list(ds.inputs))
        unk = [s.lesion for s in pool if s.organ is None]
        if unk:
            return unknown(lambda: f"organ of {', '.join(unk)} not recorded", [f"organ of lesion {u}" for u in unk])
        return not_met(lambda: f"no lesion in {', '.join(sorted(organs))}", list(ds.inputs))

    return node


def _brain_ids(p) -> frozenset[str]:
    """Brain lesions of the record and new ones on imaging."""
    return frozenset([lesion.id for lesion in p.lesions or () if lesion.organ == "brain"]
                     + [f.lesion for a in p.assessments or () for f in a.findings if f.new and f.organ == "brain"])


@leaf("brain_metastases")
def _brain(params: dict) -> Node:
    """Brain metastases at the latest assessment (``untreated_only``: not in a prior RT course)."""
    _check_keys(params, {"untreated_only", "max_diameter_mm", "diameter_op", "total_volume_cc", "volume_op"})

    def node(ctx: Context) -> Outcome:
        p = ctx.patient
        ids = set(ctx.patient_memo("brain_ids", _brain_ids, p))
        if p.lesions is None:
            return unknown("lesions not recorded", ["lesions (complete record of known disease)"])
        if params.get("untreated_only"):
            treated = {lid for c in p.radiotherapy or () if c.start <= ctx.as_of for lid in (c.lesions or ())}
            if p.radiotherapy is None and ids:
                return unknown("whether brain metastases were treated is not recorded", ["radiotherapy"])
            ids = ids - treated
        if "max_diameter_mm" in params or "total_volume_cc" in params:
            latest: dict[str, Any] = {}
            for a in p.assessments_sorted():
                for f in a.findings:
                    if f.lesion in ids:
                        latest[f.lesion] = f
            reasons, decided = [], False
            missing = []
            if "max_diameter_mm" in params:
                cmp_ = _op(params.get("diameter_op", ">"))
                for lid in sorted(ids):
                    f = latest.get(lid)
                    if f is None or f.size_mm is None:
                        missing.append(f"size of brain metastasis {lid}")
                    elif cmp_(f.size_mm, params["max_diameter_mm"]):
                        reasons.append(f"{lid} {f.size_mm:g} mm {params.get('diameter_op', '>')} {params['max_diameter_mm']:g} mm")
                        decided = True
            if "total_volume_cc" in params:
                vols = [latest[lid].volume_cc if lid in latest else None for lid in ids]
                if any(v is None for v in vols) and ids:
                    missing.append("volume_cc of each brain metastasis")
                else:
                    total = sum(v for v in vols if v is not None)
                    if _op(params.get("volume_op", ">"))(total, params["total_volume_cc"]):
                        reasons.append(f"total brain-metastasis volume {total:g} cc > {params['total_volume_cc']:g} cc")
                        decided = True
            if decided:
                return met("; ".join(reasons), ["lesions", "assessments"])
            if missing:
                return unknown("brain metastasis size not recorded", missing)
            return not_met(lambda: f"{len(ids)} brain metastasis(es), none over the size or volume limits", ["lesions", "assessments"])
        if ids:
            return met(lambda: f"brain metastases: {', '.join(sorted(ids))}", ["lesions"])
        return not_met("no brain metastases recorded", ["lesions"])

    return node


@leaf("organ_involved")
def _organ_involved(params: dict) -> Node:
    _check_keys(params, {"organs", "kinds"}, {"organs"})
    organs, kinds = set(params["organs"]), set(params.get("kinds") or ("metastasis", "primary", "lymph_node"))
    memo_key = ("organ_involved", frozenset(organs), frozenset(kinds))

    def node(ctx: Context) -> Outcome:
        p = ctx.patient
        if p.lesions is None:
            return unknown("lesions not recorded", ["lesions"])
        def make() -> list[str]:
            found = [lesion.id for lesion in p.lesions if lesion.organ in organs and lesion.kind in kinds]
            return found + [f.lesion for a in p.assessments or () for f in a.findings if f.new and f.organ in organs]

        hits = ctx.patient_memo(memo_key, make)
        if hits:
            return met(lambda: f"{', '.join(sorted(set(hits)))} in {', '.join(sorted(organs))}", ["lesions"])
        return not_met(lambda: f"no lesion in {', '.join(sorted(organs))}", ["lesions"])

    return node


@leaf("clinical_score")
def _clinical_score(params: dict) -> Node:
    _check_keys(params, {"name", "op", "value", "in"}, {"name"})
    name = params["name"]
    if name not in ("sins", "oral_intake", "ascites", "encephalopathy"):
        raise ValueError(f"clinical score {name!r}: expected sins, oral_intake, ascites or encephalopathy")

    def node(ctx: Context) -> Outcome:
        cf = ctx.patient.clinical_findings
        v = getattr(cf, name) if cf is not None else None
        if v is None:
            return unknown(lambda: f"{name} not recorded", [f"clinical_findings.{name}"])
        if "in" in params:
            ok = v in params["in"]
            return (met if ok else not_met)(lambda: f"{name} {v} (required one of {', '.join(params['in'])})", [f"clinical_findings.{name}"])
        ok = _op(params["op"])(v, params["value"])
        return (met if ok else not_met)(lambda: f"{name} {v} ({params['op']} {params['value']}: {'yes' if ok else 'no'})",
                                        [f"clinical_findings.{name}"])

    return node



@leaf("has_metastases")
def _has_mets(params: Any) -> Node:
    def node(ctx: Context) -> Outcome:
        p = ctx.patient
        if p.lesions is None:
            return unknown("lesions not recorded", ["lesions (complete record of known disease)"])
        mets = [lesion.id for lesion in p.lesions if lesion.kind == "metastasis"]
        mets += [f.lesion for a in p.assessments or () for f in a.findings if f.new and f.state != "absent"]
        nodes = [lesion.id for lesion in p.lesions if lesion.kind == "lymph_node"]
        if mets:
            return met(lambda: f"metastatic disease on imaging: {', '.join(sorted(set(mets)))}", ["lesions"])
        if nodes and p.cancer is not None and p.cancer.stage and p.cancer.stage.upper().startswith("IV"):
            return met(lambda: f"stage {p.cancer.stage} with nodal disease", ["lesions", "cancer.stage"])
        return not_met("no metastasis recorded", ["lesions"])

    return node


@leaf("informational")
def _informational(text: Any) -> Node:
    """A registry bullet that states a preference or a heading, not a requirement."""
    if not isinstance(text, str) or not text:
        raise ValueError("informational: expected a sentence saying why this bullet decides nothing")

    def node(ctx: Context) -> Outcome:
        return not_applicable(text)

    return node
