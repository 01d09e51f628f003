"""Per-lesion progression (or residual disease) under each trial's own definition.

Each protocol's ``disease_state`` block (data, with source text) lists per-lesion rules and how
the trial counts sites and organs. This module evaluates the per-lesion rules on a patient
record (counting is :mod:`oligotrial.domain.response.counting`):

* the *judged scan* is the latest assessment on or before the record's ``as_of``;
* the *reference line* is the systemic therapy line under way at the judged scan (else the
  most recent line started before it); the *baseline* is the latest assessment on or before
  that line's start (else the first assessment, with a note);
* a lesion's *nadir* is its smallest size from the baseline up to, not including, the judged
  scan ("the smallest diameter seen prior to starting or during systemic therapy", STOP-2).

Thresholds keep each registry's own inequality: rules carry ``pct_op``/``abs_op`` of ``>=`` or
``>``. Comparisons are made in integer hundredths of a millimetre / per-mille so that exactly
+20.0 % and +5.0 mm hold in floating point.

A lesion the judged scan did not evaluate is *uncertain*, never silently "not progressing";
counts are then reported as a range.

References
----------
Eisenhauer EA et al. New response evaluation criteria in solid tumours: revised RECIST
guideline (version 1.1). Eur J Cancer 2009;45:228-47 (sections 4.3.1, 4.3.2: +20 % and +5 mm
over the nadir; nodes by short axis; new lesions; FDG-PET, section 4.3.2 and appendix).
Trial-specific rules quote their registry text in the protocol file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from oligotrial.domain.kernel import Explained, Reason, add_months, reason_text
from oligotrial.domain.record.patient import Assessment, Finding, Patient
from oligotrial.errors import RecordError

Date = dt.date


def _cmp(a: float, op: str, b: float) -> bool:
    """Compare in integer hundredths so that boundary values are exact."""
    ia, ib = round(a * 100), round(b * 100)
    if op == ">=":
        return ia >= ib
    if op == ">":
        return ia > ib
    if op == "<=":
        return ia <= ib
    if op == "<":
        return ia < ib
    raise ValueError(f"operator {op!r}: expected >=, >, <= or <")


def _pct_increase_meets(size: float, ref: float, pct: float, op: str) -> bool:
    """``size`` vs ``ref`` increased by ``pct`` % (``op``); compared as size*100 vs ref*(100+pct)."""
    return _cmp(size * 100.0, op, ref * (100.0 + pct))


@dataclass(slots=True)
class LesionObservation:
    date: Date
    modality: str
    finding: Finding
    size: float | None  # the finding's size in mm (short axis for nodes), read once


class LesionStatus(Explained):
    """One lesion's state at the judged scan; ``reason`` is formatted when read."""

    __slots__ = ("intracranial", "kind", "lesion", "node_region", "organ", "rule", "size_mm", "status")

    def __init__(
        self,
        lesion: str,
        organ: str | None,
        kind: str | None,
        node_region: str | None,
        intracranial: bool,
        status: str,
        rule: str | None,
        reason,
        size_mm: float | None,
    ) -> None:
        self.lesion = lesion
        self.organ = organ
        self.kind = kind
        self.node_region = node_region
        self.intracranial = intracranial
        # "progressing" | "not_progressing" | "uncertain" | "residual" | "absent" | "present"
        self.status = status
        self.rule = rule
        self._reason = reason
        self.size_mm = size_mm

    def __repr__(self) -> str:
        return f"LesionStatus({self.lesion!r}, status={self.status!r}, rule={self.rule!r}, reason={self.reason!r})"


def _history(patient: Patient, until: Date) -> dict[str, list[LesionObservation]]:
    hist: dict[str, list[LesionObservation]] = {}
    for a in patient.assessments_sorted():
        if a.date > until:
            break
        for f in a.findings:
            hist.setdefault(f.lesion, []).append(LesionObservation(a.date, a.modality, f, f.size_mm))
    return hist


def reference_line(patient: Patient, at: Date):
    """The systemic therapy line under way at ``at``, else the latest line started before it."""
    lines = sorted((t for t in patient.systemic_therapy or () if t.start <= at), key=lambda t: t.start)
    if not lines:
        return None
    ongoing = [t for t in lines if t.end is None or t.end >= at]
    return ongoing[-1] if ongoing else lines[-1]


