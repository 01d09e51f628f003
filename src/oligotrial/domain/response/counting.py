"""Counting sites and organs under each trial's own rules, and the disease state of a record.

A protocol's ``counting`` block says what one *site* is (a lesion, or a nodal region as one site),
what one *organ* is, whether the primary and intracranial lesions count, and whether FDG-PET is
required; :func:`evaluate_disease_state` applies it to the per-lesion statuses from
:mod:`oligotrial.domain.response.progression`. A lesion whose status is uncertain may or may not
be a new site, so counts are reported as a range (at least, at most).

References
----------
Guckenberger M et al. Characterisation and classification of oligometastatic disease:
a European Society for Radiotherapy and Oncology and European Organisation for Research and
Treatment of Cancer consensus recommendation. Lancet Oncol 2020;21:e18-28 (counting sites).
Trial-specific counting rules quote their registry text in the protocol file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from oligotrial.domain.record.patient import Patient
from oligotrial.domain.response.progression import (
    Date,
    LesionStatus,
    _judged_and_baseline,
    _lesion_contexts,
    _plan,
    _progression_status,
)


@dataclass(slots=True)
class DiseaseState:
    definition: str
    mode: str
    judged_scan: Date | None
    baseline: Date | None
    lesions: tuple[LesionStatus, ...]
    counted: tuple[str, ...]
    uncertain: tuple[str, ...]
    sites: int | None
    sites_max: int | None
    organs: int | None
    organs_max: int | None
    intracranial_sites: int
    intracranial_uncounted: tuple[str, ...]
    largest_counted_mm: float | None
    progression_detected: bool | None
    inputs: tuple[str, ...]
    missing: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    #: lesions left out of the count as treated before enrolment (symptomatic lesions treated by
    #: palliative radiotherapy or local therapy: ``exclude_symptomatic_treated_before_enrolment``)
    treated_uncounted: tuple[str, ...] = field(default=())
    #: how each of ``treated_uncounted`` was treated ("palliative radiotherapy 2026-02-20", ...)
    treated_how: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        key = (
            "residual_lesions"
            if self.mode == "residual"
            else ("lesions_present" if self.mode == "burden" else "progressing_lesions")
        )
        out: dict[str, Any] = {
            "definition": self.definition,
            "progressing_lesions": list(self.counted) if self.mode == "progression" else [],
            "sites": self.sites,
            "organs": self.organs,
            "intracranial_sites": self.intracranial_sites,
            "largest_progressing_mm": self.largest_counted_mm,
        }
        if key != "progressing_lesions":
            out[key] = list(self.counted)
        out.update(
            {
                "judged_scan": self.judged_scan.isoformat() if self.judged_scan else None,
                "baseline": self.baseline.isoformat() if self.baseline else None,
                "uncertain_lesions": list(self.uncertain),
                "sites_max": self.sites_max,
                "organs_max": self.organs_max,
                "intracranial_not_counted": list(self.intracranial_uncounted),
                "treated_not_counted": list(self.treated_uncounted),
                "lesions": [
                    {"lesion": s.lesion, "status": s.status, "rule": s.rule, "reason": s.reason} for s in self.lesions
                ],
                "notes": list(self.notes),
            }
        )
        return out


def _treated_before(patient: Patient, lid: str, as_of: Date) -> bool:
    """Treated on or before ``as_of`` by radiotherapy (any intent) or a local therapy (resection,
    ablation, ...): NCT06523673 "Intracranial progressive lesions ... can be treated with
    palliative radiotherapy and local therapy prior to enrollment and are not counted"."""
    return any(lid in (c.lesions or ()) and c.start <= as_of for c in patient.radiotherapy or ()) or any(
        lid in (t.lesions or ()) and t.date <= as_of for t in patient.local_therapies or ()
    )


def _symptomatic_treated_before(patient: Patient, lid: str, as_of: Date) -> str | None:
    """How a lesion was treated before enrolment for its symptoms, or None: a palliative-intent
    radiotherapy course, or a local therapy (the record's ``local_therapies[]``), on or before
    ``as_of`` (NCT06523673 criterion 8: "symptomatic lesions can be treated with palliative
    radiotherapy and local therapy prior to enrollment and are not counted")."""
    for c in patient.radiotherapy or ():
        if c.intent == "palliative" and c.start <= as_of and lid in (c.lesions or ()):
            return f"palliative radiotherapy {c.start.isoformat()}"
    for t in patient.local_therapies or ():
        if t.date <= as_of and lid in (t.lesions or ()):
            return f"{t.kind} {t.date.isoformat()}"
    return None


