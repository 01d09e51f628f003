"""A seeded synthetic cohort for ``oligotrial demo``: candidate records made from a trial's own
example records, and each candidate's course after randomization.

The candidates start from the protocol's shipped examples (``<trial>_eligible.json`` and
``<trial>_ineligible.json``, whose verdicts are pinned by the screening tests) and are moved to
their own screening date (every date of the record shifted by the same number of days, so ages,
windows and therapy histories keep their meaning). Most candidates keep the eligible example's
facts with seeded variation; some are given one of the trial's realistic reasons to fail
(the ineligible example's findings, a worse performance status, a low neutrophil count, a missing
clinician attestation). Whether a candidate is eligible is never decided here: the real screener
judges every record against the protocol, and the report counts what it decided.

After randomization each participant's course is drawn from exponential distributions
(progression, progression on the next line, death, loss to follow-up) with a hazard ratio for the
experimental arm; the scans then show it: target lesions shrink after radiotherapy and stay
within RECIST's +20 % before progression, and a progression is a new lesion (several new lesions
for a polymetastatic one), which the protocol's own rules then detect. Nothing here is a clinical
claim: it is test data with known structure.

Pure: a function of the seed and the protocol's examples; no I/O beyond reading the packaged
examples.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: the shipped examples of each trial (oligotrial/examples/<name>_eligible.json)
EXAMPLE_NAME = {
    "NCT06523673": "oppress",
    "NCT07014202": "oligoresidual",
    "NCT05906329": "ldrt",
    "NCT06592612": "hcc",
    "NCT06918951": "stop2",
}
MONTH_DAYS = 30.4375


def example(trial: str, kind: str) -> dict[str, Any]:
    """The shipped example record of ``trial``: ``kind`` is ``eligible`` or ``ineligible``."""
    name = f"{EXAMPLE_NAME[trial]}_{kind}.json"
    return json.loads(resources.files("oligotrial.examples").joinpath(name).read_text(encoding="utf-8"))


def shift_dates(value: Any, days: int) -> Any:
    """``value`` with every ISO date string moved by ``days`` (keys are never dates)."""
    if isinstance(value, dict):
        return {k: shift_dates(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [shift_dates(v, days) for v in value]
    if isinstance(value, str) and _DATE.match(value):
        return (dt.date.fromisoformat(value) + dt.timedelta(days=days)).isoformat()
    return value


@dataclass(frozen=True)
class Candidate:
    """One person assessed for eligibility: the record as registered and what the demo makes
    them do if the screener finds them eligible."""

    record: dict[str, Any]
    screened_on: dt.date
    variation: str  # what was changed from the eligible example ("none" or a reason)
    declines: bool  # would decline consent if eligible


#: reasons a candidate may be given, with their weight (per cent of candidates)
VARIATIONS = (("ineligible_example", 8), ("ecog_3", 5), ("neutropenia", 3), ("missing_attestation", 3))


def _vary(rec: dict[str, Any], how: str) -> tuple[dict[str, Any], str]:
    """``rec`` with the variation ``how`` applied, and what was applied ("none" where the record
    has nothing to vary)."""
    if how == "ecog_3":
        rec["performance"] = [
            {**p, "score": 3} if p.get("scale") == "ECOG" else p for p in rec.get("performance") or []
        ]
    elif how == "neutropenia":
        rec["labs"] = [
            {**lab, "value": 0.8} if lab.get("test") == "neutrophils" else lab for lab in rec.get("labs") or []
        ]
        if not any(lab.get("test") == "neutrophils" for lab in rec.get("labs") or []):
            how = "none"
    elif how == "missing_attestation":
        if rec.get("attestations"):
            rec["attestations"] = rec["attestations"][1:]
        else:
            how = "none"
    return rec, how


def make_candidates(trial: str, n: int, seed: int, first_day: dt.date, accrual_days: int) -> list[Candidate]:
    """``n`` candidates of ``trial`` screened between ``first_day`` and ``first_day +
    accrual_days``, in date order; a pure function of its arguments."""
    rng = np.random.default_rng([seed, 1])
    eligible, ineligible = example(trial, "eligible"), example(trial, "ineligible")
    days = np.sort(rng.integers(0, accrual_days, size=n))
    weights = np.array([w for _, w in VARIATIONS] + [100 - sum(w for _, w in VARIATIONS)], dtype=float)
    names = [v for v, _ in VARIATIONS] + ["none"]
    out = []
    for i, day in enumerate(days):
        on = first_day + dt.timedelta(days=int(day))
        how = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        template = ineligible if how == "ineligible_example" else eligible
        rec = shift_dates(copy.deepcopy(template), (on - dt.date.fromisoformat(template["as_of"])).days)
        rec["id"] = f"C-{i + 1:05d}"
        if "birth_date" in rec:  # a different person: up to 9 years younger or older
            b = dt.date.fromisoformat(rec["birth_date"]) + dt.timedelta(days=int(rng.integers(-9 * 365, 9 * 365)))
            rec["birth_date"] = b.isoformat()
        if rec.get("sex") in ("female", "male") and rng.random() < 0.5:
            rec["sex"] = "male" if rec["sex"] == "female" else "female"
            if rec["sex"] == "male":
                rec.pop("reproductive", None)
        for perf in rec.get("performance") or ():
            if perf.get("scale") == "ECOG" and perf.get("score") in (0, 1):
                perf["score"] = int(rng.random() < 0.55)
        for lab in rec.get("labs") or ():
            lab["value"] = round(float(lab["value"]) * float(rng.uniform(0.95, 1.05)), 3)
        rec, how = _vary(rec, how)
        out.append(Candidate(rec, on, how, bool(rng.random() < 0.06)))
    return out


# ---- the course after randomization ---------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """Assumed event rates of a demo (months): not registry values."""

    pfs_median_control: float = 6.0
    os_median_control: float = 18.0
    hazard_ratio_pfs: float = 0.6
    hazard_ratio_os: float = 0.75
    pfs2_median: float = 5.0
    loss_per_year: float = 0.05
    withdrawal_per_year: float = 0.02
    polymetastatic_share: float = 0.3
    next_line_share: float = 0.7


@dataclass
class Course:
    """One participant's drawn course, in days from the origin (None: does not happen)."""

    progression: float
    progression2: float
    death: float
    lost: float | None
    withdrawn: float | None
    polymetastatic: bool
    next_line: bool
    skips_rt: bool