def _judged_and_baseline(
    patient: Patient, notes: list[str], today: Date | None = None
) -> tuple[Assessment | None, Date | None]:
    as_of = patient.as_of or today  # the record's date (parse_patient sets it), else the caller's today
    if as_of is None:
        raise RecordError(
            f"patient {patient.id}: as_of: absent; expected the record's date or the caller's today", field="as_of"
        )
    scans = [a for a in patient.assessments_sorted() if a.date <= as_of]
    if not scans:
        return None, None
    judged = scans[-1]
    line = reference_line(patient, judged.date)
    baseline: Date | None = None
    if line is not None:
        before = [a for a in scans if a.date <= line.start]
        if before:
            baseline = before[-1].date
        else:
            notes.append(
                f"no scan on or before the start of line {line.line} ({line.start.isoformat()}); "
                "the first assessment is taken as baseline"
            )
    if baseline is None:
        baseline = scans[0].date
    return judged, baseline


def _size(f: Finding) -> float | None:
    return f.size_mm


class _LesionContext:
    """What the rules need about one lesion (protocol-independent, so shared by every protocol
    a patient is screened against; ``results`` keeps each rule's verdict by rule key)."""

    __slots__ = (
        "baseline",
        "baseline_obs",
        "current",
        "is_new",
        "is_node",
        "judged",
        "kind",
        "lid",
        "obs",
        "organ",
        "prior",
        "results",
    )

    def __init__(
        self,
        lid: str,
        obs: list[LesionObservation],
        judged: Assessment,
        baseline: Date,
        organ: str | None,
        kind: str | None,
        is_node: bool,
    ) -> None:
        self.lid = lid
        self.obs = obs
        self.judged = judged
        self.baseline = baseline
        self.organ = organ
        self.kind = kind
        self.is_node = is_node
        self.current = next((o for o in obs if o.date == judged.date), None)
        self.prior = [o for o in obs if baseline <= o.date < judged.date]
        self.baseline_obs = next((o for o in reversed(obs) if o.date <= baseline), None)
        self.is_new = any(o.finding.new for o in obs)
        self.results: dict[int, tuple[bool | None, Reason]] = {}  # rule id (see _plan) -> (verdict, why)


def _rule_size_increase(ctx: _LesionContext, rule: dict[str, Any]) -> tuple[bool | None, Reason]:
    cur = ctx.current
    size = cur.size if cur else None
    if cur is not None and cur.finding.state == "complete_metabolic_response" and size is None:
        return False, "complete metabolic response"
    if size is None:
        if (
            cur is not None
            and cur.finding.state in ("present", "unequivocal_progression", "complete_metabolic_response")
            and all(o.size is None for o in ctx.obs)
        ):
            return False, "never measured (non-target): judged by unequivocal progression only (RECIST 1.1 4.3.2)"
        return None, "not measured at the judged scan"
    if ctx.is_new:
        return False, "new lesion (judged by the new-lesion rule)"
    ref_kind = rule.get("reference", "nadir")
    if ref_kind == "baseline":
        ref_obs = [ctx.baseline_obs] if ctx.baseline_obs else []
    else:
        ref_obs = ([ctx.baseline_obs] if ctx.baseline_obs else []) + [o for o in ctx.prior if o is not ctx.baseline_obs]
    sizes = [(s, o.date) for o in ref_obs if o is not None and (s := o.size) is not None]
    if not sizes:
        return None, f"no measured {ref_kind} to compare with"
    ref, ref_date = min(sizes, key=lambda t: t[0]) if ref_kind == "nadir" else sizes[0]
    pct, pct_op = rule.get("pct"), rule.get("pct_op", ">=")
    abs_mm, abs_op = rule.get("abs_mm"), rule.get("abs_op", ">=")
    diff = size - ref
    pct_ok = (
        True if pct is None else (ref > 0 and _pct_increase_meets(size, ref, pct, pct_op)) or (ref == 0 and size > 0)
    )
    abs_ok = True if abs_mm is None else _cmp(diff, abs_op, abs_mm)

    def why() -> str:
        pct_txt = f"{(diff / ref * 100):+.1f}%" if ref > 0 else "from 0"
        return f"{size:g} mm vs {ref_kind} {ref:g} mm on {ref_date.isoformat()} ({pct_txt}, {diff:+g} mm)"

    return (pct_ok and abs_ok), why


