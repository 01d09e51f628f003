"""iRECIST response from lesion measurements (Seymour L et al., Lancet Oncol 2017;18:e143-52).
Pure logic, no I/O.

Built on :mod:`oligotrial.domain.response.recist`: baseline, targets and measurements follow RECIST 1.1
(iRECIST s."Baseline"). On top of them:

- the first RECIST 1.1 progression in any category gives **iUPD** (Seymour Table 2);
- new lesions are split into NLT (measurable, at most 5, 2 per organ; or the reader's
  ``target: true``) and NLNT, with their own sum, never added to the target sum;
- the next assessment at least ``confirm_min_days`` (4 weeks) after iUPD confirms **iCPD** when,
  against the first iUPD of the block (increases add up across consecutive iUPD, EORTC iRECIST
  FAQ): the target sum rose >= 5 mm; the NLT sum rose >= 5 mm; any NLNT grew; new lesions
  appeared; or RECIST 1.1 progression is newly met in another category;
- otherwise the response stays iUPD (Seymour Table 2: "if no change is seen in new lesions ...
  assignment remains iUPD"), or resets to iCR/iPR/iSD/NON-iCR/NON-iUPD when the original disease
  no longer progresses and, by option, the disease decreased although new lesions persist
  (the FAQ accepts both);
- iCR requires that every lesion, new ones included, has gone; iBOR ranks
  iCR > iPR > iSD > NON-iCR/NON-iUPD > iUPD > iCPD up to the first iCPD, never NE;
- the iPFS date is the first iUPD of the block that ends in iCPD.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from oligotrial.domain.record.patient import Finding, Patient
from oligotrial.domain.response import recist as r11
from oligotrial.domain.response.recist.measurement import DEFAULT_OPTIONS as RECIST_DEFAULTS
from oligotrial.errors import AssessmentError

Date = dt.date
I_RESPONSES = ("iCR", "iPR", "iSD", "NON-iCR/NON-iUPD", "iUPD", "iCPD", "NE")
_TO_I = {"CR": "iCR", "PR": "iPR", "SD": "iSD", "NON-CR/NON-PD": "NON-iCR/NON-iUPD", "NE": "NE"}


@dataclass(frozen=True)
class IrecistOptions:
    """iRECIST options (frozen; defaults documented).

    Attributes
    ----------
    confirm_min_days : int
        Scans earlier than this after iUPD are ignored for iCPD (Seymour 2017: confirmation
        "4-8 weeks" later; EORTC FAQ). Default 28; exactly 28 days counts.
    confirm_max_days : int
        Confirmation expected by then (8 weeks); a later scan still confirms, with a note.
        Default 56.
    stable_new_lesions : "remain_iupd" or "reset"
        After iUPD, when the original disease no longer meets progression but new lesions
        persist unchanged: "remain_iupd" (default; Seymour Table 2) or "reset" to
        iSD/iPR when the disease decreased (allowed by the EORTC iRECIST FAQ; RECIST-tracker's
        choice).
    early_new_lesion_confirms : bool
        A scan before ``confirm_min_days`` confirms iCPD only if it shows an additional new
        lesion (EORTC iRECIST FAQ; done for new symptoms). Default True.
    recist : RecistOptions
        The RECIST 1.1 options underneath (SD window, reappearance rule, ...).
    """

    confirm_min_days: int = 28
    confirm_max_days: int = 56
    stable_new_lesions: Literal["remain_iupd", "reset"] = "remain_iupd"
    early_new_lesion_confirms: bool = True
    recist: r11.RecistOptions = RECIST_DEFAULTS

    def __post_init__(self) -> None:
        if not 0 <= self.confirm_min_days <= self.confirm_max_days:
            raise AssessmentError(
                f"iRECIST confirmation window {self.confirm_min_days}-{self.confirm_max_days} days: "
                "expected 0 <= min <= max",
                field="confirm_min_days",
            )
        if self.stable_new_lesions not in ("remain_iupd", "reset"):
            raise AssessmentError(
                f"option stable_new_lesions={self.stable_new_lesions!r}: expected remain_iupd or reset",
                field="stable_new_lesions",
            )


@dataclass
class ITimePoint:
    date: Date
    target_sum_mm: Decimal | None
    nlt_sum_mm: Decimal | None
    change_from_baseline_pct: float | None
    change_from_nadir_mm: Decimal | None
    target: str | None
    non_target: str | None
    new_lesions: bool
    overall: str
    ignored_for_confirmation: bool = False
    reasons: list[str] = field(default_factory=list)


@dataclass
class IrecistResult:
    patient: str
    baseline: Date
    baseline_sum_mm: Decimal | None
    targets: tuple[str, ...]
    non_targets: tuple[str, ...]
    nlt: tuple[str, ...]
    nlnt: tuple[str, ...]
    timepoints: list[ITimePoint]
    first_progression: Date | None
    notes: list[str]

    def responses(self) -> list[tuple[Date, str]]:
        return [(tp.date, tp.overall) for tp in self.timepoints]


def _split_new(
    patient: Patient, new: dict[str, r11.NewLesion], first_findings: dict[str, Finding]
) -> tuple[list[str], list[str]]:
    """NLT / NLNT (Seymour 2017, "New lesions"): measurable by RECIST 1.1, at most 5 and 2 per
    organ, in order of appearance; the reader's ``target`` flag on the new lesion wins."""
    nlt: list[str] = []
    nlnt: list[str] = []
    per_organ: dict[str, int] = {}
    for nl in sorted((n for n in new.values() if n.counts_from is not None), key=lambda n: (n.counts_from, n.id)):
        f = first_findings[nl.id]
        lesion = r11.lesion_of(patient, nl.id, f)
        organ = r11.organ_key(lesion)
        if f.target is not None:
            wanted = f.target
        else:
            wanted = r11.measurable(lesion, f)[0] and len(nlt) < 5 and per_organ.get(organ, 0) < 2
        if wanted:
            nlt.append(nl.id)
            per_organ[organ] = per_organ.get(organ, 0) + 1
        else:
            nlnt.append(nl.id)
    return nlt, nlnt