def draw_course(rng: np.random.Generator, experimental: bool, scenario: Scenario) -> Course:
    s = scenario
    hr_p = s.hazard_ratio_pfs if experimental else 1.0
    hr_o = s.hazard_ratio_os if experimental else 1.0
    prog = rng.exponential(s.pfs_median_control / np.log(2) / hr_p) * MONTH_DAYS
    death = rng.exponential(s.os_median_control / np.log(2) / hr_o) * MONTH_DAYS
    prog2 = prog + rng.exponential(s.pfs2_median / np.log(2)) * MONTH_DAYS
    lost = rng.exponential(365.25 / s.loss_per_year) if s.loss_per_year > 0 else None
    withdrawn = rng.exponential(365.25 / s.withdrawal_per_year) if s.withdrawal_per_year > 0 else None
    return Course(
        progression=float(max(prog, 20.0)),
        progression2=float(max(prog2, prog + 20.0)),
        death=float(max(death, 10.0)),
        lost=None if lost is None else float(lost),
        withdrawn=None if withdrawn is None else float(withdrawn),
        polymetastatic=bool(rng.random() < s.polymetastatic_share),
        next_line=bool(rng.random() < s.next_line_share),
        skips_rt=bool(rng.random() < 0.02),
    )


def lesion_size(baseline_mm: float, day: float, course: Course, shrink: float) -> float:
    """A measured lesion's diameter on ``day``: a treated lesion shrinks by up to ``shrink`` (a
    fraction) over three months; an untreated one (``shrink`` 0) grows slowly, staying under
    RECIST's +20 % (progression in this demo is a new lesion, so that every trial's rule sees the
    same event)."""
    if shrink > 0:
        f = 1.0 - shrink * min(1.0, day / 90.0)
    else:
        f = 1.0 + 0.12 * min(1.0, day / max(course.progression, 1.0))
    return round(max(3.0, baseline_mm * f), 1)


#: CTCAE v5.0 terms a demo draws adverse events from, by trial (typical after SBRT of the sites)
AE_TERMS = {
    "default": (
        "Fatigue",
        "Nausea",
        "Pneumonitis",
        "Dermatitis radiation",
        "Esophagitis",
        "Anorexia",
        "Cough",
        "Dyspnea",
        "Back pain",
        "Diarrhea",
    ),
    "NCT06592612": (
        "Fatigue",
        "Nausea",
        "Abdominal pain",
        "Anorexia",
        "Alanine aminotransferase increased",
        "Diarrhea",
        "Vomiting",
        "Back pain",
    ),
}
GRADES = (1, 2, 3, 4)
GRADE_P = (0.55, 0.3, 0.12, 0.03)


def qol_answers(rng: np.random.Generator, health: float) -> tuple[dict[str, int], dict[str, int]]:
    """EQ-5D-5L and QLQ-C30 answers for a latent ``health`` in [0, 1] (1 = no problems)."""

    def level(lo: int, hi: int, good_high: bool = False) -> int:
        x = float(np.clip(health + rng.normal(0, 0.15), 0, 1))
        v = lo + round((hi - lo) * (x if good_high else 1 - x))
        return int(min(hi, max(lo, v)))

    eq = {
        d: level(1, 5) for d in ("mobility", "self_care", "usual_activities", "pain_discomfort", "anxiety_depression")
    }
    eq["vas"] = level(0, 100, good_high=True)
    c30 = {f"q{i}": level(1, 4) for i in range(1, 29)} | {"q29": level(1, 7, True), "q30": level(1, 7, True)}
    return eq, c30
