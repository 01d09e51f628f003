"""Event-time distributions for the trial simulator, each given by its cumulative hazard.

An event time is drawn by inversion, ``T = H^{-1}(E / m)`` with ``E ~ Exp(1)`` and ``m`` a
proportional-hazards multiplier (a stratum effect), which keeps one code path for every
distribution. ``with_hazard_ratio(hr)`` gives the distribution whose hazard is ``hr`` times
this one at every time (proportional hazards).

References
----------
.. [1] Bender, R., Augustin, T. & Blettner, M. (2005). Generating survival times to simulate
   Cox proportional hazards models. Statistics in Medicine 24, 1713-1723.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from oligotrial.errors import DesignError

__all__ = ["EventDistribution", "Exponential", "PiecewiseExponential", "Weibull"]


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise DesignError(f"{name} {value}: expected a finite number > 0", field=name)
    return value


@dataclass(frozen=True)
class Exponential:
    """Exponential event times with the given median (months); hazard ``ln 2 / median``."""

    median_months: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "median_months", _positive("median_months", self.median_months))

    @property
    def hazard_per_month(self) -> float:
        return math.log(2.0) / self.median_months

    def inverse_cumulative_hazard(self, x, xp=np):
        return x / self.hazard_per_month

    def with_hazard_ratio(self, hazard_ratio: float) -> Exponential:
        return Exponential(self.median_months / _positive("hazard_ratio", hazard_ratio))


@dataclass(frozen=True)
class Weibull:
    """Weibull event times, ``S(t) = exp(-(t / scale)^shape)`` (rpact: ``kappa`` = shape)."""

    shape: float
    scale_months: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _positive("shape", self.shape))
        object.__setattr__(self, "scale_months", _positive("scale_months", self.scale_months))

    @classmethod
    def from_median(cls, median_months: float, shape: float) -> Weibull:
        """Weibull with the given median: ``scale = median / (ln 2)^(1/shape)``."""
        median_months = _positive("median_months", median_months)
        shape = _positive("shape", shape)
        return cls(shape=shape, scale_months=median_months / math.log(2.0) ** (1.0 / shape))

    def inverse_cumulative_hazard(self, x, xp=np):
        return self.scale_months * x ** (1.0 / self.shape)

    def with_hazard_ratio(self, hazard_ratio: float) -> Weibull:
        hr = _positive("hazard_ratio", hazard_ratio)
        return Weibull(self.shape, self.scale_months * hr ** (-1.0 / self.shape))


@dataclass(frozen=True)
class PiecewiseExponential:
    """Piecewise-constant hazard: ``hazards_per_month[j]`` on ``[starts_months[j], next)``.

    ``starts_months`` begins at 0 and increases; the last hazard applies for ever (> 0).
    """

    starts_months: tuple[float, ...]
    hazards_per_month: tuple[float, ...]
    _cum: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = tuple(float(s) for s in self.starts_months)
        hazards = tuple(float(h) for h in self.hazards_per_month)
        if len(starts) == 0 or len(starts) != len(hazards):
            raise DesignError(
                f"starts_months {starts}: expected as many starts as hazards ({len(hazards)})", field="starts_months"
            )
        if starts[0] != 0.0 or any(b <= a for a, b in pairwise(starts)):
            raise DesignError(f"starts_months {starts}: expected 0 followed by increasing times", field="starts_months")
        if any(h < 0 or not math.isfinite(h) for h in hazards) or hazards[-1] <= 0:
            raise DesignError(
                f"hazards_per_month {hazards}: expected hazards >= 0 with the last > 0", field="hazards_per_month"
            )
        object.__setattr__(self, "starts_months", starts)
        object.__setattr__(self, "hazards_per_month", hazards)
        widths = np.diff(np.asarray(starts))
        cum = np.concatenate([[0.0], np.cumsum(np.asarray(hazards[:-1]) * widths)])
        object.__setattr__(self, "_cum", cum)

    def inverse_cumulative_hazard(self, x, xp=np):
        starts = xp.asarray(np.asarray(self.starts_months))
        hazards = xp.asarray(np.asarray(self.hazards_per_month))
        cum = xp.asarray(self._cum)
        j = xp.searchsorted(cum, x, side="right") - 1
        j = xp.clip(j, 0, len(self.starts_months) - 1)
        h = hazards[j]
        # a zero hazard segment is never the landing segment (cum is flat there; side="right")
        return starts[j] + (x - cum[j]) / xp.where(h > 0, h, 1.0)

    def with_hazard_ratio(self, hazard_ratio: float) -> PiecewiseExponential:
        hr = _positive("hazard_ratio", hazard_ratio)
        return PiecewiseExponential(self.starts_months, tuple(h * hr for h in self.hazards_per_month))


EventDistribution = Exponential | Weibull | PiecewiseExponential
