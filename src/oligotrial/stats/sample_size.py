"""Sample size and power for a fixed-design two-arm time-to-event comparison.

The numbers reproduce rpact's ``getSampleSizeSurvival`` / ``getPowerSurvival`` for a design
with one analysis (``kMax = 1``):

* the required number of events from Schoenfeld's or Freedman's formula;
* the number of subjects from the probability that a subject has an event by the analysis,
  with uniform accrual over ``accrual_months``, a further ``follow_up_months`` of follow-up,
  exponential event times (control median and hazard ratio) and exponential dropout given
  as the probability of dropping out by ``dropout_time_months`` (rpact's ``dropoutRate1``,
  ``dropoutRate2`` and ``dropoutTime``).

Conventions (the same as rpact's):

* ``allocation_ratio`` is experimental : control (rpact ``allocationRatioPlanned``);
* ``alpha`` is the total type I error; with ``sided=2`` the critical value is
  ``z_{1-alpha/2}`` and, as in rpact and in the usual textbook formula, only the tail in the
  direction of the effect counts towards power;
* arm 1 is experimental (hazard ``hazard_ratio * lambda_control``), arm 2 is control.

References
----------
.. [1] Schoenfeld, D. A. (1983). Sample-size formula for the proportional-hazards regression
   model. Biometrics 39, 499-503. (Schoenfeld, D. (1981). The asymptotic properties of
   nonparametric tests for comparing survival distributions. Biometrika 68, 316-319.)
.. [2] Freedman, L. S. (1982). Tables of the number of patients required in clinical trials
   using the logrank test. Statistics in Medicine 1, 121-129.
.. [3] Lachin, J. M. & Foulkes, M. A. (1986). Evaluation of sample size and power for analyses
   of survival with allowance for nonuniform patient entry, losses to follow-up,
   noncompliance, and stratification. Biometrics 42, 507-519. (Probability of an event under
   uniform entry and exponential loss, their eq. for ``P(D)``.)
.. [4] Wassmer, G. & Brannath, W. (2016). Group Sequential and Confirmatory Adaptive Designs in
   Clinical Trials. Springer. (The rpact reference.)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np

from oligotrial.domain.kernel import finite_number
from oligotrial.errors import DesignError

__all__ = [
    "SurvivalDesign",
    "SurvivalSampleSize",
    "detectable_hazard_ratio",
    "event_probability",
    "power_survival",
    "required_events",
    "sample_size_survival",
]

Method = Literal["schoenfeld", "freedman"]
_METHODS = ("schoenfeld", "freedman")


def _check_finite(field: str, value: float) -> float:
    return finite_number(field, value, DesignError)


def _check_open_unit(field: str, value: float) -> float:
    value = _check_finite(field, value)
    if not 0.0 < value < 1.0:
        raise DesignError(f"{field} {value}: expected a probability strictly between 0 and 1", field=field)
    return value


def _check_positive(field: str, value: float, what: str = "a number > 0") -> float:
    value = _check_finite(field, value)
    if value <= 0.0:
        raise DesignError(f"{field} {value}: expected {what}", field=field)
    return value


def _check_sided(sided: int) -> int:
    if sided not in (1, 2):
        raise DesignError(f"sided {sided!r}: expected 1 or 2", field="sided")
    return int(sided)


def _check_alpha_power(alpha: float, power: float) -> tuple[float, float]:
    alpha = _check_open_unit("alpha", alpha)
    power = _check_open_unit("power", power)
    if power <= alpha:
        raise DesignError(f"power {power}: expected a power greater than alpha ({alpha})", field="power")
    return alpha, power


def _check_dropout(field: str, value: float) -> float:
    value = _check_finite(field, value)
    if not 0.0 <= value < 1.0:
        raise DesignError(f"{field} {value}: expected a probability in [0, 1)", field=field)
    return value


@dataclass(frozen=True)
class SurvivalDesign:
    """A validated fixed design for a two-arm log-rank comparison.

    Inputs are normalised and checked once, here; every invalid value raises
    :class:`~oligotrial.errors.DesignError` naming the field, the value and what was expected.

    Parameters
    ----------
    hazard_ratio : float
        Experimental : control hazard ratio under the alternative (> 0, != 1).
    alpha : float
        Total type I error (one-sided if ``sided == 1``, two-sided if ``sided == 2``).
    power : float
        1 - beta, > alpha.
    sided : {1, 2}
    median_control_months : float
        Median event time in the control arm (exponential).
    accrual_months : float
        Length of uniform accrual (> 0).
    follow_up_months : float
        Follow-up after the last subject is enrolled (>= 0).
    dropout_rate_experimental, dropout_rate_control : float
        Probability of dropping out by ``dropout_time_months`` (exponential dropout).
    dropout_time_months : float
        The time at which the dropout probabilities apply.
    allocation_ratio : float
        Experimental : control allocation (rpact ``allocationRatioPlanned``).
    method : {"schoenfeld", "freedman"}
    """

    hazard_ratio: float
    alpha: float = 0.025
    power: float = 0.8
    sided: int = 1
    median_control_months: float = 6.0
    accrual_months: float = 24.0
    follow_up_months: float = 12.0
    dropout_rate_experimental: float = 0.0
    dropout_rate_control: float = 0.0
    dropout_time_months: float = 12.0
    allocation_ratio: float = 1.0
    method: Method = "schoenfeld"

    def __post_init__(self) -> None:
        hr = _check_positive("hazard_ratio", self.hazard_ratio, "a hazard ratio > 0")
        if hr == 1.0:
            raise DesignError(
                "hazard_ratio 1.0: expected a hazard ratio != 1 (no effect cannot be powered)", field="hazard_ratio"
            )
        alpha, power = _check_alpha_power(self.alpha, self.power)
        sided = _check_sided(self.sided)
        median = _check_positive("median_control_months", self.median_control_months, "a median > 0 months")
        accrual = _check_positive("accrual_months", self.accrual_months, "an accrual period > 0 months")
        follow_up = _check_finite("follow_up_months", self.follow_up_months)
        if follow_up < 0:
            raise DesignError(f"follow_up_months {follow_up}: expected >= 0 months", field="follow_up_months")
        d1 = _check_dropout("dropout_rate_experimental", self.dropout_rate_experimental)
        d2 = _check_dropout("dropout_rate_control", self.dropout_rate_control)
        td = _check_positive("dropout_time_months", self.dropout_time_months, "a time > 0 months")
        ratio = _check_positive("allocation_ratio", self.allocation_ratio, "a ratio > 0")
        if self.method not in _METHODS:
            raise DesignError(f"method {self.method!r}: expected one of {', '.join(_METHODS)}", field="method")
        for name, value in (
            ("hazard_ratio", hr),
            ("alpha", alpha),
            ("power", power),
            ("sided", sided),
            ("median_control_months", median),
            ("accrual_months", accrual),
            ("follow_up_months", follow_up),
            ("dropout_rate_experimental", d1),
            ("dropout_rate_control", d2),
            ("dropout_time_months", td),
            ("allocation_ratio", ratio),
        ):
            object.__setattr__(self, name, value)

    @property
    def lambda_control(self) -> float:
        """Control hazard per month, ln 2 / median."""
        return math.log(2.0) / self.median_control_months

    @property
    def lambda_experimental(self) -> float:
        return self.hazard_ratio * self.lambda_control

    def dropout_hazards(self) -> tuple[float, float]:
        """Exponential dropout hazards (experimental, control): -ln(1 - p) / t."""
        t = self.dropout_time_months
        return (-math.log1p(-self.dropout_rate_experimental) / t, -math.log1p(-self.dropout_rate_control) / t)


@dataclass(frozen=True)
class SurvivalSampleSize:
    """Result of :func:`sample_size_survival` (unrounded and rounded up)."""

    events: float
    subjects: float
    events_ceil: int
    subjects_ceil: int
    subjects_experimental: float
    subjects_control: float
    event_probability_experimental: float
    event_probability_control: float
    analysis_time_months: float
    design: SurvivalDesign

    def to_dict(self) -> dict:
        out = asdict(self)
        out["design"] = asdict(self.design)
        return out


_NORMAL = NormalDist()  # the standard library's normal quantiles equal scipy.stats.norm's to ~1e-15,
#                         without importing scipy.stats (about 0.5 s at start-up)


def _z_alpha(alpha: float, sided: int) -> float:
    """The upper ``alpha/sided`` quantile of the standard normal (``norm.isf``)."""
    return -_NORMAL.inv_cdf(alpha / sided)


def _z(power: float) -> float:
    """The standard normal quantile at ``power`` (``norm.ppf``)."""
    return _NORMAL.inv_cdf(power)


def _norm_cdf(x):
    """The standard normal CDF of a number or an array (``norm.cdf``)."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 0:
        return np.float64(_NORMAL.cdf(float(arr)))
    return np.vectorize(_NORMAL.cdf, otypes=[float])(arr)


