"""RECIST 1.1 step 3: the overall response at every follow-up time point (R11 Tables 1-2):
target, non-target and new-lesion categories, with confirmation of PR/CR where asked.

References
----------
Eisenhauer EA et al. Eur J Cancer 2009;45:228-47 (R11). EORTC RECIST FAQ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from oligotrial.domain.record.patient import Finding, Lesion, Patient
from oligotrial.domain.response.recist.best_response import confirmed_response
from oligotrial.domain.response.recist.measurement import (
    DEFAULT_OPTIONS,
    ZERO,
    Date,
    RecistOptions,
    Selection,
    TimePoint,
    dec,
    gone,
    lesion_of,
    select_targets,
    split_baseline,
    target_response,
    target_size,
    timeline,
)
from oligotrial.errors import AssessmentError


@dataclass(frozen=True)
class NewLesion:
    id: str
    first_seen: Date
    counts_from: Date | None  # None: never confirmed as a new lesion
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


def classify_new_lesions(
    patient: Patient, base: TimePoint, follow: list[TimePoint], options: RecistOptions
) -> dict[str, NewLesion]:
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

        def visible(f: Finding, lesion: Lesion = lesion) -> bool:
            if f.state in ("absent", "not_evaluated", "complete_metabolic_response"):
                return False
            if lesion.is_node:  # a node is disease only when measured at >= the threshold
                return f.short_axis_mm is not None and dec(f.short_axis_mm) >= dec(options.new_node_min_sa_mm)
            return (
                (f.diameter_mm is not None and dec(f.diameter_mm) > ZERO)
                or bool(f.fragments_mm)
                or f.state in ("present", "too_small", "unequivocal_progression")
            )

        def pet_only(tp: TimePoint, f: Finding) -> bool:
            return (
                tp.pet
                and f.suv_max is not None
                and f.diameter_mm is None
                and f.short_axis_mm is None
                and f.state is None
            )

        if pet_only(first_tp, first):
            if base.pet:
                out[lid] = NewLesion(
                    lid, first_tp.date, first_tp.date, "new FDG-avid site with a baseline PET-CT (RECIST 1.1 s.4.3.4)"
                )
                continue
            later = [tp for tp, f in seq[1:] if visible(f) and not f.equivocal]
            out[lid] = NewLesion(
                lid,
                first_tp.date,
                first_tp.date if later else None,
                (
                    f"PET-only new site confirmed on CT {later[0].date.isoformat()}; PD dated to the "
                    "PET (RECIST 1.1 s.4.3.4)"
                )
                if later
                else "PET-only new site without baseline PET: awaiting CT confirmation (RECIST 1.1 s.4.3.4)",
            )
            continue
        if lesion.is_node:
            big = [tp for tp, f in seq if visible(f) and not f.equivocal]
            out[lid] = NewLesion(
                lid,
                first_tp.date,
                big[0].date if big else None,
                f"new node with SA >= {options.new_node_min_sa_mm:g} mm"
                if big
                else f"new node below {options.new_node_min_sa_mm:g} mm SA: not a new lesion (FAQ)",
            )
            continue
        if first.equivocal or not visible(first):
            later = [tp for tp, f in seq[1:] if visible(f) and not f.equivocal]
            if first.equivocal:
                out[lid] = NewLesion(
                    lid,
                    first_tp.date,
                    first_tp.date if later else None,
                    (
                        f"equivocal new lesion confirmed {later[0].date.isoformat()}; PD dated to the "
                        "first scan (RECIST 1.1 s.4.3.3)"
                    )
                    if later
                    else "equivocal new lesion, not (yet) confirmed (RECIST 1.1 s.4.3.3)",
                )
            else:
                out[lid] = NewLesion(
                    lid, first_tp.date, later[0].date if later else None, "new lesion first recorded as not visible"
                )
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
                    "seen at follow-up, or a baseline finding for it",
                    code="unknown_lesion",
                    field=f"assessments[{tp.date.isoformat()}].findings[{lid}]",
                )
            if f.merged_into is not None and f.merged_into not in tp.findings:
                raise AssessmentError(
                    f"{tp.date.isoformat()}: lesion {lid} merged_into {f.merged_into!r}: expected a lesion "
                    "measured at the same time point (RECIST 1.1 s.4.3.2, coalesced lesions)",
                    field="merged_into",
                )


def assess(patient: Patient, *, baseline: Date | None = None, options: RecistOptions = DEFAULT_OPTIONS) -> RecistResult:
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
        raise AssessmentError(
            f"patient {patient.id}: baseline {base.date.isoformat()} records no disease "
            "(no target or non-target lesion): RECIST 1.1 needs disease at baseline",
            field="assessments",
        )
    lesions = {lid: lesion_of(patient, lid, base.findings.get(lid)) for lid in (*sel.targets, *sel.non_targets)}
    base_sizes = {t: target_size(lesions[t], base.findings[t]) for t in sel.targets}
    base_sum = sum(base_sizes.values(), ZERO) if sel.targets else None  # type: ignore[type-var]  # targets are measured
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
                reasons.append("continued PR after a confirmed PR until PD (EORTC RECIST FAQ, definition of SD)")
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
                reasons.append(
                    "non-target PD: unequivocal progression of " + ", ".join(k for k, s in states.items() if s == "PD")
                )
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
            if prev.overall == "CR" and (
                options.reappearance_pd == "previous_cr" or _confirmed_cr_at(history, len(history) - 1, options)
            ):
                reapp_pd = True
                reasons.append(
                    f"reappearance of {', '.join(reappeared)} after CR at {prev.date.isoformat()}: PD "
                    "(EORTC RECIST FAQ)"
                )
            else:
                reasons.append(
                    f"reappearance of {', '.join(reappeared)}: added back, PD only by other criteria (EORTC RECIST FAQ)"
                )
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
            date=tp.date,
            target_sum_mm=total,
            partial_sum_mm=partial,
            change_from_baseline_pct=change_pct,
            change_from_nadir_mm=(total - nadir) if total is not None and nadir is not None else None,
            nadir_before_mm=nadir,
            target=t_resp,
            non_target=nt_resp,
            new_lesions=new_flag,
            new_lesion_ids=tuple(present_new),
            overall=overall,
            reasons=reasons,
            sizes=sizes,
            reappearance_pd=reapp_pd,
        )
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


def first_progression(result: RecistResult) -> Date | None:
    """Date of the first PD time point (R11 s.4.3; new lesions dated as in s.4.3.3)."""
    for tp in result.timepoints:
        if tp.overall == "PD":
            return tp.date
    return None