class _Counting:
    """A protocol's ``counting`` block read once (not once per lesion and patient)."""

    __slots__ = (
        "count_primary",
        "exclude_treated_ic",
        "exclude_treated_symptomatic",
        "extracranial_only",
        "node_region_is_organ",
        "nodes_by_region",
        "organ_kinds",
        "require_pet",
    )

    def __init__(self, counting: dict[str, Any]) -> None:
        self.nodes_by_region = bool(counting.get("nodes_by_region"))
        self.node_region_is_organ = bool(counting.get("node_region_is_organ"))
        self.count_primary = counting.get("count_primary", True)
        self.extracranial_only = bool(counting.get("sites_extracranial_only"))
        self.organ_kinds = counting.get("organ_kinds")
        self.require_pet = counting.get("require_pet", True)
        self.exclude_treated_ic = counting.get("exclude_intracranial_treated_before_enrolment", False)
        self.exclude_treated_symptomatic = counting.get("exclude_symptomatic_treated_before_enrolment", False)

    def site_key(self, s: LesionStatus) -> str | None:
        if self.nodes_by_region and (s.kind == "lymph_node" or s.organ == "lymph_node"):
            return f"region:{s.node_region}" if s.node_region else None
        return f"lesion:{s.lesion}"

    def organ_key(self, s: LesionStatus) -> str | None:
        if s.kind == "lymph_node" or s.organ == "lymph_node":
            if self.node_region_is_organ:
                return f"nodes:{s.node_region}" if s.node_region else None
            return "lymph_node"
        return s.organ


_COUNTINGS: dict[int, tuple[dict[str, Any], _Counting]] = {}


def _counting(counting: dict[str, Any]) -> _Counting:
    hit = _COUNTINGS.get(id(counting))
    if hit is None or hit[0] is not counting:
        hit = _COUNTINGS[id(counting)] = (counting, _Counting(counting))
    return hit[1]


def _count(items: list[LesionStatus], key) -> tuple[int, int]:
    """Distinct sites (or organs) among ``items``: (at least, at most); an item whose key is
    unknown (None) may be a new site or one already counted."""
    if not items:
        return 0, 0
    keys = set()
    unknown = 0
    for s in items:
        k = key(s)
        if k is None:
            unknown += 1
        else:
            keys.add(k)
    known = len(keys)
    lo = known + (1 if unknown and not known else 0)
    return lo, known + unknown


_COUNT_STATUS = {"progression": "progressing", "residual": "residual", "burden": "present"}