def required_events(
    hazard_ratio: float,
    alpha: float = 0.025,
    power: float = 0.8,
    sided: int = 1,
    allocation_ratio: float = 1.0,
    method: Method = "schoenfeld",
) -> float:
    """Number of events for a log-rank test (unrounded).

    With ``z = z_{1-alpha/sided} + z_{power}`` and ``r`` the allocation ratio
    (experimental : control):

    * Schoenfeld: ``D = z^2 (1 + r)^2 / (r ln(HR)^2)``
    * Freedman:   ``D = z^2 (1 + r HR)^2 / (r (1 - HR)^2)``

    References
    ----------
    .. [1] Schoenfeld, D. A. (1983). Biometrics 39, 499-503.
    .. [2] Freedman, L. S. (1982). Statistics in Medicine 1, 121-129.
    """
    hr = _check_positive("hazard_ratio", hazard_ratio, "a hazard ratio > 0")
    if hr == 1.0:
        raise DesignError("hazard_ratio 1.0: expected a hazard ratio != 1", field="hazard_ratio")
    alpha, power = _check_alpha_power(alpha, power)
    sided = _check_sided(sided)
    r = _check_positive("allocation_ratio", allocation_ratio, "a ratio > 0")
    z = _z_alpha(alpha, sided) + _z(power)
    if method == "schoenfeld":
        return z * z * (1.0 + r) ** 2 / (r * math.log(hr) ** 2)
    if method == "freedman":
        return z * z * (1.0 + r * hr) ** 2 / (r * (1.0 - hr) ** 2)
    raise DesignError(f"method {method!r}: expected one of {', '.join(_METHODS)}", field="method")


