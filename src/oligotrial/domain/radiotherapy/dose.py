"""Linear-quadratic (LQ) dose arithmetic: BED, EQD2, EQDx, the inverse, OTT, LQ-L and USC.

Every function takes physical quantities with their units in the name (``dose_gy`` is the total
physical dose of a course, ``fractions`` the number of equal fractions, ``alpha_beta_gy`` the
tissue's alpha/beta ratio) and validates them once: a zero or fractional number of fractions, a
negative dose or a non-positive alpha/beta raises :class:`~oligotrial.errors.DoseError` naming
the field, the value and what was expected.

LQ-L and USC are opt-in models for high doses per fraction; they are for display and
sensitivity analysis, never for a pass/fail decision (radiotherapy-dose.md §7 recommendation 3).
A constraint published for the same number of fractions needs no model at all: compare the
physical dose.

References
----------
.. [1] Fowler JF. The linear-quadratic formula and progress in fractionated radiotherapy.
   Br J Radiol 1989;62:679-694 (BED = nd(1 + d/(alpha/beta)); the OTT repopulation term).
.. [2] Withers HR, Thames HD, Peters LJ. A new isoeffect curve for change in dose per fraction.
   Radiother Oncol 1983;1:187-191 (EQD2).
.. [3] Astrahan M. Some implications of linear-quadratic-linear radiation dose-response with
   regard to hypofractionation. Med Phys 2008;35:4161-4172 (LQ-L).
.. [4] Park C, Papiez L, Zhang S, Story M, Timmerman RD. Universal survival curve and single
   fraction equivalent dose: useful tools in understanding potency of ablative radiotherapy.
   Int J Radiat Oncol Biol Phys 2008;70:847-852 (USC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from oligotrial.domain.kernel import finite_number
from oligotrial.errors import DoseError

LN2 = math.log(2.0)

#: Above this dose per fraction the LQ model is commonly considered uncertain (Brenner 2008
#: "reasonably well validated up to about 10 Gy per fraction"); conversions warn above 8 Gy
#: (radiotherapy-dose.md §7 recommendation 3).
HIGH_DOSE_PER_FRACTION_GY = 8.0


# ---- validation --------------------------------------------------------------------------------
def _finite(name: str, value: float) -> float:
    return finite_number(name, value, DoseError)


def check_dose_gy(value: float, name: str = "dose_gy", *, allow_zero: bool = True) -> float:
    """``value`` as a float dose in Gy, or :class:`DoseError` if negative (or zero when not allowed)."""
    v = _finite(name, value)
    if v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise DoseError(f"{name} {value!r} Gy: expected a dose {bound} Gy", field=name)
    return v


def check_fractions(value: float, name: str = "fractions") -> int:
    """``value`` as a positive whole number of fractions, or :class:`DoseError`."""
    if isinstance(value, bool):
        raise DoseError(f"{name} {value!r}: expected a whole number of fractions >= 1", field=name)
    v = _finite(name, value)
    if v < 1 or v != int(v):
        raise DoseError(f"{name} {value!r}: expected a whole number of fractions >= 1", field=name)
    return int(v)


def check_alpha_beta_gy(value: float, name: str = "alpha_beta_gy") -> float:
    """``value`` as a positive alpha/beta ratio in Gy, or :class:`DoseError`."""
    v = _finite(name, value)
    if v <= 0:
        raise DoseError(f"{name} {value!r} Gy: expected an alpha/beta ratio > 0 Gy", field=name)
    return v


@dataclass(frozen=True)
class Fractionation:
    """A course of ``fractions`` equal fractions totalling ``dose_gy`` (validated once)."""

    dose_gy: float
    fractions: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "dose_gy", check_dose_gy(self.dose_gy))
        object.__setattr__(self, "fractions", check_fractions(self.fractions))

    @property
    def dose_per_fraction_gy(self) -> float:
        return self.dose_gy / self.fractions


# ---- LQ ----------------------------------------------------------------------------------------
def bed_gy(dose_gy: float, fractions: int, alpha_beta_gy: float) -> float:
    """Biologically effective dose of ``fractions`` equal fractions totalling ``dose_gy``.

    ``BED = n d (1 + d / (alpha/beta))`` with ``d = dose_gy / fractions`` (Fowler 1989 [1]_).

    >>> round(bed_gy(8, 1, 10), 4)
    14.4
    """
    course = Fractionation(dose_gy, fractions)
    ab = check_alpha_beta_gy(alpha_beta_gy)
    d = course.dose_per_fraction_gy
    return course.dose_gy * (1.0 + d / ab)


def eqdx_gy(dose_gy: float, fractions: int, alpha_beta_gy: float, x_gy: float) -> float:
    """Equivalent total dose in ``x_gy`` fractions: ``EQDx = BED / (1 + x / (alpha/beta))``.

    Withers 1983 [2]_; with ``x_gy = 2`` this is EQD2, with ``x_gy = 0`` it is the BED.
    """
    x = check_dose_gy(x_gy, "x_gy")
    ab = check_alpha_beta_gy(alpha_beta_gy)
    return bed_gy(dose_gy, fractions, ab) / (1.0 + x / ab)


def eqd2_gy(dose_gy: float, fractions: int, alpha_beta_gy: float) -> float:
    """Equivalent dose in 2 Gy fractions, ``D (d + alpha/beta) / (2 + alpha/beta)`` [2]_.

    >>> round(eqd2_gy(60, 30, 10), 4)
    60.0
    """
    return eqdx_gy(dose_gy, fractions, alpha_beta_gy, 2.0)


def bed_to_eqd2_gy(bed: float, alpha_beta_gy: float) -> float:
    """Convert a BED (Gy) to EQD2 (Gy): ``EQD2 = BED / (1 + 2 / (alpha/beta))`` [2]_."""
    b = check_dose_gy(bed, "bed_gy")
    ab = check_alpha_beta_gy(alpha_beta_gy)
    return b / (1.0 + 2.0 / ab)


def eqd2_to_bed_gy(eqd2: float, alpha_beta_gy: float) -> float:
    """Convert an EQD2 (Gy) to BED (Gy), the inverse of :func:`bed_to_eqd2_gy`."""
    e = check_dose_gy(eqd2, "eqd2_gy")
    ab = check_alpha_beta_gy(alpha_beta_gy)
    return e * (1.0 + 2.0 / ab)


def dose_per_fraction_for_bed_gy(target_bed_gy: float, fractions: int, alpha_beta_gy: float) -> float:
    """Dose per fraction that reaches ``target_bed_gy`` in ``fractions`` fractions.

    Positive root of ``n d^2 / (alpha/beta) + n d - BED = 0``:
    ``d = [-(alpha/beta) + sqrt((alpha/beta)^2 + 4 (alpha/beta) BED / n)] / 2`` (Fowler 1989 [1]_).
    """
    b = check_dose_gy(target_bed_gy, "target_bed_gy")
    n = check_fractions(fractions)
    ab = check_alpha_beta_gy(alpha_beta_gy)
    return (-ab + math.sqrt(ab * ab + 4.0 * ab * b / n)) / 2.0


def dose_per_fraction_for_eqd2_gy(target_eqd2_gy: float, fractions: int, alpha_beta_gy: float) -> float:
    """Dose per fraction that reaches ``target_eqd2_gy`` in ``fractions`` fractions."""
    return dose_per_fraction_for_bed_gy(eqd2_to_bed_gy(target_eqd2_gy, alpha_beta_gy), fractions, alpha_beta_gy)


# ---- overall treatment time -----------------------------------------------------------------
def bed_with_repopulation_gy(
    dose_gy: float,
    fractions: int,
    alpha_beta_gy: float,
    *,
    overall_time_days: float,
    kickoff_days: float = 28.0,
    alpha_per_gy: float = 0.3,
    potential_doubling_days: float = 3.0,
) -> float:
    """Tumour BED corrected for repopulation during the overall treatment time (OTT).

    ``BED = n d (1 + d/(alpha/beta)) - ln2 * max(0, T - Tk) / (alpha * Tpot)`` (Fowler 1989 [1]_);
    the defaults (alpha 0.3 /Gy, Tpot 3 d, i.e. about 0.77 Gy/day; Tk 28 d) are the ones in
    radiotherapy-dose.md §1. Apply to tumour in conventional courses only, never to a
    late-responding organ at risk. The result is not floored at zero: a negative value means the
    repopulation term exceeds the dose, which the caller should treat as no effect.
    """
    t = check_dose_gy(overall_time_days, "overall_time_days")
    tk = check_dose_gy(kickoff_days, "kickoff_days")
    a = check_dose_gy(alpha_per_gy, "alpha_per_gy", allow_zero=False)
    tpot = check_dose_gy(potential_doubling_days, "potential_doubling_days", allow_zero=False)
    return bed_gy(dose_gy, fractions, alpha_beta_gy) - LN2 * max(0.0, t - tk) / (a * tpot)


def repopulation_dose_per_day_gy(alpha_per_gy: float = 0.3, potential_doubling_days: float = 3.0) -> float:
    """``Dprolif = ln2 / (alpha Tpot)``, the BED lost per day after kick-off (Fowler 1989 [1]_)."""
    a = check_dose_gy(alpha_per_gy, "alpha_per_gy", allow_zero=False)
    tpot = check_dose_gy(potential_doubling_days, "potential_doubling_days", allow_zero=False)
    return LN2 / (a * tpot)


# ---- high-dose-per-fraction models (opt-in) -------------------------------------------------
def bed_lql_gy(dose_gy: float, fractions: int, alpha_beta_gy: float, *, transition_dose_gy: float) -> float:
    """BED under the linear-quadratic-linear model (Astrahan 2008 [3]_).

    Below the transition dose ``D_T`` per fraction this is the LQ BED; above it the survival
    curve continues along the LQ tangent at ``D_T``:
    ``BED = n [D_T (1 + D_T/(alpha/beta)) + (1 + 2 D_T/(alpha/beta)) (d - D_T)]``.
    """
    course = Fractionation(dose_gy, fractions)
    ab = check_alpha_beta_gy(alpha_beta_gy)
    dt = check_dose_gy(transition_dose_gy, "transition_dose_gy", allow_zero=False)
    d, n = course.dose_per_fraction_gy, course.fractions
    if d <= dt:
        return bed_gy(dose_gy, fractions, ab)
    return n * (dt * (1.0 + dt / ab) + (1.0 + 2.0 * dt / ab) * (d - dt))


@dataclass(frozen=True)
class USCParameters:
    """Universal survival curve parameters (Park 2008 [4]_): alpha (1/Gy), D0 and Dq (Gy).

    The derived quantities make the LQ and multi-target curves meet with equal slope at the
    transition dose: ``D_T = 2 Dq / (1 - alpha D0)``, ``beta = (1 - alpha D0) / (2 D0 D_T)``.
    """

    alpha_per_gy: float
    d0_gy: float
    dq_gy: float

    def __post_init__(self) -> None:
        a = check_dose_gy(self.alpha_per_gy, "alpha_per_gy", allow_zero=False)
        d0 = check_dose_gy(self.d0_gy, "d0_gy", allow_zero=False)
        check_dose_gy(self.dq_gy, "dq_gy", allow_zero=False)
        if a * d0 >= 1.0:
            raise DoseError(
                f"alpha_per_gy * d0_gy = {a * d0:.4g}: expected < 1 for a USC transition dose",
                field="alpha_per_gy",
            )

    @property
    def transition_dose_gy(self) -> float:
        return 2.0 * self.dq_gy / (1.0 - self.alpha_per_gy * self.d0_gy)

    @property
    def beta_per_gy2(self) -> float:
        return (1.0 - self.alpha_per_gy * self.d0_gy) / (2.0 * self.d0_gy * self.transition_dose_gy)

    @property
    def alpha_beta_gy(self) -> float:
        return self.alpha_per_gy / self.beta_per_gy2


#: The NSCLC H460 fit quoted for Park 2008 (radiotherapy-dose.md §1, marked [M]: unverified).
USC_NSCLC_H460 = USCParameters(alpha_per_gy=0.33, d0_gy=1.25, dq_gy=1.8)


def bed_usc_gy(dose_gy: float, fractions: int, params: USCParameters = USC_NSCLC_H460) -> float:
    """BED under the universal survival curve (Park 2008 [4]_).

    For ``d >= D_T``: ``BED = n (d - Dq) / (alpha D0)``; below ``D_T``, the LQ BED with the
    alpha/beta implied by the parameters.
    """
    course = Fractionation(dose_gy, fractions)
    d, n = course.dose_per_fraction_gy, course.fractions
    if d < params.transition_dose_gy:
        return bed_gy(dose_gy, fractions, params.alpha_beta_gy)
    return n * (d - params.dq_gy) / (params.alpha_per_gy * params.d0_gy)


def high_dose_warning(dose_gy: float, fractions: int) -> str | None:
    """A warning when the dose per fraction exceeds :data:`HIGH_DOSE_PER_FRACTION_GY`."""
    d = Fractionation(dose_gy, fractions).dose_per_fraction_gy
    if d > HIGH_DOSE_PER_FRACTION_GY:
        return (
            f"dose per fraction {d:.4g} Gy exceeds {HIGH_DOSE_PER_FRACTION_GY:g} Gy: LQ conversions "
            "are uncertain here; consider LQ-L (Astrahan 2008) or USC (Park 2008) for sensitivity"
        )
    return None


# ---- alpha/beta as versioned data ---------------------------------------------------------------
@dataclass(frozen=True)
class AlphaBetaEntry:
    """One tissue's alpha/beta ratio with where it came from."""

    tissue: str
    alpha_beta_gy: float
    source: str
    verified: bool
    aliases: tuple[str, ...] = ()
    note: str | None = None

    def __post_init__(self) -> None:
        check_alpha_beta_gy(self.alpha_beta_gy, f"alpha_beta_gy[{self.tissue}]")


@dataclass(frozen=True)
class AlphaBetaTable:
    """A versioned table of alpha/beta ratios (``src/oligotrial/data/alpha_beta.yaml``)."""

    version: str
    entries: tuple[AlphaBetaEntry, ...]

    def lookup(self, tissue: str) -> AlphaBetaEntry:
        """The entry for ``tissue`` (its name or an alias, case-insensitive), or DoseError."""
        key = tissue.strip().lower()
        for entry in self.entries:
            if key == entry.tissue or key in entry.aliases:
                return entry
        known = ", ".join(sorted(e.tissue for e in self.entries))
        raise DoseError(
            f"tissue {tissue!r}: expected one of the alpha/beta table {self.version} ({known})",
            field="tissue",
        )

    def alpha_beta_gy(self, tissue: str) -> float:
        return self.lookup(tissue).alpha_beta_gy