def _rule_consecutive_increase(ctx: _LesionContext, rule: dict[str, Any]) -> tuple[bool | None, Reason]:
    measured = [(o, s) for o in ctx.obs if o.date <= ctx.judged.date and (s := o.size) is not None]
    if not measured and ctx.current is not None and ctx.current.finding.state != "not_evaluated":
        return False, "never measured (non-target)"
    if ctx.is_new or ctx.current is None or len(measured) < 2 or measured[-1][0].date != ctx.judged.date:
        return (None if ctx.current is None else False), "fewer than two consecutive measured studies"
    if ctx.baseline_obs is None or ctx.baseline_obs.size is None:
        return None, "no measured baseline"
    ref = ctx.baseline_obs.size
    (prev, s_prev), (last, s_last) = measured[-2], measured[-1]
    if prev.date <= ctx.baseline:
        return False, "only one study after baseline"
    gap = (last.date - prev.date).days
    lo_m, hi_m = rule.get("interval_min_months"), rule.get("interval_max_months")
    if lo_m is not None or hi_m is not None:
        # "2-3 months apart" in calendar months: the second study from the same day of the month
        # 2 months after the first to the same day 3 months after it (the month's last day where
        # that day does not exist; kernel.periods)
        early = None if lo_m is None else add_months(prev.date, lo_m)
        late = None if hi_m is None else add_months(prev.date, hi_m)
        if (early is not None and last.date < early) or (late is not None and last.date > late):
            return (
                False,
                lambda: (
                    f"the two studies are {gap} days apart: {last.date.isoformat()} is outside "
                    f"{'?' if lo_m is None else lo_m}-{'?' if hi_m is None else hi_m} months after "
                    f"{prev.date.isoformat()} ({'' if early is None else early.isoformat()} to "
                    f"{'' if late is None else late.isoformat()})"
                ),
            )
    lo, hi = rule.get("interval_min_days"), rule.get("interval_max_days")
    if (lo is not None and gap < lo) or (hi is not None and gap > hi):
        return False, lambda: f"the two studies are {gap} days apart (window {lo}-{hi} days)"
    ok = True
    if rule.get("require_growth_between", False):
        ok = ok and s_prev > ref and s_last > s_prev
    pct, pct_op = rule.get("pct"), rule.get("pct_op", ">")
    if pct is not None:
        ok = ok and _pct_increase_meets(s_prev, ref, pct, pct_op) and _pct_increase_meets(s_last, ref, pct, pct_op)
    abs_mm, abs_op = rule.get("abs_mm"), rule.get("abs_op", ">=")
    if abs_mm is not None:
        ok = ok and _cmp(s_last - ref, abs_op, abs_mm)

    def why() -> str:
        return (
            f"{ref:g} mm at baseline {ctx.baseline.isoformat()} -> {s_prev:g} mm ({prev.date.isoformat()}) "
            f"-> {s_last:g} mm ({last.date.isoformat()}), {gap} days apart"
        )

    return ok, why


def _rule_new_lesion(ctx: _LesionContext, rule: dict[str, Any]) -> tuple[bool | None, Reason]:
    cur = ctx.current
    if not ctx.is_new or cur is None:
        return False, "not a new lesion"
    f = cur.finding
    if f.equivocal:
        return None, "new lesion marked equivocal: needs confirmation on a later scan"
    organs_in, organs_out = rule.get("organs"), rule.get("exclude_organs")
    if organs_in is not None:
        if ctx.organ is None:
            return None, "organ of the new lesion not recorded"
        if ctx.organ not in organs_in:
            return False, f"new lesion in {ctx.organ}, rule covers {', '.join(organs_in)}"
    if organs_out is not None:
        if ctx.organ is None:
            return None, "organ of the new lesion not recorded"
        if ctx.organ in organs_out:
            return False, f"new lesion in {ctx.organ}, rule excludes it"
    if rule.get("require_typical_hcc"):
        if f.typical_hcc is None:
            return None, "typical HCC imaging features not recorded"
        if not f.typical_hcc:
            return False, "new lesion without typical HCC imaging"
    size = _size(f)
    min_mm = rule.get("node_min_mm") if ctx.is_node and rule.get("node_min_mm") is not None else rule.get("min_mm")
    if min_mm is not None:
        if size is None:
            return None, "size of the new lesion not recorded"
        if not _cmp(size, rule.get("min_op", ">="), min_mm):
            return False, f"new lesion {size:g} mm, below {rule.get('min_op', '>=')} {min_mm:g} mm"
    return (
        True,
        f"new lesion{'' if size is None else f', {size:g} mm'}{'' if ctx.organ is None else f' in {ctx.organ}'}",
    )


def _rule_pet_new_avid(ctx: _LesionContext, rule: dict[str, Any]) -> tuple[bool | None, Reason]:
    cur = ctx.current
    if not ctx.is_new or cur is None:
        return False, "not a new lesion"
    if cur.modality != "PET-CT":
        return False, "new lesion not seen on PET/CT"
    f = cur.finding
    if f.state == "complete_metabolic_response" or f.suv_max is None:
        return (
            None if f.suv_max is None and f.state != "complete_metabolic_response" else False
        ), "FDG uptake of the new lesion not recorded"
    return True, f"new FDG-avid lesion on PET/CT (SUVmax {f.suv_max:g})"


