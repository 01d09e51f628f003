"""Clinical scores computed from their parts, each citing its source.

Where a part is missing the score is not guessed: functions return the *set* of values the
score could take, so a rule can still decide when every possible value gives the same verdict
(e.g. Child-Pugh <= 7 is decided "no" by parts already summing to 8).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

CREATININE_UMOL_PER_MG_DL = 88.42
BILIRUBIN_UMOL_PER_MG_DL = 17.104


def age_on(birth_date: dt.date, on: dt.date) -> int:
    """Completed years of age on ``on`` (a birthday counts on the day itself).

    A person born on 29 February reaches a new year of age on 1 March in common years
    (the usual legal convention, e.g. UK Family Law Reform Act 1969 s.9 reading).
    """
    years = on.year - birth_date.year
    if (on.month, on.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def cockcroft_gault_ml_min(*, age_years: int, weight_kg: float, creatinine_umol_l: float, sex: str) -> float:
    """Creatinine clearance by Cockcroft-Gault, in mL/min, with actual body weight.

    CrCl = (140 - age) x weight[kg] / (72 x Scr[mg/dL]), x 0.85 for women.

    References
    ----------
    Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum creatinine.
    Nephron 1976;16:31-41.
    """
    if sex not in ("female", "male"):
        raise ValueError(f"sex {sex!r}: Cockcroft-Gault needs 'female' or 'male'")
    if creatinine_umol_l <= 0:
        raise ValueError(f"creatinine {creatinine_umol_l} umol/L: expected > 0")
    scr_mg_dl = creatinine_umol_l / CREATININE_UMOL_PER_MG_DL
    crcl = (140 - age_years) * weight_kg / (72.0 * scr_mg_dl)
    return crcl * 0.85 if sex == "female" else crcl


# ---- Child-Pugh ---------------------------------------------------------------------------


def _bilirubin_points(umol_l: float) -> int:
    mg_dl = umol_l / BILIRUBIN_UMOL_PER_MG_DL
    return 1 if mg_dl < 2.0 else (2 if mg_dl <= 3.0 else 3)


def _albumin_points(g_l: float) -> int:
    g_dl = g_l / 10.0
    return 1 if g_dl > 3.5 else (2 if g_dl >= 2.8 else 3)


def _inr_points(inr: float) -> int:
    return 1 if inr < 1.7 else (2 if inr <= 2.3 else 3)


_ASCITES = {"none": 1, "mild": 2, "moderate_severe": 3}
_ENCEPHALOPATHY = {"none": 1, "grade_1_2": 2, "grade_3_4": 3}


@dataclass(frozen=True)
class ChildPugh:
    """A Child-Pugh score, possibly only partly known.

    ``points`` maps each part to its points (None where the part is missing);
    ``possible`` is the set of totals the score can take given the missing parts.
    """

    points: dict[str, int | None]
    possible: frozenset[int]

    @property
    def known(self) -> bool:
        return len(self.possible) == 1

    @property
    def score(self) -> int | None:
        return next(iter(self.possible)) if self.known else None

    @property
    def missing(self) -> list[str]:
        return [k for k, v in self.points.items() if v is None]

    @staticmethod
    def class_of(score: int) -> str:
        """Class A (5-6), B (7-9), C (10-15)."""
        return "A" if score <= 6 else ("B" if score <= 9 else "C")


def child_pugh(
    *,
    bilirubin_umol_l: float | None,
    albumin_g_l: float | None,
    inr: float | None,
    ascites: str | None,
    encephalopathy: str | None,
) -> ChildPugh:
    """Child-Pugh score from its five parts; each missing part may score 1, 2 or 3.

    Bilirubin <2 / 2-3 / >3 mg/dL; albumin >3.5 / 2.8-3.5 / <2.8 g/dL; INR <1.7 / 1.7-2.3 / >2.3;
    ascites none / mild / moderate-severe; encephalopathy none / grade 1-2 / grade 3-4.

    References
    ----------
    Pugh RNH et al. Transection of the oesophagus for bleeding oesophageal varices.
    Br J Surg 1973;60:646-9 (with INR replacing prothrombin time, as in current practice).
    """
    points: dict[str, int | None] = {
        "total_bilirubin": None if bilirubin_umol_l is None else _bilirubin_points(bilirubin_umol_l),
        "albumin": None if albumin_g_l is None else _albumin_points(albumin_g_l),
        "inr": None if inr is None else _inr_points(inr),
        "ascites": None if ascites is None else _ASCITES[ascites],
        "encephalopathy": None if encephalopathy is None else _ENCEPHALOPATHY[encephalopathy],
    }
    known = sum(v for v in points.values() if v is not None)
    n_missing = sum(1 for v in points.values() if v is None)
    possible = frozenset(range(known + n_missing, known + 3 * n_missing + 1))
    return ChildPugh(points=points, possible=possible)


# ---- performance status ---------------------------------------------------------------------

#: ECOG grade -> the Karnofsky scores it corresponds to (Oken MM et al., Am J Clin Oncol
#: 1982;5:649-55; the conventional correspondence, e.g. Buccheri G et al., Eur J Cancer
#: 1996;32A:1135-41).
ECOG_TO_KPS: dict[int, frozenset[int]] = {
    0: frozenset({90, 100}),
    1: frozenset({70, 80}),
    2: frozenset({50, 60}),
    3: frozenset({30, 40}),
    4: frozenset({10, 20}),
    5: frozenset({0}),
}


def kps_to_ecog(kps: int) -> int:
    """The ECOG grade a Karnofsky score corresponds to (inverse of :data:`ECOG_TO_KPS`)."""
    for ecog, kps_values in ECOG_TO_KPS.items():
        if kps in kps_values:
            return ecog
    raise ValueError(f"KPS {kps}: expected a multiple of 10 from 0 to 100")


def possible_scores(scale: str, score: int, wanted: str) -> frozenset[int]:
    """The scores on scale ``wanted`` that a ``score`` on ``scale`` may correspond to."""
    if scale == wanted:
        return frozenset({score})
    if scale == "ECOG" and wanted == "KPS":
        return ECOG_TO_KPS[score]
    if scale == "KPS" and wanted == "ECOG":
        return frozenset({kps_to_ecog(score)})
    raise ValueError(f"scale {scale!r} -> {wanted!r}: expected ECOG or KPS")
