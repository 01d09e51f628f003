"""RECIST 1.1 response from lesion measurements. Pure logic, no I/O.

The engine works in four steps, each citing its rule:

1. :func:`timeline` merges the record's assessments into one time point per date and picks the
   baseline (bad input raises :class:`~oligotrial.errors.AssessmentError`).
2. :func:`select_targets` takes the reader's ``target`` flags at baseline, or selects targets by
   the rules of RECIST 1.1 section 3.3 (at most 5, at most 2 per organ, nodes as one organ).
3. :func:`assess` evaluates every follow-up time point: target sum (nodes by short axis),
   nadir, target / non-target / new-lesion categories and the overall response (Tables 1-2).
4. :func:`best_overall_response` derives the best overall response, with or without
   confirmation (section 4.6, Table 3), from the time-point responses.

Sizes are compared exactly: each measurement is converted once with ``Decimal(str(x))`` so that
``+20.0 %`` and ``+5.0 mm`` hold at the boundary (``8.2 - 3.2`` is exactly 5.0 here).

References
----------
Eisenhauer EA et al. New response evaluation criteria in solid tumours: revised RECIST
guideline (version 1.1). Eur J Cancer 2009;45:228-47 (sections cited as "R11 s.").
EORTC RECIST FAQ, recist.eortc.org/faq (cited as "FAQ").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from oligotrial.domain.record.patient import Assessment, Finding, Lesion, Patient
from oligotrial.errors import AssessmentError

Date = dt.date
ZERO = Decimal(0)
FIVE = Decimal(5)
TEN = Decimal(10)
FIFTEEN = Decimal(15)

RESPONSES = ("CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE")


def dec(x: float | int | Decimal) -> Decimal:
    """A measurement as an exact decimal (the value as written, not its binary float)."""
    return x if isinstance(x, Decimal) else Decimal(str(x))


# ---------------------------------------------------------------------------------------------
# options
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecistOptions:
    """User options for RECIST 1.1, validated once. Defaults are documented per field.

    Attributes
    ----------
    sd_min_days : int
        SD (and NON-CR/NON-PD) count for the best response only at or after this many days from
        the start date; earlier ones read NE (R11 s.4.6.2: "in general not less than 6-8
        weeks"). Default 42 (6 weeks, the lower bound). admiralonco uses 28 or 42.
    confirm_min_days : int
        A CR/PR is confirmed by a CR (PR or CR for PR) at least this many days later
        (R11 s.4.6.2: "no less than 4 weeks"). Default 28; exactly 28 days confirms.
    max_ne_between : int
        NE time points allowed between a response and its confirmation. Default 1
        (admiralonco ``max_nr_ne``).
    max_sd_between : int
        SD time points allowed between a PR and its confirmation. Default 0 (admiralonco
        ``accept_sd = FALSE``).
    truncate_at_pd : bool
        The best response uses time points up to and including the first PD (R11 s.4.6.1).
        Default True.
    hold_confirmed_pr : bool
        FAQ "The definition of SD": after a confirmed PR the target response stays PR until PD
        (165 -> 63 -> 65 mm is continued PR). Default False: each time point is judged against
        baseline (R11 s.4.3.1).
    reappearance_pd : "previous_cr" or "confirmed_cr"
        FAQ "Does a new lesion always result in PD?": a lesion that disappeared and reappears
        is PD only if another PD criterion is met or CR was assigned at the previous
        assessment ("previous_cr", default, the FAQ's rule) or, stricter, that CR was confirmed
        ("confirmed_cr", the FAQ's recommendation).
    new_node_min_sa_mm : float
        A new lymph node counts as a new lesion only at a short axis of at least this size
        (FAQ on new nodes; R11 s.4.3.3). Default 10.
    exclude_irradiated_from_auto_targets : bool
        R11 s.3.2: lesions in a previously irradiated field are usually non-measurable unless
        they progressed. Automatic selection skips lesions treated by a radiotherapy course that
        ended on or before the baseline (noted). Default True. Reader flags override.
    """

    sd_min_days: int = 42
    confirm_min_days: int = 28
    max_ne_between: int = 1
    max_sd_between: int = 0
    truncate_at_pd: bool = True
    hold_confirmed_pr: bool = False
    reappearance_pd: Literal["previous_cr", "confirmed_cr"] = "previous_cr"
    new_node_min_sa_mm: float = 10.0
    exclude_irradiated_from_auto_targets: bool = True

    def __post_init__(self) -> None:
        for name in ("sd_min_days", "confirm_min_days", "max_ne_between", "max_sd_between"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise AssessmentError(f"option {name}={v!r}: expected a non-negative integer",
                                      field=name)
        if self.reappearance_pd not in ("previous_cr", "confirmed_cr"):
            raise AssessmentError(
                f"option reappearance_pd={self.reappearance_pd!r}: expected previous_cr or confirmed_cr",
                field="reappearance_pd")
        if self.new_node_min_sa_mm < 0:
            raise AssessmentError(f"option new_node_min_sa_mm={self.new_node_min_sa_mm}: expected >= 0",
                                  field="new_node_min_sa_mm")


# ---------------------------------------------------------------------------------------------
# time points
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimePoint:
    """All findings of one imaging date (several same-date assessments merged)."""

    date: Date
    modalities: frozenset[str]
    findings: dict[str, Finding]

    @property
    def pet(self) -> bool:
        return "PET-CT" in self.modalities


def timeline(patient: Patient) -> list[TimePoint]:
    """One time point per date, in date order.

    Rule (documented, never a guess): assessments on the same date are merged when they name
    different lesions or agree on a shared one; two findings for one lesion on one date that
    disagree raise :class:`AssessmentError` naming both.
    """
    by_date: dict[Date, list[Assessment]] = {}
    for a in patient.assessments or ():
        by_date.setdefault(a.date, []).append(a)
    out = []
    for date in sorted(by_date):
        findings: dict[str, Finding] = {}
        for a in by_date[date]:
            for f in a.findings:
                prev = findings.get(f.lesion)
                if prev is not None and prev != f:
                    raise AssessmentError(
                        f"patient {patient.id}: two assessments on {date.isoformat()} disagree on "
                        f"lesion {f.lesion} ({_show(prev)} vs {_show(f)}): expected one finding per "
                        "lesion and date, or identical ones", code="conflicting_assessments",
                        field=f"assessments[{date.isoformat()}]")
                findings[f.lesion] = f
        out.append(TimePoint(date, frozenset(a.modality for a in by_date[date]), findings))
    return out


def _show(f: Finding) -> str:
    return ", ".join(f"{k}={v}" for k, v in f.model_dump(exclude_defaults=True).items() if k != "lesion")


def split_baseline(patient: Patient, points: list[TimePoint],
                   baseline: Date | None) -> tuple[TimePoint, list[TimePoint], list[str]]:
    """The baseline time point and the follow-up points after it (R11 s.3.1)."""
    notes: list[str] = []
    if not points:
        raise AssessmentError(f"patient {patient.id}: no assessments: expected at least a baseline "
                              "imaging time point", field="assessments")
    if baseline is None:
        base = points[0]
    else:
        match = [p for p in points if p.date == baseline]
        if not match:
            raise AssessmentError(
                f"baseline {baseline.isoformat()}: expected the date of an assessment in the record "
                f"({', '.join(p.date.isoformat() for p in points)})", field="baseline")
        base = match[0]
        earlier = [p for p in points if p.date < baseline]
        if earlier:
            notes.append(f"{len(earlier)} assessment(s) before the baseline {baseline.isoformat()} ignored")
    return base, [p for p in points if p.date > base.date], notes


# ---------------------------------------------------------------------------------------------
# target selection (R11 s.3.3)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    targets: tuple[str, ...]
    non_targets: tuple[str, ...]
    notes: tuple[str, ...] = ()


def lesion_of(patient: Patient, lesion_id: str, finding: Finding | None = None) -> Lesion:
    """The lesion record, or a synthetic one for a new lesion known only from its finding."""
    lesion = patient.lesion_map().get(lesion_id)
    if lesion is not None:
        return lesion
    if finding is None or finding.organ is None:  # the finding that introduced the new lesion
        for a in patient.assessments or ():
            for f in a.findings:
                if f.lesion == lesion_id and f.organ is not None:
                    finding = f
                    break
    organ = (finding.organ if finding is not None and finding.organ else "other")
    kind = "lymph_node" if organ == "lymph_node" else "metastasis"
    return Lesion(id=lesion_id, kind=kind, organ=organ, node_region=finding.node_region if finding else None)


def organ_key(lesion: Lesion) -> str:
    """All nodes are one organ for the per-organ limit (FAQ "Two target lesions")."""
    return "lymph_node" if lesion.is_node else lesion.organ


def measurable(lesion: Lesion, f: Finding) -> tuple[bool, str]:
    """Measurability at baseline, R11 s.3.1-3.2: LD >= 10 mm (CT); nodes SA >= 15 mm; bone only
    with a soft-tissue component (itself measurable)."""
    if lesion.is_node:
        if f.short_axis_mm is None:
            return False, "node without a short-axis measurement"
        return (dec(f.short_axis_mm) >= FIFTEEN, f"node SA {f.short_axis_mm} mm (>= 15 mm needed)")
    if lesion.organ == "bone" and lesion.soft_tissue_component is not True:
        return False, "bone lesion without a (known) soft-tissue component"
    if lesion.organ in ("pleura", "peritoneum", "meninges") and f.diameter_mm is None:
        return False, "non-measurable site"
    if f.diameter_mm is None:
        return False, "no longest-diameter measurement"
    return (dec(f.diameter_mm) >= TEN, f"LD {f.diameter_mm} mm (>= 10 mm needed)")


def _baseline_disease(lesion: Lesion, f: Finding) -> bool:
    """Is the lesion disease at baseline? Nodes < 10 mm SA are normal (R11 s.3.1.2)."""
    if f.state in ("absent",) or f.state == "not_evaluated":
        return False
    if lesion.is_node and f.short_axis_mm is not None and dec(f.short_axis_mm) < TEN:
        return False
    if not lesion.is_node and f.diameter_mm is not None and dec(f.diameter_mm) == ZERO:
        return False
    return True


def select_targets(patient: Patient, base: TimePoint,
                   options: RecistOptions = RecistOptions()) -> Selection:
    """Target and non-target lesions at baseline (R11 s.3.3).

    The reader's ``target: true/false`` flags win when any baseline finding carries one; they
    must name measurable lesions, at most 5 in all and at most 2 per organ (nodes one organ),
    else :class:`AssessmentError`. Otherwise oligotrial selects the largest measurable lesions
    by these limits (ties by id) and says so in a note. Every other baseline lesion that is
    disease is a non-target (nodes 10 to < 15 mm SA included; nodes < 10 mm are normal).
    """
    notes: list[str] = []
    for lid, f in base.findings.items():
        if f.new:
            raise AssessmentError(f"baseline {base.date.isoformat()}: lesion {lid} is marked new at the "
                                  "baseline: expected new: true only at follow-up", field="new")
    flagged = {lid: f for lid, f in base.findings.items() if f.target is not None}
    disease = {lid: f for lid, f in base.findings.items()
               if _baseline_disease(lesion_of(patient, lid, f), f)}
    if flagged:
        targets = [lid for lid, f in base.findings.items() if f.target]
        per_organ: dict[str, int] = {}
        for lid in targets:
            lesion, f = lesion_of(patient, lid, base.findings[lid]), base.findings[lid]
            ok, why = measurable(lesion, f)
            if not ok:
                raise AssessmentError(
                    f"baseline {base.date.isoformat()}: target lesion {lid}: {why}: expected a "
                    "measurable lesion (RECIST 1.1 s.3.1)", field=f"findings[{lid}].target")
            per_organ[organ_key(lesion)] = per_organ.get(organ_key(lesion), 0) + 1
        if len(targets) > 5:
            raise AssessmentError(f"baseline: {len(targets)} target lesions flagged: expected at most 5 "
                                  "(RECIST 1.1 s.3.3)", field="target")
        over = {o: n for o, n in per_organ.items() if n > 2}
        if over:
            raise AssessmentError(f"baseline: target lesions per organ {over}: expected at most 2 per "
                                  "organ, all nodes one organ (RECIST 1.1 s.3.3)", field="target")
        notes.append("targets as flagged by the reader at baseline")
    else:
        irradiated: set[str] = set()
        if options.exclude_irradiated_from_auto_targets:
            for rt in patient.radiotherapy or ():
                if (rt.end or rt.start) <= base.date:
                    irradiated |= set(rt.lesions or ())
        candidates = []
        for lid, f in disease.items():
            lesion = lesion_of(patient, lid, f)
            ok, _ = measurable(lesion, f)
            if ok and lid in irradiated:
                notes.append(f"{lid} not selected as target: previously irradiated (RECIST 1.1 s.3.2)")
                continue
            if ok:
                size = dec(f.short_axis_mm if lesion.is_node else f.diameter_mm)  # type: ignore[arg-type]
                candidates.append((-size, lid, organ_key(lesion)))
        targets, per_organ = [], {}
        for _, lid, organ in sorted(candidates):
            if len(targets) == 5 or per_organ.get(organ, 0) == 2:
                continue
            targets.append(lid)
            per_organ[organ] = per_organ.get(organ, 0) + 1
        notes.append("targets selected by oligotrial: no target flags at baseline (largest measurable, "
                     "at most 5, at most 2 per organ, nodes by short axis >= 15 mm counted as one organ; "
                     "RECIST 1.1 s.3.3)")
    non_targets = [lid for lid in disease if lid not in targets]
    normal_nodes = [lid for lid in base.findings if lid not in disease and lid not in targets]
    if normal_nodes:
        notes.append(f"not disease at baseline (absent, not evaluated, or node < 10 mm SA): {', '.join(normal_nodes)}")
    return Selection(tuple(targets), tuple(non_targets), tuple(notes))


# ---------------------------------------------------------------------------------------------
# per-lesion measurements
# ---------------------------------------------------------------------------------------------


def target_size(lesion: Lesion, f: Finding | None) -> Decimal | None:
    """A target's size at follow-up (R11 s.4.3.1-4.3.2, FAQ "Lesions less than 5 mm").

    Disappeared = 0; ``too_small`` = 5 mm; a measured value is used as is (even < 5 mm); nodes
    by short axis, keeping their actual value below 10 mm; a split lesion is the sum of its
    fragments; a lesion merged into another counts 0 (the other carries the coalesced LD);
    otherwise ``None`` (not measured).
    """
    if f is None:
        return None
    if f.merged_into is not None:
        return ZERO
    if f.fragments_mm:
        return sum((dec(x) for x in f.fragments_mm), ZERO)
    value = f.short_axis_mm if lesion.is_node else f.diameter_mm
    if value is not None:
        return dec(value)
    if f.state == "absent":
        return ZERO
    if f.state == "too_small":
        return FIVE
    return None


def gone(lesion: Lesion, f: Finding | None, *, target: bool) -> bool | None:
    """Has the lesion disappeared? Nodes count as gone below 10 mm SA (R11 s.4.3.1-4.3.2).
    ``None`` when not assessed."""
    if f is None or f.state == "not_evaluated":
        return None
    if f.merged_into is not None:
        return False
    if f.state == "unequivocal_progression":
        return False
    if lesion.is_node:
        if f.short_axis_mm is not None:
            return dec(f.short_axis_mm) < TEN
        return f.state == "absent"
    size = target_size(lesion, f)
    if size is not None:
        return size == ZERO
    if f.state == "absent":
        return True
    if f.state in ("present", "too_small", "complete_metabolic_response"):
        return False
    return None if target else False


def is_pd(total: Decimal, nadir: Decimal) -> bool:
    """Target PD, R11 s.4.3.1: sum >= 1.2 x nadir and sum - nadir >= 5 mm (exact decimals)."""
    return total >= nadir * Decimal("1.2") and total - nadir >= FIVE


def is_pr(total: Decimal, baseline: Decimal) -> bool:
    """Target PR, R11 s.4.3.1: at least a 30 % decrease from the baseline sum."""
    return total <= baseline * Decimal("0.7")


def target_response(sizes: dict[str, Decimal | None], lesions: dict[str, Lesion], nadir: Decimal,
                    base_sum: Decimal) -> tuple[str, Decimal | None, Decimal, list[str]]:
    """Target-lesion response, R11 s.4.3.1, tested in the order PD, CR, PR, SD.

    Returns (response, full sum or None, sum of the measured targets, reasons). A missing
    target gives NE unless the measured ones already make PD (R11 s.4.3.1; FAQ).
    """
    measured = [s for s in sizes.values() if s is not None]
    partial = sum(measured, ZERO)
    missing = [t for t, s in sizes.items() if s is None]
    if missing:
        if is_pd(partial, nadir):
            return "PD", None, partial, [
                f"target PD on the measured targets alone ({partial} mm vs nadir {nadir} mm; "
                f"{', '.join(missing)} not measured)"]
        return "NE", None, partial, [f"target NE: {', '.join(missing)} not measured"]
    total = partial
    if is_pd(total, nadir):
        return "PD", total, partial, [f"target PD: {total} mm >= 1.2 x nadir {nadir} mm and +{total - nadir} mm"]
    if all((s < TEN) if lesions[t].is_node else s == ZERO for t, s in sizes.items()):  # type: ignore[operator]
        return "CR", total, partial, []
    if is_pr(total, base_sum):
        return "PR", total, partial, []
    return "SD", total, partial, []


# ---------------------------------------------------------------------------------------------
# time-point evaluation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewLesion:
    id: str
    first_seen: Date
    counts_from: Date | None          # None: never confirmed as a new lesion
    reason: str


@dataclass
class TimePointResponse:
    date: Date
    target_sum_mm: Decimal | None
    partial_sum_mm: Decimal | None
    change_from_baseline_pct: float | None
    change_from_nadir_mm: Decimal | None
    nadir_before_mm: Decimal | None
    target: str | None
    non_target: str | None
    new_lesions: bool
    new_lesion_ids: tuple[str, ...]
    overall: str
    reasons: list[str] = field(default_factory=list)
    sizes: dict[str, Decimal | None] = field(default_factory=dict)
    reappearance_pd: bool = False


@dataclass
class RecistResult:
    patient: str
    baseline: Date
    baseline_sum_mm: Decimal | None
    targets: tuple[str, ...]
    non_targets: tuple[str, ...]
    timepoints: list[TimePointResponse]
    new_lesions: dict[str, NewLesion]
    notes: list[str]

    def responses(self) -> list[tuple[Date, str]]:
        return [(tp.date, tp.overall) for tp in self.timepoints]

    @property
    def nadir_mm(self) -> Decimal | None:
        sums = [self.baseline_sum_mm] + [tp.target_sum_mm for tp in self.timepoints]
        vals = [s for s in sums if s is not None]
        return min(vals) if vals else None


def classify_new_lesions(patient: Patient, base: TimePoint, follow: list[TimePoint],
                         options: RecistOptions) -> dict[str, NewLesion]:
    """When each new lesion counts as PD (R11 s.4.3.3, s.4.3.4 FDG-PET; FAQ on new nodes).

    - unequivocal new lesion: from its first scan;
    - equivocal (``equivocal: true``): only once a later scan shows it unequivocally, then PD
      dates from the first scan ("progression should be declared using the date of the initial
      scan");
    - new node: only at a short axis >= ``new_node_min_sa_mm`` (from that scan);
    - FDG-PET only (a PET-CT finding with ``suv_max`` and no CT size or state): with a baseline
      PET-CT (negative at that site) PD from the PET; without one, only after CT confirmation,
      then dated to the PET.
    """
    out: dict[str, NewLesion] = {}
    history: dict[str, list[tuple[TimePoint, Finding]]] = {}
    for tp in follow:
        for lid, f in tp.findings.items():
            if f.new or lid in history:
                history.setdefault(lid, []).append((tp, f))
    for lid, seq in history.items():
        first_tp, first = seq[0]
        lesion = lesion_of(patient, lid, first)

        def visible(f: Finding) -> bool:
            if f.state in ("absent", "not_evaluated", "complete_metabolic_response"):
                return False
            if lesion.is_node:  # a node is disease only when measured at >= the threshold
                return f.short_axis_mm is not None and dec(f.short_axis_mm) >= dec(options.new_node_min_sa_mm)
            return (f.diameter_mm is not None and dec(f.diameter_mm) > ZERO) or bool(f.fragments_mm) or \
                f.state in ("present", "too_small", "unequivocal_progression")

        def pet_only(tp: TimePoint, f: Finding) -> bool:
            return (tp.pet and f.suv_max is not None and f.diameter_mm is None and f.short_axis_mm is None
                    and f.state is None)

        if pet_only(first_tp, first):
            if base.pet:
                out[lid] = NewLesion(lid, first_tp.date, first_tp.date,
                                     "new FDG-avid site with a baseline PET-CT (RECIST 1.1 s.4.3.4)")
                continue
            later = [tp for tp, f in seq[1:] if visible(f) and not f.equivocal]
            out[lid] = NewLesion(lid, first_tp.date, first_tp.date if later else None,
                                 (f"PET-only new site confirmed on CT {later[0].date.isoformat()}; PD dated to the "
                                  "PET (RECIST 1.1 s.4.3.4)") if later else
                                 "PET-only new site without baseline PET: awaiting CT confirmation (RECIST 1.1 s.4.3.4)")
            continue
        if lesion.is_node:
            big = [tp for tp, f in seq if visible(f) and not f.equivocal]
            out[lid] = NewLesion(lid, first_tp.date, big[0].date if big else None,
                                 f"new node with SA >= {options.new_node_min_sa_mm:g} mm" if big else
                                 f"new node below {options.new_node_min_sa_mm:g} mm SA: not a new lesion (FAQ)")
            continue
        if first.equivocal or not visible(first):
            later = [tp for tp, f in seq[1:] if visible(f) and not f.equivocal]
            if first.equivocal:
                out[lid] = NewLesion(lid, first_tp.date, first_tp.date if later else None,
                                     (f"equivocal new lesion confirmed {later[0].date.isoformat()}; PD dated to the "
                                      "first scan (RECIST 1.1 s.4.3.3)") if later else
                                     "equivocal new lesion, not (yet) confirmed (RECIST 1.1 s.4.3.3)")
            else:
                out[lid] = NewLesion(lid, first_tp.date, later[0].date if later else None,
                                     "new lesion first recorded as not visible")
            continue
        out[lid] = NewLesion(lid, first_tp.date, first_tp.date, "unequivocal new lesion (RECIST 1.1 s.4.3.3)")
    return out


def _check_followups(patient: Patient, base: TimePoint, follow: list[TimePoint], sel: Selection) -> None:
    """A follow-up finding must name a baseline lesion or a lesion first marked ``new``.

    A lesion listed in ``lesions[]`` but never assessed before, and not marked new, is
    ambiguous (new disease or a missed baseline?): :class:`AssessmentError`.
    """
    known = set(base.findings)
    new_ids: set[str] = set()
    for tp in follow:
        for lid, f in tp.findings.items():
            if f.new:
                new_ids.add(lid)
            elif lid not in known and lid not in new_ids:
                raise AssessmentError(
                    f"patient {patient.id}: {tp.date.isoformat()}: finding for lesion {lid}, never seen at the "
                    f"baseline {base.date.isoformat()} and not marked new: expected new: true for a lesion first "
                    "seen at follow-up, or a baseline finding for it", code="unknown_lesion",
                    field=f"assessments[{tp.date.isoformat()}].findings[{lid}]")
            if f.merged_into is not None and f.merged_into not in tp.findings:
                raise AssessmentError(
                    f"{tp.date.isoformat()}: lesion {lid} merged_into {f.merged_into!r}: expected a lesion "
                    "measured at the same time point (RECIST 1.1 s.4.3.2, coalesced lesions)",
                    field="merged_into")


def assess(patient: Patient, *, baseline: Date | None = None,
           options: RecistOptions = RecistOptions()) -> RecistResult:
    """Evaluate every follow-up time point by RECIST 1.1.

    Target response (R11 s.4.3.1, evaluated in this order): PD if the sum is >= 20 % and
    >= 5 mm above the nadir (smallest sum at an evaluable time point, baseline included); CR if
    every non-nodal target is 0 and every nodal target < 10 mm SA; PR if <= 70 % of the baseline
    sum; else SD. A missing target gives NE unless the measured ones already make PD
    (R11 s.4.3.1 / FAQ). Non-target response (s.4.3.2): PD only as the reader's unequivocal
    progression; CR when all are gone (nodes < 10 mm); NE when one is not assessed.
    Overall response: Table 1 (targets) and Table 2 (non-targets only).
    """
    points = timeline(patient)
    base, follow, notes = split_baseline(patient, points, baseline)
    sel = select_targets(patient, base, options)
    notes = [*notes, *sel.notes]
    _check_followups(patient, base, follow, sel)
    if not sel.targets and not sel.non_targets:
        raise AssessmentError(f"patient {patient.id}: baseline {base.date.isoformat()} records no disease "
                              "(no target or non-target lesion): RECIST 1.1 needs disease at baseline",
                              field="assessments")
    lesions = {lid: lesion_of(patient, lid, base.findings.get(lid)) for lid in (*sel.targets, *sel.non_targets)}
    base_sizes = {t: target_size(lesions[t], base.findings[t]) for t in sel.targets}
    base_sum = sum(base_sizes.values(), ZERO) if sel.targets else None  # type: ignore[arg-type]
    new = classify_new_lesions(patient, base, follow, options)
    for nl in new.values():
        if nl.counts_from is None or nl.counts_from != nl.first_seen or "equivocal" in nl.reason:
            notes.append(f"{nl.id} ({nl.first_seen.isoformat()}): {nl.reason}")

    nadir = base_sum
    gone_state: dict[str, bool] = {lid: False for lid in lesions}
    history: list[TimePointResponse] = []
    out: list[TimePointResponse] = []
    for tp in follow:
        reasons: list[str] = []
        sizes = {t: target_size(lesions[t], tp.findings.get(t)) for t in sel.targets}
        # ---- target response
        t_resp: str | None = None
        total: Decimal | None = None
        partial: Decimal | None = None
        if sel.targets:
            assert nadir is not None and base_sum is not None
            t_resp, total, partial, why = target_response(sizes, lesions, nadir, base_sum)
            reasons.extend(why)
            if t_resp == "SD" and options.hold_confirmed_pr and _confirmed_pr_before(history, tp.date, options):
                t_resp = "PR"
                reasons.append("continued PR after a confirmed PR until PD (EORTC RECIST FAQ, "
                               "definition of SD)")
        # ---- non-target response
        nt_resp: str | None = None
        if sel.non_targets:
            states = {}
            for lid in sel.non_targets:
                f = tp.findings.get(lid)
                if f is not None and f.state == "unequivocal_progression":
                    states[lid] = "PD"
                else:
                    g = gone(lesions[lid], f, target=False)
                    states[lid] = "NE" if g is None else ("gone" if g else "present")
            if any(s == "PD" for s in states.values()):
                nt_resp = "PD"
                reasons.append("non-target PD: unequivocal progression of "
                               + ", ".join(k for k, s in states.items() if s == "PD"))
            elif any(s == "NE" for s in states.values()):
                nt_resp = "NE"
            elif all(s == "gone" for s in states.values()):
                nt_resp = "CR"
            else:
                nt_resp = "NON-CR/NON-PD"
        # ---- new lesions
        present_new = []
        for nl in new.values():
            if nl.counts_from is None or nl.first_seen > tp.date:
                continue
            f = tp.findings.get(nl.id)
            if nl.counts_from <= tp.date and (f is None or f.state != "absent"):
                present_new.append(nl.id)
        new_flag = bool(present_new)
        if new_flag:
            reasons.append("new lesion(s): " + ", ".join(present_new))
        # ---- reappearance (FAQ "Does a new lesion always result in PD?")
        reappeared = []
        for lid, lesion in lesions.items():
            g = gone(lesion, tp.findings.get(lid), target=lid in sel.targets)
            if g is False and gone_state[lid]:
                reappeared.append(lid)
            if g is not None:
                gone_state[lid] = g
        reapp_pd = False
        if reappeared and history:
            prev = history[-1]
            if prev.overall == "CR" and (options.reappearance_pd == "previous_cr"
                                         or _confirmed_cr_at(history, len(history) - 1, options)):
                reapp_pd = True
                reasons.append(f"reappearance of {', '.join(reappeared)} after CR at {prev.date.isoformat()}: PD "
                               "(EORTC RECIST FAQ)")
            else:
                reasons.append(f"reappearance of {', '.join(reappeared)}: added back, PD only by other criteria "
                               "(EORTC RECIST FAQ)")
        # ---- overall (Tables 1 and 2)
        if sel.targets:
            if t_resp == "PD" or nt_resp == "PD" or new_flag or reapp_pd:
                overall = "PD"
            elif t_resp == "CR":
                overall = "CR" if nt_resp in (None, "CR") else "PR"
            elif t_resp in ("PR", "SD"):
                overall = t_resp
            else:
                overall = "NE"
        else:
            if nt_resp == "PD" or new_flag or reapp_pd:
                overall = "PD"
            else:
                overall = nt_resp or "NE"
        change_pct = None
        if total is not None and base_sum:
            change_pct = round(float((total - base_sum) / base_sum * 100), 1)
        resp = TimePointResponse(
            date=tp.date, target_sum_mm=total, partial_sum_mm=partial,
            change_from_baseline_pct=change_pct,
            change_from_nadir_mm=(total - nadir) if total is not None and nadir is not None else None,
            nadir_before_mm=nadir, target=t_resp, non_target=nt_resp, new_lesions=new_flag,
            new_lesion_ids=tuple(present_new), overall=overall, reasons=reasons, sizes=sizes,
            reappearance_pd=reapp_pd)
        out.append(resp)
        history.append(resp)
        if total is not None and nadir is not None:
            nadir = min(nadir, total)
    return RecistResult(patient.id, base.date, base_sum, sel.targets, sel.non_targets, out, new, notes)


def _confirmed_pr_before(history: Sequence[TimePointResponse], date: Date, options: RecistOptions) -> bool:
    """A PR (or CR) followed by PR/CR at least ``confirm_min_days`` later, both before ``date``."""
    resp = [(h.date, h.overall) for h in history if h.date < date]
    return confirmed_response(resp, options) in ("CR", "PR")


def _confirmed_cr_at(history: Sequence[TimePointResponse], index: int, options: RecistOptions) -> bool:
    """Is the CR at ``history[index]`` confirmed by an earlier CR >= confirm_min_days before?"""
    end = history[index]
    for h in reversed(history[:index]):
        if h.overall not in ("CR", "NE"):
            return False
        if h.overall == "CR" and (end.date - h.date).days >= options.confirm_min_days:
            return True
    return False


# ---------------------------------------------------------------------------------------------
# best overall response (R11 s.4.6)
# ---------------------------------------------------------------------------------------------

_RANK = {"CR": 6, "PR": 5, "SD": 4, "NON-CR/NON-PD": 3, "PD": 2, "NE": 1}
_WORST = {"PD": 0, "NE": 1, "NON-CR/NON-PD": 2, "SD": 3, "PR": 4, "CR": 5}


@dataclass(frozen=True)
class BestResponse:
    response: str | None
    date: Date | None
    confirmed: bool
    reason: str


def _prepare(responses: Iterable[tuple[Date, str]], start: Date | None, until: Date | None,
             options: RecistOptions) -> list[tuple[Date, str]]:
    """Worst response per date, on/after start, before ``until`` (new anticancer therapy), up to
    and including the first PD (R11 s.4.6.1; admiralonco)."""
    per_date: dict[Date, str] = {}
    for d, r in responses:
        if r not in _RANK:
            raise AssessmentError(f"response {r!r} on {d.isoformat()}: expected one of {', '.join(RESPONSES)}",
                                  field="response")
        if start is not None and d < start or until is not None and d >= until:
            continue
        if d not in per_date or _WORST[r] < _WORST[per_date[d]]:
            per_date[d] = r
    seq = sorted(per_date.items())
    if options.truncate_at_pd:
        for i, (_, r) in enumerate(seq):
            if r == "PD":
                return seq[: i + 1]
    return seq


def _window_ok(d: Date, start: Date | None, options: RecistOptions) -> bool:
    return start is None or (d - start).days >= options.sd_min_days


def best_overall_response(responses: Iterable[tuple[Date, str]], *, start: Date | None,
                          confirm: bool = False, until: Date | None = None,
                          options: RecistOptions = RecistOptions()) -> BestResponse:
    """Best overall response (R11 s.4.6, Table 3; admiralonco ``derive_param_(confirmed_)bor``).

    Without confirmation: CR > PR > SD > NON-CR/NON-PD > PD > NE, where SD and NON-CR/NON-PD
    count only ``sd_min_days`` or more after ``start`` (earlier ones read NE). With
    confirmation: CR needs a CR >= ``confirm_min_days`` later with only CR/NE between (at most
    ``max_ne_between`` NE); PR needs PR/CR that late with CR/PR/NE/SD between (limits as set);
    an unconfirmed CR/PR falls back to SD if the SD minimum is met, else PD or NE (Table 3).
    The date is the first time point of the response.
    """
    seq = _prepare(responses, start, until, options)
    if not seq:
        return BestResponse(None, None, False, "no evaluable time point after the start")
    if confirm:
        got = _confirmed(seq, options)
        if got is not None:
            resp, d, j = got
            return BestResponse(resp, d, True, f"{resp} {d.isoformat()} confirmed {j.isoformat()}")
        for d, r in seq:
            if r in ("CR", "PR", "SD") and _window_ok(d, start, options):
                return BestResponse("SD", d, False, f"SD: first CR/PR/SD at >= {options.sd_min_days} d from start")
        for d, r in seq:
            if r == "NON-CR/NON-PD" and _window_ok(d, start, options):
                return BestResponse(r, d, False, f"NON-CR/NON-PD at >= {options.sd_min_days} d from start")
        for wanted in ("PD", "NE"):
            for d, r in seq:
                if r == wanted or (wanted == "NE" and r in ("CR", "PR", "SD", "NON-CR/NON-PD")):
                    return BestResponse(wanted, d, False, f"{wanted}: no confirmed response, SD minimum not met")
        return BestResponse(None, None, False, "no time point")
    best, best_date = None, None
    for d, r in seq:
        eff = r
        if r in ("SD", "NON-CR/NON-PD") and not _window_ok(d, start, options):
            eff = "NE"
        if best is None or _RANK[eff] > _RANK[best]:
            best, best_date = eff, d
    return BestResponse(best, best_date, False, "best time-point response (unconfirmed)")


def _confirmed(seq: list[tuple[Date, str]], options: RecistOptions) -> tuple[str, Date, Date] | None:
    for wanted, starts, confirms, between in (
            ("CR", {"CR"}, {"CR"}, {"CR", "NE"}),
            ("PR", {"CR", "PR"}, {"CR", "PR"}, {"CR", "PR", "NE", "SD"})):
        for i, (d_i, r_i) in enumerate(seq):
            if r_i not in starts:
                continue
            ne = sd = 0
            for d_j, r_j in seq[i + 1:]:
                if r_j in confirms and (d_j - d_i).days >= options.confirm_min_days:
                    return wanted, d_i, d_j
                if r_j not in between:
                    break
                ne += r_j == "NE"
                sd += r_j == "SD"
                if ne > options.max_ne_between or sd > options.max_sd_between:
                    break
    return None


def confirmed_response(responses: Sequence[tuple[Date, str]], options: RecistOptions) -> str | None:
    """The confirmed CR or PR in ``responses`` (no start window), or None."""
    got = _confirmed(sorted(responses), options)
    return got[0] if got else None


def first_progression(result: RecistResult) -> Date | None:
    """Date of the first PD time point (R11 s.4.3; new lesions dated as in s.4.3.3)."""
    for tp in result.timepoints:
        if tp.overall == "PD":
            return tp.date
    return None
