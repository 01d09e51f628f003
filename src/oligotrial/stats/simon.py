"""Single-arm response designs: exact binomial single-stage and Simon's two-stage designs.

Hypotheses ``H0: p <= p0`` against ``H1: p >= p1`` (``p1 > p0``), one-sided ``alpha`` and
power ``1 - beta`` computed exactly from the binomial distribution.

Simon's notation is used throughout: ``r1/n1`` -- stop after stage 1 for futility when at most
``r1`` responses are seen among the first ``n1`` patients; ``r/n`` -- declare the treatment not
promising when at most ``r`` responses are seen among all ``n`` patients. ``EN0`` and ``PET0``
are the expected sample size and the probability of early termination under ``p0``.

References
----------
.. [1] Simon, R. (1989). Optimal two-stage designs for phase II clinical trials. Controlled
   Clinical Trials 10, 1-10.
.. [2] A'Hern, R. P. (2001). Sample size tables for exact single-stage phase II designs.
   Statistics in Medicine 20, 859-866.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from scipy import stats

from oligotrial.errors import DesignError

__all__ = ["SimonDesign", "SingleStageDesign", "simon_two_stage", "single_stage_binomial"]


@dataclass(frozen=True)
class SingleStageDesign:
    """Exact single-stage design: reject H0 when responses >= ``reject_at``."""

    n: int
    reject_at: int
    alpha_actual: float
    power_actual: float
    p0: float
    p1: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SimonDesign:
    """A Simon two-stage design (``r1/n1``, ``r/n``) with its operating characteristics."""

    kind: str
    r1: int
    n1: int
    r: int
    n: int
    en0: float
    pet0: float
    alpha_actual: float
    power_actual: float
    p0: float
    p1: float

    def to_dict(self) -> dict:
        return asdict(self)


def _validate(p0: float, p1: float, alpha: float, power: float) -> None:
    for field, value in (("p0", p0), ("p1", p1), ("alpha", alpha), ("power", power)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 < value < 1:
            raise DesignError(f"{field} {value!r}: expected a probability strictly between 0 and 1", field=field)
    if p1 <= p0:
        raise DesignError(f"p1 {p1}: expected a response rate under H1 greater than p0 ({p0})", field="p1")
    if power <= alpha:
        raise DesignError(f"power {power}: expected a power greater than alpha ({alpha})", field="power")


def single_stage_binomial(
    p0: float, p1: float, alpha: float = 0.05, power: float = 0.8, n_max: int = 1000
) -> SingleStageDesign:
    """Smallest exact single-stage design (A'Hern 2001).

    For ``n = 1, 2, ...`` take the smallest ``k`` with ``P(X >= k | p0) <= alpha``; the first
    ``n`` with ``P(X >= k | p1) >= power`` is returned. Because exact power is a sawtooth in
    ``n`` a larger ``n`` may fail again; the smallest ``n`` is the conventional choice.

    References
    ----------
    .. [1] A'Hern, R. P. (2001). Statistics in Medicine 20, 859-866.
    """
    _validate(p0, p1, alpha, power)
    for n in range(1, n_max + 1):
        ks = np.arange(n + 2)
        sf0 = stats.binom.sf(ks - 1, n, p0)  # P(X >= k)
        ok = np.nonzero(sf0 <= alpha)[0]
        if ok.size == 0:
            continue
        k = int(ok[0])
        pw = float(stats.binom.sf(k - 1, n, p1))
        if pw >= power:
            return SingleStageDesign(n=n, reject_at=k, alpha_actual=float(sf0[k]), power_actual=pw, p0=p0, p1=p1)
    raise DesignError(
        f"n_max {n_max}: no single-stage design reaches power {power}; expected a larger n_max", field="n_max"
    )


class _BinomialTables:
    """Binomial pmf and survival tables for every ``m <= n_max`` at one ``p`` (computed once)."""

    def __init__(self, n_max: int, p: float) -> None:
        m = np.arange(n_max + 1)[:, None]
        k = np.arange(n_max + 1)[None, :]
        self.pmf = np.where(k <= m, stats.binom.pmf(k, m, p), 0.0)
        self.sf = np.where(k <= m, stats.binom.sf(k, m, p), 0.0)  # P(X > k)
        self.cdf = 1.0 - self.sf

    def reject_matrix(self, n1: int, n: int) -> np.ndarray:
        """``R[r1, r] = P(X1 > r1 and X1 + X2 > r)`` for ``r1 in 0..n1-1``, ``r in 0..n``."""
        n2 = n - n1
        x1 = np.arange(n1 + 1)
        k = np.arange(n + 1)[None, :] - x1[:, None]  # r - x1, from -n1 to n
        sf2 = np.where(k < 0, 1.0, self.sf[n2, np.clip(k, 0, n)])
        m = self.pmf[n1, : n1 + 1, None] * sf2  # (x1, r)
        tail = np.cumsum(m[::-1], axis=0)[::-1]  # tail[j] = sum over x1 >= j
        return tail[1:]  # sum over x1 > r1


def simon_two_stage(
    p0: float,
    p1: float,
    alpha: float = 0.05,
    power: float = 0.8,
    kind: Literal["optimal", "minimax"] = "optimal",
    n_max: int | None = None,
) -> SimonDesign:
    """Simon's optimal or minimax two-stage design by exhaustive search.

    For every ``n`` (from the exact single-stage lower bound up to ``n_max``), ``n1 < n``,
    ``r1 < n1`` and ``r1 <= r < n`` the exact type I error and power are computed; among the
    designs with ``alpha_actual <= alpha`` and ``power_actual >= power`` the *minimax* design
    has the smallest ``n`` (ties broken by the smallest ``EN0``) and the *optimal* design the
    smallest ``EN0``. ``n_max`` defaults to twice the exact single-stage ``n`` (at least that
    ``n`` + 20): the optimal design's ``n`` in Simon's tables stays well below that. Since
    ``EN0 >= n1``, stage-1 sizes at or above the best ``EN0`` found so far are skipped.

    References
    ----------
    .. [1] Simon, R. (1989). Controlled Clinical Trials 10, 1-10.
    """
    _validate(p0, p1, alpha, power)
    if kind not in ("optimal", "minimax"):
        raise DesignError(f"kind {kind!r}: expected 'optimal' or 'minimax'", field="kind")
    single = single_stage_binomial(p0, p1, alpha, power)
    if n_max is None:
        n_max = max(2 * single.n, single.n + 20)
    # A two-stage design never needs fewer patients than the normal-approximation bound minus a
    # margin; starting a little below the exact single-stage n is safe (minimax n may be smaller).
    n_min = max(2, math.floor(0.6 * single.n))
    tab0, tab1 = _BinomialTables(n_max, p0), _BinomialTables(n_max, p1)
    best: tuple[float, int, int, int, int, float, float, float] | None = None
    for n in range(n_min, n_max + 1):
        best_n = None
        for n1 in range(1, n):
            if kind == "optimal" and best is not None and n1 >= best[0]:
                break
            rej0 = tab0.reject_matrix(n1, n)
            rej1 = tab1.reject_matrix(n1, n)
            r1_idx, r_idx = np.nonzero((rej0 <= alpha) & (rej1 >= power))
            if r1_idx.size == 0:
                continue
            valid = r_idx >= r1_idx
            r1_idx, r_idx = r1_idx[valid], r_idx[valid]
            if r1_idx.size == 0:
                continue
            pet0 = tab0.cdf[n1, r1_idx]
            en0 = n1 + (1.0 - pet0) * (n - n1)
            j = int(np.argmin(en0))
            cand = (
                float(en0[j]),
                n,
                n1,
                int(r1_idx[j]),
                int(r_idx[j]),
                float(pet0[j]),
                float(rej0[r1_idx[j], r_idx[j]]),
                float(rej1[r1_idx[j], r_idx[j]]),
            )
            if best_n is None or cand[0] < best_n[0] - 1e-12:
                best_n = cand
        if best_n is None:
            continue
        if kind == "minimax":
            best = best_n
            break
        if best is None or best_n[0] < best[0] - 1e-12:
            best = best_n
    if best is None:
        raise DesignError(
            f"n_max {n_max}: no two-stage design meets alpha {alpha} and power {power}; expected a larger n_max",
            field="n_max",
        )
    en0, n, n1, r1, r, pet0, a, pw = best
    return SimonDesign(
        kind=kind, r1=r1, n1=n1, r=r, n=n, en0=en0, pet0=pet0, alpha_actual=a, power_actual=pw, p0=p0, p1=p1
    )