def assess(
    patient: Patient, *, baseline: Date | None = None, options: IrecistOptions = IrecistOptions()
) -> IrecistResult:
    """Evaluate every follow-up time point by iRECIST (see the module docstring for the rules)."""
    rec = r11.assess(patient, baseline=baseline, options=options.recist)
    points = r11.timeline(patient)
    _, follow, _ = r11.split_baseline(patient, points, baseline)
    by_date = {tp.date: tp for tp in follow}
    first_findings: dict[str, Finding] = {}
    for tp in follow:
        for lid, f in tp.findings.items():
            first_findings.setdefault(lid, f)
    nlt, nlnt = _split_new(patient, rec.new_lesions, first_findings)
    lesions = {lid: r11.lesion_of(patient, lid, first_findings.get(lid)) for lid in (*rec.targets, *nlt, *nlnt)}
    for lid in rec.targets:
        lesions[lid] = r11.lesion_of(patient, lid)
    notes = list(rec.notes)
    if nlt or nlnt:
        notes.append(f"new lesions: NLT {', '.join(nlt) or '-'}; NLNT {', '.join(nlnt) or '-'} (iRECIST)")

    nadir = rec.baseline_sum_mm
    nlt_nadir: Decimal | None = None
    in_block = confirmed = False
    block_first: Date | None = None
    last_iupd: Date | None = None
    ref: dict = {}
    ipfs: Date | None = None
    out: list[ITimePoint] = []

    for rt in rec.timepoints:
        tp = by_date[rt.date]
        reasons: list[str] = []
        t_resp, total = None, None
        if rec.targets:
            assert nadir is not None and rec.baseline_sum_mm is not None
            t_resp, total, _, why = r11.target_response(rt.sizes, lesions, nadir, rec.baseline_sum_mm)
            reasons.extend(why)
        nt_resp = rt.non_target
        counted = {lid: n.counts_from for lid, n in rec.new_lesions.items() if n.counts_from is not None}
        fresh = [lid for lid, day in counted.items() if day == rt.date]
        seen_new = [lid for lid, day in counted.items() if day <= rt.date]
        nlt_sizes = {lid: r11.target_size(lesions[lid], tp.findings.get(lid)) for lid in nlt if counted[lid] <= rt.date}
        measured = [v for v in nlt_sizes.values() if v is not None]
        nlt_sum = sum(measured, Decimal(0)) if len(measured) == len(nlt_sizes) else None
        nlnt_grew = [
            lid for lid in nlnt if lid in seen_new and _grew(tp.findings.get(lid), ref.get("nlnt", {}).get(lid))
        ]
        new_present = [lid for lid in seen_new if r11.gone(lesions[lid], tp.findings.get(lid), target=True) is not True]
        base_resp = _table1(t_resp, nt_resp, bool(rec.targets))
        ignored = False
        if confirmed:
            overall = "iCPD"
        elif not in_block:
            triggers = []
            if t_resp == "PD":
                triggers.append("target")
            if nt_resp == "PD":
                triggers.append("non-target")
            if fresh:
                triggers.append("new lesion(s) " + ", ".join(fresh))
            if rt.reappearance_pd:
                triggers.append("reappearance after CR")
            if nlt_nadir is not None and nlt_sum is not None and r11.is_pd(nlt_sum, nlt_nadir):
                triggers.append(f"NLT sum {nlt_sum} mm >= 20 % and 5 mm over its nadir {nlt_nadir} mm")
            if ref.get("after_reset") and nlnt_grew:
                triggers.append("NLNT growth " + ", ".join(nlnt_grew))
            if triggers:
                overall = "iUPD"
                in_block, block_first, last_iupd = True, rt.date, rt.date
                ref = {
                    "target": total,
                    "nlt": nlt_sum if nlt_sum is not None else Decimal(0),
                    "known_new": set(seen_new),
                    "triggers": triggers,
                    "nlnt": {lid: tp.findings.get(lid) for lid in nlnt},
                    "nt": {lid: tp.findings.get(lid) for lid in rec.non_targets},
                }
                reasons.append("iUPD: RECIST 1.1 progression by " + "; ".join(triggers))
            else:
                overall = base_resp
                if overall == "iCR" and new_present:
                    overall = "iPR"
                    reasons.append("not iCR: new lesion(s) persist (iRECIST: iCR needs all lesions gone)")
        else:
            assert last_iupd is not None and block_first is not None
            days = (rt.date - last_iupd).days
            if days < options.confirm_min_days:
                if options.early_new_lesion_confirms and fresh:
                    overall, confirmed, ipfs = "iCPD", True, block_first
                    reasons.append(f"iCPD: additional new lesion(s) {', '.join(fresh)} {days} d after iUPD")
                else:
                    overall, ignored = "iUPD", True
                    reasons.append(
                        f"{days} d after iUPD (< {options.confirm_min_days} d): not used for "
                        "confirmation (EORTC iRECIST FAQ)"
                    )
            elif (rec.targets and total is None) or (nlt_sizes and nlt_sum is None) or nt_resp == "NE":
                overall = "NE"
                reasons.append("NE: a target, non-target or new lesion target not assessed")
            else:
                if days > options.confirm_max_days:
                    reasons.append(f"confirmation {days} d after iUPD (> {options.confirm_max_days} d)")
                grow = []
                if total is not None and ref["target"] is not None and total - ref["target"] >= r11.FIVE:
                    grow.append(f"target sum +{total - ref['target']} mm since iUPD {block_first.isoformat()}")
                if nlt_sum is not None and nlt_sum - ref["nlt"] >= r11.FIVE:
                    grow.append(f"NLT sum +{nlt_sum - ref['nlt']} mm")
                if nlnt_grew:
                    grow.append("NLNT growth " + ", ".join(nlnt_grew))
                extra = [lid for lid in seen_new if lid not in ref["known_new"]]
                if extra:
                    grow.append("additional new lesion(s) " + ", ".join(extra))
                if "target" not in ref["triggers"] and t_resp == "PD":
                    grow.append("RECIST 1.1 target progression newly met")
                if nt_resp == "PD" and "non-target" not in ref["triggers"]:
                    grow.append("RECIST 1.1 non-target progression newly met")
                if "non-target" in ref["triggers"]:
                    nt_grew = [
                        lid
                        for lid in rec.non_targets
                        if _grew(tp.findings.get(lid), ref["nt"].get(lid), state_counts=False)
                    ]
                    if nt_grew:
                        grow.append("further non-target increase " + ", ".join(nt_grew))
                if grow:
                    overall, confirmed, ipfs = "iCPD", True, block_first
                    reasons.append("iCPD: " + "; ".join(grow))
                else:
                    still = t_resp == "PD" or nt_resp == "PD"
                    decreased = (
                        (total is not None and ref["target"] is not None and total < ref["target"])
                        or (nlt_sum is not None and nlt_sum < ref["nlt"])
                        or len(new_present) < len([x for x in ref["known_new"]])
                    )
                    if still or (new_present and (options.stable_new_lesions == "remain_iupd" or not decreased)):
                        overall, last_iupd = "iUPD", rt.date
                        reasons.append("remains iUPD: no further increase (Seymour 2017 Table 2)")
                    else:
                        overall = base_resp
                        if overall == "iCR" and new_present:
                            overall = "iPR"
                        in_block = False
                        nlt_nadir = nlt_sum
                        ref = {"after_reset": True, "nlnt": {lid: tp.findings.get(lid) for lid in nlnt}}
                        reasons.append(f"iUPD not confirmed: reset to {overall}")
        if ref.get("after_reset") and nlt_sum is not None and not in_block:
            nlt_nadir = nlt_sum if nlt_nadir is None else min(nlt_nadir, nlt_sum)
        if overall != "NE" and total is not None and nadir is not None:
            nadir = min(nadir, total)
        out.append(
            ITimePoint(
                rt.date,
                total,
                nlt_sum if nlt_sizes else None,
                rt.change_from_baseline_pct,
                rt.change_from_nadir_mm,
                t_resp,
                nt_resp,
                bool(new_present),
                overall,
                ignored,
                reasons,
            )
        )
    return IrecistResult(
        patient.id,
        rec.baseline,
        rec.baseline_sum_mm,
        rec.targets,
        rec.non_targets,
        tuple(nlt),
        tuple(nlnt),
        out,
        ipfs,
        notes,
    )