def event_probability(
    event_hazard_per_month: float | np.ndarray,
    accrual_months: float,
    follow_up_months: float,
    dropout_hazard_per_month: float = 0.0,
):
    """Probability that a subject has an event by the analysis at ``accrual + follow_up``.

    Entry is uniform on ``[0, a]``, the analysis is at ``a + f``; event and dropout times are
    independent exponentials with hazards ``lambda`` and ``eta``. Then (Lachin & Foulkes 1986)::

        P = lambda / (lambda + eta) * [1 - (exp(-(lambda+eta) f) - exp(-(lambda+eta)(a+f)))
                                           / ((lambda + eta) a)]

    References
    ----------
    .. [1] Lachin, J. M. & Foulkes, M. A. (1986). Biometrics 42, 507-519.
    """
    lam = np.asarray(event_hazard_per_month, dtype=float)
    a, f, eta = float(accrual_months), float(follow_up_months), float(dropout_hazard_per_month)
    total = lam + eta
    # expm1 keeps precision for small hazards: e^{-t f} - e^{-t(a+f)} = e^{-t f}(-expm1(-t a))
    mean_exposure_surv = np.exp(-total * f) * (-np.expm1(-total * a)) / (total * a)
    p = lam / total * (1.0 - mean_exposure_surv)
    return float(p) if p.ndim == 0 else p


def _event_probabilities(design: SurvivalDesign, follow_up_months: float) -> tuple[float, float]:
    eta_e, eta_c = design.dropout_hazards()
    return (
        event_probability(design.lambda_experimental, design.accrual_months, follow_up_months, eta_e),
        event_probability(design.lambda_control, design.accrual_months, follow_up_months, eta_c),
    )


def sample_size_survival(design: SurvivalDesign | None = None, /, **kwargs) -> SurvivalSampleSize:
    """Events and subjects for a fixed two-arm survival design (rpact ``getSampleSizeSurvival``).

    ``N = D / (w_E P_E + w_C P_C)`` with ``w_E = r / (1 + r)``, ``w_C = 1 / (1 + r)`` and
    ``P`` from :func:`event_probability`; ``D`` from :func:`required_events`.

    Pass a :class:`SurvivalDesign` or its fields as keyword arguments.

    References
    ----------
    .. [1] Schoenfeld, D. A. (1983). Biometrics 39, 499-503.
    .. [2] Freedman, L. S. (1982). Statistics in Medicine 1, 121-129.
    .. [3] Lachin, J. M. & Foulkes, M. A. (1986). Biometrics 42, 507-519.
    """
    if design is None:
        design = SurvivalDesign(**kwargs)
    elif kwargs:
        raise DesignError("sample_size_survival: expected a SurvivalDesign or keyword fields, not both", field="design")
    events = required_events(
        design.hazard_ratio, design.alpha, design.power, design.sided, design.allocation_ratio, design.method
    )
    p_e, p_c = _event_probabilities(design, design.follow_up_months)
    r = design.allocation_ratio
    w_e, w_c = r / (1.0 + r), 1.0 / (1.0 + r)
    subjects = events / (w_e * p_e + w_c * p_c)
    return SurvivalSampleSize(
        events=events,
        subjects=subjects,
        events_ceil=math.ceil(events - 1e-9),
        subjects_ceil=math.ceil(subjects - 1e-9),
        subjects_experimental=subjects * w_e,
        subjects_control=subjects * w_c,
        event_probability_experimental=p_e,
        event_probability_control=p_c,
        analysis_time_months=design.accrual_months + design.follow_up_months,
        design=design,
    )