def evaluate_disease_state(patient: Patient, spec, shared: dict | None = None) -> DiseaseState:
    """Evaluate a protocol's ``disease_state`` spec on a patient record.

    ``shared`` is an optional per-patient cache (the lesion history does not depend on the
    protocol), so screening one patient against several protocols builds it once.
    """
    notes: list[str] = []
    if shared is not None and "ds:scan" in shared:
        judged, baseline, base_notes = shared["ds:scan"]
        notes.extend(base_notes)
    else:
        judged, baseline = _judged_and_baseline(patient, notes)
        if shared is not None:
            shared["ds:scan"] = (judged, baseline, tuple(notes))
    if judged is None:
        return DiseaseState(
            spec.definition,
            spec.mode,
            None,
            None,
            (),
            (),
            (),
            None,
            None,
            None,
            None,
            0,
            (),
            None,
            None,
            (),
            ("imaging assessment (none recorded on or before the screening date)",),
            tuple(notes),
        )
    counting = _counting(spec.counting)
    lesions = shared.get("ds:lesion_ctx") if shared is not None else None
    if lesions is None:
        lesions = _lesion_contexts(patient, judged, baseline)
        if shared is not None:
            shared["ds:lesion_ctx"] = lesions
    statuses: list[LesionStatus] = []
    progression_any: bool | None = False
    mode = spec.mode
    plan = _plan(spec.rules)
    judged_date = judged.date
    for ctx, organ, kind, region, intracranial in lesions:
        lid = ctx.lid
        cur = ctx.current
        if mode == "progression" or mode == "residual":
            status, rule_name, why = _progression_status(ctx, plan)
            if mode == "residual":
                if status == "progressing":
                    progression_any = True
                elif status == "uncertain" and progression_any is False:
                    progression_any = None
                if cur is None or cur.finding.state == "not_evaluated":
                    status, why = "uncertain", lambda: f"not evaluated at {judged_date.isoformat()}"
                elif cur.finding.state in ("absent", "complete_metabolic_response") or cur.size == 0:
                    status, why = "absent", "complete metabolic response or absent"
                elif cur.modality != "PET-CT" and counting.require_pet:
                    status, why = "uncertain", "residual status needs a PET/CT"
                else:
                    suv = cur.finding.suv_max
                    status, why = (
                        "residual",
                        ("not in complete metabolic response" + (f" (SUVmax {suv:g})" if suv is not None else "")),
                    )
                rule_name = None
        else:  # burden: every lesion present at the judged scan
            if cur is None or cur.finding.state == "not_evaluated":
                status, rule_name, why = "uncertain", None, lambda: f"not evaluated at {judged_date.isoformat()}"
            elif cur.finding.state == "absent" or cur.size == 0:
                status, rule_name, why = "absent", None, "absent"
            else:
                status, rule_name, why = "present", None, "present"
        size = cur.size if cur else None
        statuses.append(LesionStatus(lid, organ, kind, region, intracranial, status, rule_name, why, size))

    count_status = _COUNT_STATUS[mode]
    as_of = patient.as_of or judged.date
    counted: list[LesionStatus] = []
    uncertain: list[LesionStatus] = []
    ic_uncounted: list[str] = []
    treated_uncounted: list[str] = []
    treated_how: list[str] = []
    for s in statuses:
        st = s.status
        if st != count_status and st != "uncertain":
            continue
        if s.intracranial and counting.exclude_treated_ic and _treated_before(patient, s.lesion, as_of):
            ic_uncounted.append(s.lesion)
            continue
        how = _symptomatic_treated_before(patient, s.lesion, as_of) if counting.exclude_treated_symptomatic else None
        if how is not None:
            treated_uncounted.append(s.lesion)
            treated_how.append(how)
            continue
        (counted if st == count_status else uncertain).append(s)

    missing = []
    if counted or uncertain:
        site_key, organ_key = counting.site_key, counting.organ_key
        include_primary = counting.count_primary
        c_items = [s for s in counted if include_primary or s.kind != "primary"]
        u_items = [s for s in uncertain if include_primary or s.kind != "primary"]
        ec_only = counting.extracranial_only
        site_items = [s for s in c_items if not s.intracranial] if ec_only else c_items
        sites_lo, sites_hi = _count(site_items, site_key)
        _, sites_hi_all = _count(site_items + [s for s in u_items if not (ec_only and s.intracranial)], site_key)
        organ_kinds = counting.organ_kinds
        organ_items = [s for s in c_items if organ_kinds is None or s.kind in organ_kinds or s.kind is None]
        organs_lo, organs_hi = _count(organ_items, organ_key)
        _, organs_hi_all = _count(
            organ_items + [s for s in u_items if organ_kinds is None or s.kind in organ_kinds], organ_key
        )
        if any(site_key(s) is None for s in site_items):
            notes.append("a progressing lymph node has no node_region: counted as its own site (upper bound)")
            missing.append("node_region of each involved lymph node")
        if uncertain:
            missing.append(
                "evaluation of lesions " + ", ".join(s.lesion for s in uncertain) + f" at {judged.date.isoformat()}"
            )
        sizes = [s.size_mm for s in c_items if s.size_mm is not None]
        intracranial_sites = sum(1 for s in c_items if s.intracranial)
    else:  # nothing counted or uncertain: every count is zero
        sites_lo = sites_hi = sites_hi_all = organs_lo = organs_hi = organs_hi_all = intracranial_sites = 0
        sizes = []
    inputs = shared.get("ds:inputs") if shared is not None else None
    if inputs is None:
        inputs = [f"assessment {judged.date.isoformat()} ({judged.modality})"]
        if baseline and baseline != judged.date:
            inputs.append(f"baseline assessment {baseline.isoformat()}")
        inputs = tuple(inputs)
        if shared is not None:
            shared["ds:inputs"] = inputs
    return DiseaseState(
        definition=spec.definition,
        mode=spec.mode,
        judged_scan=judged.date,
        baseline=baseline,
        lesions=tuple(statuses),
        counted=tuple(s.lesion for s in counted),
        uncertain=tuple(s.lesion for s in uncertain),
        sites=sites_lo,
        sites_max=max(sites_hi, sites_hi_all),
        organs=organs_lo,
        organs_max=max(organs_hi, organs_hi_all),
        intracranial_sites=intracranial_sites,
        intracranial_uncounted=tuple(ic_uncounted),
        largest_counted_mm=max(sizes) if sizes else None,
        progression_detected=progression_any
        if spec.mode == "residual"
        else bool(counted) or (None if uncertain else False),
        inputs=inputs,
        missing=tuple(missing),
        notes=tuple(notes),
        treated_uncounted=tuple(treated_uncounted),
        treated_how=tuple(treated_how),
    )