def _rule_suv_increase(ctx: _LesionContext, rule: dict[str, Any]) -> tuple[bool | None, Reason]:
    cur = ctx.current
    if cur is None or cur.modality != "PET-CT" or cur.finding.suv_max is None or ctx.is_new:
        return False, "no SUVmax at the judged scan"
    prior = [
        o
        for o in ctx.obs
        if o.date < cur.date and o.modality == "PET-CT" and o.finding.suv_max is not None and o.date <= ctx.baseline
    ]
    if not prior:
        prior = [o for o in ctx.obs if o.date < cur.date and o.modality == "PET-CT" and o.finding.suv_max is not None]
    if not prior:
        return False, "no earlier SUVmax to compare with"
    ref = prior[-1].finding.suv_max
    assert ref is not None  # prior holds scans with an SUVmax only
    now = cur.finding.suv_max
    ok = _pct_increase_meets(now, ref, rule.get("pct", 30), rule.get("pct_op", ">")) and _cmp(
        now - ref, rule.get("abs_op", ">"), rule.get("abs_suv", 0.8)
    )
    return ok, lambda: f"SUVmax {ref:g} -> {now:g} ({(now - ref) / ref * 100 if ref else 0:+.0f}%, {now - ref:+.2f})"


def _rule_unequivocal(ctx: _LesionContext, rule: dict[str, Any]) -> tuple[bool | None, Reason]:
    cur = ctx.current
    if cur is not None and cur.finding.state == "unequivocal_progression":
        return True, "unequivocal progression (reader's judgement)"
    return False, "no unequivocal progression recorded"


_RULES = {
    "size_increase": _rule_size_increase,
    "consecutive_increase": _rule_consecutive_increase,
    "new_lesion": _rule_new_lesion,
    "pet_new_avid": _rule_pet_new_avid,
    "suv_increase": _rule_suv_increase,
    "unequivocal": _rule_unequivocal,
}

RULE_TYPES = frozenset(_RULES)


def _rule_key(rule: dict[str, Any]) -> tuple:
    """What a rule's verdict depends on (its type and parameters, not its name or source text)."""
    return tuple(
        sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in rule.items() if k not in ("name", "source_text"))
    )


_PLANS: dict[int, tuple[Any, list[tuple[dict[str, Any], int, str]]]] = {}

_RULE_IDS: dict[tuple, int] = {}  # rule key -> a small number (hashed once, not on every lookup)


def _plan(rules: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int, str]]:
    """Each rule with its cache key (one number per distinct :func:`_rule_key`) and display
    name, computed once per protocol's rule list."""
    hit = _PLANS.get(id(rules))
    if hit is None or hit[0] is not rules:
        hit = _PLANS[id(rules)] = (
            rules,
            [(r, _RULE_IDS.setdefault(_rule_key(r), len(_RULE_IDS)), r.get("name", r["type"])) for r in rules],
        )
    return hit[1]


def _progression_status(
    ctx: _LesionContext, plan: list[tuple[dict[str, Any], int, str]]
) -> tuple[str, str | None, Any]:
    """The first rule of ``plan`` (from :func:`_plan`) that is met, else uncertain (a rule could
    not be decided) or not progressing.

    Each rule's result is kept on the lesion context, so trials that share a rule (RECIST 1.1
    growth, say) evaluate it once per lesion.
    """
    undecided = []
    results = ctx.results
    for rule, key, name in plan:
        hit = results.get(key)
        if hit is None:
            hit = results[key] = _RULES[rule["type"]](ctx, rule)
        verdict = hit[0]
        if verdict is True:
            return "progressing", name, hit[1]
        if verdict is None:
            undecided.append((name, hit[1]))
    cur = ctx.current
    if cur is None or cur.finding.state == "not_evaluated":
        judged = ctx.judged.date
        return "uncertain", None, lambda: f"not evaluated at {judged.isoformat()}"
    if undecided:
        return "uncertain", None, lambda: "; ".join(f"{n}: {reason_text(w)}" for n, w in undecided)
    return "not_progressing", None, "no progression rule met"


def _lesion_contexts(patient: Patient, judged: Assessment, baseline: Date) -> list[tuple]:
    """Per lesion seen up to the judged scan: its context and where it is (protocol-independent)."""
    lesion_map = patient.lesion_map()
    out = []
    for lid, obs in _history(patient, judged.date).items():
        lesion = lesion_map.get(lid)
        first = obs[0].finding
        organ = lesion.organ if lesion else first.organ
        kind = lesion.kind if lesion else ("lymph_node" if first.organ == "lymph_node" else None)
        region = lesion.node_region if lesion else first.node_region
        is_node = lesion.is_node if lesion else first.organ == "lymph_node"
        ctx = _LesionContext(lid, obs, judged, baseline, organ, kind, is_node)
        out.append((ctx, organ, kind, region, organ in ("brain", "meninges")))
    return out
