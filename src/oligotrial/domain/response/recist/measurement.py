"""RECIST 1.1 steps 1-2 and the per-lesion measures: options, the time line and its baseline,
target selection (R11 s.3.3), target sizes (nodes by short axis), disappearance, and the
target-sum thresholds of PR (-30 %) and PD (+20 % and +5 mm over the nadir).

References
----------
Eisenhauer EA et al. Eur J Cancer 2009;45:228-47 (R11). EORTC RECIST FAQ.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
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


def dec(x: float | Decimal) -> Decimal:
    """A measurement as an exact decimal (the value as written, not its binary float)."""
    return x if isinstance(x, Decimal) else Decimal(str(x))


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
                raise AssessmentError(f"option {name}={v!r}: expected a non-negative integer", field=name)
        if self.reappearance_pd not in ("previous_cr", "confirmed_cr"):
            raise AssessmentError(
                f"option reappearance_pd={self.reappearance_pd!r}: expected previous_cr or confirmed_cr",
                field="reappearance_pd",
            )
        if self.new_node_min_sa_mm < 0:
            raise AssessmentError(
                f"option new_node_min_sa_mm={self.new_node_min_sa_mm}: expected >= 0", field="new_node_min_sa_mm"
            )


#: the default options (immutable: one instance serves every default argument)
DEFAULT_OPTIONS = RecistOptions()


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
                        "lesion and date, or identical ones",
                        code="conflicting_assessments",
                        field=f"assessments[{date.isoformat()}]",
                    )
                findings[f.lesion] = f
        out.append(TimePoint(date, frozenset(a.modality for a in by_date[date]), findings))
    return out


def _show(f: Finding) -> str:
    return ", ".join(f"{k}={v}" for k, v in f.model_dump(exclude_defaults=True).items() if k != "lesion")


def split_baseline(
    patient: Patient, points: list[TimePoint], baseline: Date | None
) -> tuple[TimePoint, list[TimePoint], list[str]]:
    """The baseline time point and the follow-up points after it (R11 s.3.1)."""
    notes: list[str] = []
    if not points:
        raise AssessmentError(
            f"patient {patient.id}: no assessments: expected at least a baseline imaging time point",
            field="assessments",
        )
    if baseline is None:
        base = points[0]
    else:
        match = [p for p in points if p.date == baseline]
        if not match:
            raise AssessmentError(
                f"baseline {baseline.isoformat()}: expected the date of an assessment in the record "
                f"({', '.join(p.date.isoformat() for p in points)})",
                field="baseline",
            )
        base = match[0]
        earlier = [p for p in points if p.date < baseline]
        if earlier:
            notes.append(f"{len(earlier)} assessment(s) before the baseline {baseline.isoformat()} ignored")
    return base, [p for p in points if p.date > base.date], notes


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
    organ = finding.organ if finding is not None and finding.organ else "other"
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
    return lesion.is_node or f.diameter_mm is None or dec(f.diameter_mm) != ZERO  # a non-node measured 0 mm is gone


def select_targets(patient: Patient, base: TimePoint, options: RecistOptions = RecistOptions()) -> Selection:
    """Target and non-target lesions at baseline (R11 s.3.3).

    The reader's ``target: true/false`` flags win when any baseline finding carries one; they
    must name measurable lesions, at most 5 in all and at most 2 per organ (nodes one organ),
    else :class:`AssessmentError`. Otherwise oligotrial selects the largest measurable lesions
    by these limits (ties by id) and says so in a note. Every other baseline lesion that is
    disease is a non-target (nodes 10 to < 15 mm SA included; nodes < 10 mm are normal).
    """
    notes: list[str] = []
    rebaselined = any(a.date < base.date for a in patient.assessments or ())
    for lid, f in base.findings.items():
        if f.new and not rebaselined:
            raise AssessmentError(
                f"baseline {base.date.isoformat()}: lesion {lid} is marked new at the "
                "baseline: expected new: true only at follow-up",
                field="new",
            )
        if f.new:
            # new relative to the scans before the baseline; at a later baseline (the last scan
            # before randomization, say) it is disease present at baseline, never a new lesion
            notes.append(
                f"{lid} first seen at the baseline {base.date.isoformat()} (new relative to earlier "
                "scans): a baseline lesion"
            )
    flagged = {lid: f for lid, f in base.findings.items() if f.target is not None}
    disease = {lid: f for lid, f in base.findings.items() if _baseline_disease(lesion_of(patient, lid, f), f)}
    if flagged:
        targets = [lid for lid, f in base.findings.items() if f.target]
        per_organ: dict[str, int] = {}
        for lid in targets:
            lesion, f = lesion_of(patient, lid, base.findings[lid]), base.findings[lid]
            ok, why = measurable(lesion, f)
            if not ok:
                raise AssessmentError(
                    f"baseline {base.date.isoformat()}: target lesion {lid}: {why}: expected a "
                    "measurable lesion (RECIST 1.1 s.3.1)",
                    field=f"findings[{lid}].target",
                )
            per_organ[organ_key(lesion)] = per_organ.get(organ_key(lesion), 0) + 1
        if len(targets) > 5:
            raise AssessmentError(
                f"baseline: {len(targets)} target lesions flagged: expected at most 5 (RECIST 1.1 s.3.3)",
                field="target",
            )
        over = {o: n for o, n in per_organ.items() if n > 2}
        if over:
            raise AssessmentError(
                f"baseline: target lesions per organ {over}: expected at most 2 per "
                "organ, all nodes one organ (RECIST 1.1 s.3.3)",
                field="target",
            )
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
        notes.append(
            "targets selected by oligotrial: no target flags at baseline (largest measurable, "
            "at most 5, at most 2 per organ, nodes by short axis >= 15 mm counted as one organ; "
            "RECIST 1.1 s.3.3)"
        )
    non_targets = [lid for lid in disease if lid not in targets]
    normal_nodes = [lid for lid in base.findings if lid not in disease and lid not in targets]
    if normal_nodes:
        notes.append(f"not disease at baseline (absent, not evaluated, or node < 10 mm SA): {', '.join(normal_nodes)}")
    return Selection(tuple(targets), tuple(non_targets), tuple(notes))


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


def target_response(
    sizes: dict[str, Decimal | None], lesions: dict[str, Lesion], nadir: Decimal, base_sum: Decimal
) -> tuple[str, Decimal | None, Decimal, list[str]]:
    """Target-lesion response, R11 s.4.3.1, tested in the order PD, CR, PR, SD.

    Returns (response, full sum or None, sum of the measured targets, reasons). A missing
    target gives NE unless the measured ones already make PD (R11 s.4.3.1; FAQ).
    """
    measured = [s for s in sizes.values() if s is not None]
    partial = sum(measured, ZERO)
    missing = [t for t, s in sizes.items() if s is None]
    if missing:
        if is_pd(partial, nadir):
            return (
                "PD",
                None,
                partial,
                [
                    (
                        f"target PD on the measured targets alone ({partial} mm vs nadir {nadir} mm; "
                        f"{', '.join(missing)} not measured)"
                    )
                ],
            )
        return "NE", None, partial, [f"target NE: {', '.join(missing)} not measured"]
    total = partial
    if is_pd(total, nadir):
        return "PD", total, partial, [f"target PD: {total} mm >= 1.2 x nadir {nadir} mm and +{total - nadir} mm"]
    if all((s < TEN) if lesions[t].is_node else s == ZERO for t, s in sizes.items()):  # type: ignore[operator]
        return "CR", total, partial, []
    if is_pr(total, base_sum):
        return "PR", total, partial, []
    return "SD", total, partial, []