def power_survival(
    hazard_ratio,
    events,
    alpha: float = 0.025,
    sided: int = 1,
    allocation_ratio: float = 1.0,
    method: Method = "schoenfeld",
):
    """Analytic power of the log-rank test with ``events`` events (inverse of the formulas).

    Schoenfeld: ``power = Phi(sqrt(D r) / (1 + r) |ln HR| - z_{1-alpha/sided})``;
    Freedman: ``power = Phi(sqrt(D r) |1 - HR| / (1 + r HR) - z_{1-alpha/sided})``.
    Vectorised over ``hazard_ratio`` and ``events``.

    References
    ----------
    .. [1] Schoenfeld, D. A. (1983). Biometrics 39, 499-503.
    .. [2] Freedman, L. S. (1982). Statistics in Medicine 1, 121-129.
    """
    hr = np.asarray(hazard_ratio, dtype=float)
    d = np.asarray(events, dtype=float)
    if np.any(hr <= 0) or not np.all(np.isfinite(hr)):
        raise DesignError(f"hazard_ratio {hazard_ratio}: expected hazard ratios > 0", field="hazard_ratio")
    if np.any(d <= 0):
        raise DesignError(f"events {events}: expected a number of events > 0", field="events")
    alpha = _check_open_unit("alpha", alpha)
    sided = _check_sided(sided)
    r = _check_positive("allocation_ratio", allocation_ratio, "a ratio > 0")
    if method == "schoenfeld":
        drift = np.sqrt(d * r) / (1.0 + r) * np.abs(np.log(hr))
    elif method == "freedman":
        drift = np.sqrt(d * r) * np.abs(1.0 - hr) / (1.0 + r * hr)
    else:
        raise DesignError(f"method {method!r}: expected one of {', '.join(_METHODS)}", field="method")
    out = _norm_cdf(drift - _z_alpha(alpha, sided))
    return float(out) if out.ndim == 0 else out


def detectable_hazard_ratio(
    events: float,
    alpha: float = 0.025,
    power: float = 0.8,
    sided: int = 1,
    allocation_ratio: float = 1.0,
    benefit: bool = True,
) -> float:
    """The hazard ratio that ``events`` events detect with the given power (Schoenfeld).

    ``HR = exp(-/+ z (1 + r) / sqrt(D r))``, inverse of the Schoenfeld formula.

    References
    ----------
    .. [1] Schoenfeld, D. A. (1983). Biometrics 39, 499-503.
    """
    d = _check_positive("events", events, "a number of events > 0")
    alpha, power = _check_alpha_power(alpha, power)
    sided = _check_sided(sided)
    r = _check_positive("allocation_ratio", allocation_ratio, "a ratio > 0")
    z = _z_alpha(alpha, sided) + _z(power)
    log_hr = z * (1.0 + r) / math.sqrt(d * r)
    return math.exp(-log_hr if benefit else log_hr)


def expected_events(design: SurvivalDesign, subjects: float) -> float:
    """Expected events among ``subjects`` subjects at ``accrual + follow_up`` months."""
    p_e, p_c = _event_probabilities(design, design.follow_up_months)
    r = design.allocation_ratio
    return float(subjects) * (r * p_e + p_c) / (1.0 + r)


def follow_up_for_events(design: SurvivalDesign, subjects: float, events: float) -> float:
    """Follow-up (months after the last entry) at which ``events`` events are expected."""
    r = design.allocation_ratio

    def gap(f: float) -> float:
        p_e, p_c = _event_probabilities(design, f)
        return subjects * (r * p_e + p_c) / (1.0 + r) - events

    if gap(0.0) >= 0:
        return 0.0
    hi = 1.0
    while gap(hi) < 0:
        hi *= 2.0
        if hi > 1e6:
            raise DesignError(
                f"events {events}: expected fewer events than {subjects} subjects can produce", field="events"
            )
    from scipy import optimize  # only this root search needs it

    return float(optimize.brentq(gap, 0.0, hi, xtol=1e-12))