def _grew(now: Finding | None, then: Finding | None, *, state_counts: bool = True) -> bool:
    """Any increase of a non-measured lesion: the reader's unequivocal progression, or a larger
    recorded size than at the reference (iRECIST: "any increase" of NLNT / non-target)."""
    if now is None:
        return False
    if state_counts and now.state == "unequivocal_progression":
        return True
    if then is None:
        return False
    a, b = now.size_mm, then.size_mm
    return a is not None and b is not None and r11.dec(a) > r11.dec(b)


def _table1(t: str | None, nt: str | None, has_targets: bool) -> str:
    """RECIST 1.1 Tables 1-2 without new lesions, in iRECIST names."""
    if has_targets:
        if t == "CR":
            return "iCR" if nt in (None, "CR") else "iPR"
        if t in ("PR", "SD"):
            return _TO_I[t]
        return "NE"
    return _TO_I.get(nt or "NE", "NE")


_I_RANK = {"iCR": 6, "iPR": 5, "iSD": 4, "NON-iCR/NON-iUPD": 3, "iUPD": 2, "iCPD": 1}


def best_overall_response(
    responses: Iterable[tuple[Date, str]],
    *,
    start: Date | None,
    confirm: bool = False,
    options: IrecistOptions = IrecistOptions(),
) -> r11.BestResponse:
    """iBOR (Seymour 2017, "Best overall response"): iCR > iPR > iSD > NON-iCR/NON-iUPD > iUPD >
    iCPD, using time points up to the first iCPD; NE is never the best response. iSD and
    NON-iCR/NON-iUPD need the SD minimum. With ``confirm`` iCR/iPR need RECIST 1.1 confirmation
    (an iUPD in between breaks it)."""
    seq = []
    for d, r in sorted(responses):
        if r not in I_RESPONSES:
            raise AssessmentError(
                f"iRECIST response {r!r} on {d}: expected one of {', '.join(I_RESPONSES)}", field="response"
            )
        if start is not None and d < start:
            continue
        seq.append((d, r))
        if r == "iCPD":
            break
    if confirm:
        mapped = [
            (
                d,
                {
                    "iCR": "CR",
                    "iPR": "PR",
                    "iSD": "SD",
                    "NON-iCR/NON-iUPD": "NON-CR/NON-PD",
                    "iUPD": "PD",
                    "iCPD": "PD",
                    "NE": "NE",
                }[r],
            )
            for d, r in seq
        ]
        opts = r11.RecistOptions(**{**options.recist.__dict__, "truncate_at_pd": False})
        got = r11.best_overall_response(mapped, start=start, confirm=True, options=opts)
        if got.response in ("CR", "PR", "SD", "NON-CR/NON-PD"):
            return r11.BestResponse(_TO_I[got.response], got.date, got.confirmed, got.reason)
    best: tuple[str, Date] | None = None
    for d, r in seq:
        if r == "NE":
            continue
        eff = r
        if r in ("iSD", "NON-iCR/NON-iUPD") and start is not None and (d - start).days < options.recist.sd_min_days:
            continue
        if confirm and r in ("iCR", "iPR"):
            continue
        if best is None or _I_RANK[eff] > _I_RANK[best[0]]:
            best = (eff, d)
    if best is None:
        return r11.BestResponse(
            "NE" if seq else None,
            seq[0][0] if seq else None,
            False,
            "no response other than NE" if seq else "no time point",
        )
    return r11.BestResponse(best[0], best[1], False, "best iRECIST time-point response")


def ipfs_date(responses: Sequence[tuple[Date, str]]) -> Date | None:
    """The iPFS event date: the first iUPD of the block that ends in iCPD (iRECIST; admiralonco
    irecist vignette). A block is a run of iUPD (NE and ignored scans inside it do not break it)
    ended by iCPD; a reset to iSD/iPR/iCR/NON-iCR/NON-iUPD starts afresh."""
    block: Date | None = None
    for d, r in sorted(responses):
        if r == "iUPD":
            block = block or d
        elif r == "iCPD":
            return block or d
        elif r != "NE":
            block = None
    return None
