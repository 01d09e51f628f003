"""Leaves on laboratory values and organ function: a lab against a threshold or its normal range
(units converted), creatinine clearance (Cockcroft-Gault), Child-Pugh.
"""

from __future__ import annotations

from oligotrial.domain.eligibility.criteria._shared import (
    _check_keys,
    _fmt,
    _latest_lab,
    _latest_vitals,
    _op,
    _window_resolver,
)
from oligotrial.domain.eligibility.kleene import (
    MET,
    NOT_MET,
    UNKNOWN,
    Context,
    Node,
    Outcome,
    met,
    not_met,
    unknown,
)
from oligotrial.domain.eligibility.registry import leaf
from oligotrial.domain.record import scores


def _lab_line(lab, unit: str) -> str:
    return f"{lab.test} {lab.value:g} {unit} on {_fmt(lab.date)}"


def _lab_text(ctx: Context, lab, unit: str) -> str:
    """``creatinine 80 umol/L on 2026-01-05``, built once per result and patient."""
    return ctx.patient_memo(("lab_text", id(lab)), _lab_line, lab, unit)


@leaf("lab")
def _lab(params: dict) -> Node:
    _check_keys(params, {"test", "op", "value", "x_uln", "x_lln", "days", "window", "unit", "label"}, {"test", "op"})
    test, opname = params["test"], params["op"]
    cmp_ = _op(opname)
    value, x_uln, x_lln = params.get("value"), params.get("x_uln"), params.get("x_lln")
    if sum(v is not None for v in (value, x_uln, x_lln)) != 1:
        raise ValueError("give exactly one of value, x_uln, x_lln")
    from oligotrial.domain.record.units import (
        LAB_UNITS,
        canonical_unit,
        conversion_factor,
    )

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
            return Outcome(
                MET if cmp_(lab.value, value) else NOT_MET,
                lambda: f"{src} (required {opname} {value:g} {unit})",
                (src,),
            )
        bound, mult, name = (lab.uln, x_uln, "ULN") if x_uln is not None else (lab.lln, x_lln, "LLN")
        if bound is None:
            return Outcome(
                UNKNOWN,
                lambda: f"{src}: the reporting lab's {name} is not recorded",
                (src,),
                (f"{name.lower()} of the {test} result on {_fmt(lab.date)}",),
            )
        limit = bound * mult
        return Outcome(
            MET if cmp_(lab.value, limit) else NOT_MET,
            lambda: f"{src} = {lab.value / bound:.2f} x {name} (required {opname} {mult:g} x {name} = {limit:g})",
            (src,),
        )

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
            src = (
                f"{test} {lab.value:g} on {_fmt(lab.date)} (range {lab.lln:g}-{lab.uln:g}, +/-{tol:g}%: {lo:g}-{hi:g})"
            )
            inputs.append(src)
            (reasons if lo - 1e-9 <= lab.value <= hi + 1e-9 else bad).append(src)
        if bad:
            return not_met(lambda: "outside range: " + "; ".join(bad), inputs)
        if missing:
            return unknown(lambda: "cannot check " + ", ".join(missing), missing, inputs)
        return met(lambda: "within range: " + "; ".join(reasons), inputs)

    return node


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
        vals = {
            s: scores.cockcroft_gault_ml_min(age_years=age, weight_kg=wt.weight_kg, creatinine_umol_l=cr.value, sex=s)
            for s in sexes
        }
        verdicts = {cmp_(v, value) for v in vals.values()}
        inputs = [
            f"creatinine {cr.value:g} umol/L on {_fmt(cr.date)}",
            f"weight {wt.weight_kg:g} kg on {_fmt(wt.date)}",
            f"age {age}",
        ]
        shown = ", ".join(f"{v:.1f} mL/min ({s})" for s, v in vals.items())
        if len(verdicts) > 1:
            return unknown(lambda: f"Cockcroft-Gault {shown}: depends on sex", ["sex (female or male)"], inputs)
        return (met if verdicts.pop() else not_met)(
            f"Cockcroft-Gault creatinine clearance {shown} (required {need})", inputs
        )

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
            return (met if ok else not_met)(
                lambda: f"Child-Pugh {cf.child_pugh} (recorded score; required {opname} {value})",
                ["clinical_findings.child_pugh"],
            )
        bil = _latest_lab(ctx, "total_bilirubin", days)
        alb = _latest_lab(ctx, "albumin", days)
        inr = _latest_lab(ctx, "inr", days)
        cp = scores.child_pugh(
            bilirubin_umol_l=bil.value if bil else None,
            albumin_g_l=alb.value if alb else None,
            inr=inr.value if inr else None,
            ascites=cf.ascites if cf else None,
            encephalopathy=cf.encephalopathy if cf else None,
        )
        verdicts = {cmp_(s, value) for s in cp.possible}
        inputs = [f"{k} {v} point(s)" for k, v in cp.points.items() if v is not None]
        if len(verdicts) > 1:
            return unknown(
                lambda: (
                    f"Child-Pugh between {min(cp.possible)} and {max(cp.possible)}: missing {', '.join(cp.missing)}"
                ),
                [f"{m} (Child-Pugh part)" for m in cp.missing],
                inputs,
            )
        shown = (
            f"Child-Pugh {cp.score} (class {cp.class_of(cp.score)})"
            if cp.score is not None  # known
            else f"Child-Pugh {min(cp.possible)}-{max(cp.possible)} whatever the missing {', '.join(cp.missing)}"
        )
        return (met if verdicts.pop() else not_met)(f"{shown}; required {opname} {value}", inputs)

    return node
