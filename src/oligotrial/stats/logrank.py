"""Log-rank and stratified log-rank tests: one data set, or many simulated trials at once.

For each distinct event time ``t`` (within a stratum), with ``n`` at risk, ``n_g`` at risk in
group ``g``, ``d`` events and ``d_g`` events in group ``g``::

    U_g = sum (d_g - d n_g / n)
    V_gh = sum d (n_g / n) (delta_gh - n_h / n) (n - d) / (n - 1)

The statistic is ``U' V^- U`` on ``k - 1`` degrees of freedom (hypergeometric variance with
the ties factor, as in R ``survival::survdiff`` and lifelines). For two groups the signed
statistic is ``z = U_1 / sqrt(V_11)`` for the second group label (arm 1, experimental): a
negative ``z`` means fewer events than expected in that group. The stratified test sums ``U``
and ``V`` over strata.

One family of kernels: the sums over a table of the number at risk and the events per
(stratum, distinct time, group). For an analysed data set the table is built once
(:func:`oligotrial.stats.survival_cox.risk_table`: one sort, then counts) and the sums are
:func:`oligotrial.stats.survival_cox.logrank_u_v`, the one definition used by
:func:`logrank_test` (any number of groups, stratified or not, tied or continuous times) and by
the report's log-rank (:func:`oligotrial.stats.survival_cox.logrank_from_table`, R ``survdiff``).

The same sums are also written as loops for the simulation of many trials, where the work is
per simulated trial and the table would be built and thrown away millions of times; each
is tested against :func:`logrank_test`, an independent computation or lifelines
(``tests/unit/stats/test_design_logrank.py``, ``test_logrank_ties.py``):

* :func:`_logrank_two_group` (numba): two groups, stratified, ties exact, over the rows
  in time order; run per trial in parallel by :func:`logrank_batch`, and by the simulator's
  kernel for a stratified design (:mod:`oligotrial.stats.simulate`), whose analysis
  population (``include``: enrolled by the analysis time) changes with each interim look;
* ``_logrank_sorted`` in :mod:`oligotrial.stats.simulate` (numba): two groups, unstratified,
  over an order the simulator has already sorted by bucket (it re-sorts nothing: speed at
  each interim look of an unstratified design);
* :func:`logrank_batch_xp` (NumPy or CuPy whole-array operations): two groups, continuous
  times without ties (probability one in simulated data), for a GPU.

References
----------
.. [1] Mantel, N. (1966). Evaluation of survival data and two new rank order statistics arising
   in its consideration. Cancer Chemotherapy Reports 50, 163-170.
.. [2] Peto, R. & Peto, J. (1972). Asymptotically efficient rank invariant test procedures.
   JRSS A 135, 185-207.
.. [3] Kalbfleisch, J. D. & Prentice, R. L. (2002). The Statistical Analysis of Failure Time
   Data, 2nd ed., section 7.3 (stratified log-rank).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from scipy import stats

from oligotrial.errors import DesignError
from oligotrial.stats.survival_cox import logrank_u_v, risk_table

__all__ = ["LogRankResult", "logrank_batch", "logrank_batch_xp", "logrank_test"]


@dataclass(frozen=True)
class LogRankResult:
    """Result of :func:`logrank_test`."""

    statistic: float
    p_value: float
    degrees_of_freedom: int
    z: float | None
    groups: tuple
    observed: tuple[float, ...]
    expected: tuple[float, ...]
    variance: float | None


@numba.njit(cache=True, nogil=True)
def _logrank_two_group(time, event, arm, stratum, n_strata, include):
    """Two-group (stratified) log-rank for one data set.

    ``include`` selects the subjects that count (enrolled by the analysis). Returns
    ``(U, V, observed_1, expected_1, n_events)`` for group ``arm == 1``.
    """
    n = time.shape[0]
    idx = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        if include[i]:
            idx[m] = i
            m += 1
    idx = idx[:m]
    order = idx[np.argsort(time[idx], kind="mergesort")]
    at_risk = np.zeros(n_strata)
    at_risk1 = np.zeros(n_strata)
    for k in range(m):
        i = order[k]
        at_risk[stratum[i]] += 1.0
        at_risk1[stratum[i]] += arm[i]
    d = np.zeros(n_strata)
    d1 = np.zeros(n_strata)
    rem = np.zeros(n_strata)
    rem1 = np.zeros(n_strata)
    seen = np.zeros(n_strata, dtype=np.bool_)
    touched = np.empty(n_strata, dtype=np.int64)
    u = 0.0
    v = 0.0
    obs1 = 0.0
    exp1 = 0.0
    n_events = 0
    k = 0
    while k < m:
        t = time[order[k]]
        n_touched = 0
        j = k
        while j < m and time[order[j]] == t:
            i = order[j]
            s = stratum[i]
            if not seen[s]:
                seen[s] = True
                touched[n_touched] = s
                n_touched += 1
            rem[s] += 1.0
            rem1[s] += arm[i]
            if event[i]:
                d[s] += 1.0
                d1[s] += arm[i]
            j += 1
        for q in range(n_touched):
            s = touched[q]
            if d[s] > 0.0:
                nn = at_risk[s]
                p1 = at_risk1[s] / nn
                e1 = d[s] * p1
                u += d1[s] - e1
                obs1 += d1[s]
                exp1 += e1
                n_events += int(d[s])
                if nn > 1.0:
                    v += d[s] * p1 * (1.0 - p1) * (nn - d[s]) / (nn - 1.0)
            at_risk[s] -= rem[s]
            at_risk1[s] -= rem1[s]
            d[s] = 0.0
            d1[s] = 0.0
            rem[s] = 0.0
            rem1[s] = 0.0
            seen[s] = False
        k = j
    return u, v, obs1, exp1, n_events


@numba.njit(cache=True, parallel=True)
def _logrank_batch_kernel(time, event, arm, stratum, n_strata):
    n_trials, n = time.shape
    z = np.empty(n_trials)
    include = np.ones(n, dtype=np.bool_)
    for b in numba.prange(n_trials):
        u, v, _, _, _ = _logrank_two_group(time[b], event[b], arm[b], stratum[b], n_strata, include)
        z[b] = u / math.sqrt(v) if v > 0.0 else 0.0
    return z


def _as_2d(name: str, x, shape: tuple[int, int], dtype) -> np.ndarray:
    a = np.asarray(x, dtype=dtype)
    if a.ndim == 1:
        a = np.broadcast_to(a, shape)
    if a.shape != shape:
        raise DesignError(f"{name} shape {a.shape}: expected {shape} or ({shape[1]},)", field=name)
    return np.ascontiguousarray(a)


def logrank_batch(time, event, arm, stratum=None) -> np.ndarray:
    """Signed two-group (stratified) log-rank ``z`` for each row of ``(n_trials, n)`` arrays.

    ``arm`` and ``stratum`` may be one row shared by every trial. Ties are handled exactly.
    Runs the numba kernel in parallel over trials.
    """
    time = np.ascontiguousarray(np.asarray(time, dtype=np.float64))
    if time.ndim != 2:
        raise DesignError(f"time ndim {time.ndim}: expected a (n_trials, n) array", field="time")
    shape = time.shape
    event = _as_2d("event", event, shape, np.bool_)
    arm = _as_2d("arm", arm, shape, np.int8)
    if stratum is None:
        stratum = np.zeros(shape, dtype=np.int64)
    stratum = _as_2d("stratum", stratum, shape, np.int64)
    n_strata = int(stratum.max()) + 1 if stratum.size else 1
    return _logrank_batch_kernel(time, event, arm, stratum, n_strata)


def logrank_batch_xp(time, event, arm, stratum=None, n_strata: int = 1, xp=np):
    """Array-API version of :func:`logrank_batch` for NumPy or CuPy arrays (no tied times).

    Sorts each trial by time and forms the risk sets by reverse cumulative sums, so every
    operation is a whole-array operation (suited to a GPU). Assumes no tied times, which holds
    with probability one for continuous simulated data; use :func:`logrank_batch` otherwise.
    ``time`` must be ``+inf`` for subjects that are not part of the analysis.
    """
    order = xp.argsort(time, axis=1)
    t = xp.take_along_axis(time, order, axis=1)
    valid = xp.isfinite(t)
    e = xp.take_along_axis(event, order, axis=1) & valid
    a = xp.take_along_axis(xp.asarray(arm, dtype=xp.float64), order, axis=1) * valid
    if stratum is None:
        strata = xp.zeros(t.shape, dtype=xp.int64)
    else:
        strata = xp.take_along_axis(stratum, order, axis=1)
    u = xp.zeros(t.shape[0])
    v = xp.zeros(t.shape[0])
    for s in range(n_strata):
        in_s = (strata == s) & valid
        w = in_s.astype(xp.float64)
        n_risk = xp.cumsum(w[:, ::-1], axis=1)[:, ::-1]
        n1_risk = xp.cumsum((a * w)[:, ::-1], axis=1)[:, ::-1]
        d = (e & in_s).astype(xp.float64)
        p1 = xp.where(n_risk > 0, n1_risk / xp.maximum(n_risk, 1.0), 0.0)
        u += xp.sum(d * (a - p1), axis=1)
        v += xp.sum(d * p1 * (1.0 - p1), axis=1)
    return xp.where(v > 0, u / xp.sqrt(xp.where(v > 0, v, 1.0)), 0.0)


def _encode(name: str, values) -> tuple[np.ndarray, tuple]:
    arr = np.asarray(values)
    labels, codes = np.unique(arr, return_inverse=True)
    return codes.astype(np.int64), tuple(labels.tolist())


def logrank_test(durations, events, groups, strata=None) -> LogRankResult:
    """Log-rank test (k groups), optionally stratified.

    Parameters
    ----------
    durations : array of float
        Follow-up times (>= 0).
    events : array of bool/int
        1 if the event was observed, 0 if censored.
    groups : array
        Group labels; with two groups the signed ``z`` refers to the second sorted label.
    strata : array, optional
        Stratum labels; the stratified statistic sums U and V over strata.

    Returns
    -------
    LogRankResult
        ``statistic`` is the chi-square on ``k - 1`` degrees of freedom.

    References
    ----------
    .. [1] Mantel, N. (1966). Cancer Chemotherapy Reports 50, 163-170.
    .. [2] Kalbfleisch, J. D. & Prentice, R. L. (2002), section 7.3.
    """
    t = np.asarray(durations, dtype=np.float64)
    e = np.asarray(events)
    if t.ndim != 1 or e.shape != t.shape or np.asarray(groups).shape != t.shape:
        raise DesignError(
            f"durations, events, groups shapes {t.shape}, {e.shape}, "
            f"{np.asarray(groups).shape}: expected equal 1-d shapes",
            field="durations",
        )
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise DesignError("durations: expected finite times >= 0", field="durations")
    if not np.all(np.isin(e, (0, 1, True, False))):
        raise DesignError("events: expected 0/1 or booleans", field="events")
    e = e.astype(bool)
    codes, labels = _encode("groups", groups)
    k = len(labels)
    if k < 2:
        raise DesignError(f"groups {labels}: expected at least two groups", field="groups")
    if strata is None:
        s_codes = np.zeros(t.size, dtype=np.int64)
    else:
        s_codes, _ = _encode("strata", strata)
    order = np.argsort(t, kind="mergesort")
    table = risk_table(t[order], e[order], codes[order], k, None if strata is None else s_codes[order])
    u_all, v_all, _, _ = logrank_u_v(table)
    observed = tuple(float(np.sum(e & (codes == g))) for g in range(k))
    if k == 2:
        u, v = float(u_all[1]), float(v_all[1, 1])
        chi2 = u * u / v if v > 0 else 0.0
        # expected per group from U = O - E
        exp1 = observed[1] - u
        expected: tuple[float, ...] = (float(np.sum(e)) - exp1, float(exp1))
        return LogRankResult(
            statistic=float(chi2),
            p_value=float(stats.chi2.sf(chi2, 1)),
            degrees_of_freedom=1,
            z=float(u / math.sqrt(v)) if v > 0 else 0.0,
            groups=labels,
            observed=observed,
            expected=expected,
            variance=float(v),
        )
    chi2 = float(u_all[:-1] @ np.linalg.pinv(v_all[:-1, :-1]) @ u_all[:-1])
    expected = tuple(float(o - uu) for o, uu in zip(observed, u_all, strict=True))
    return LogRankResult(
        statistic=chi2,
        p_value=float(stats.chi2.sf(chi2, k - 1)),
        degrees_of_freedom=k - 1,
        z=None,
        groups=labels,
        observed=observed,
        expected=expected,
        variance=None,
    )
