"""Log-rank test and Cox model on group indicators, from counts per distinct time.

Both need, for each distinct event time ``t`` within a stratum, the number at risk ``n_g`` and the
number of events ``d_g`` of every group ``g``. :func:`risk_table` counts them once (one sort of the
rows, then ``bincount`` and reverse cumulative sums: linear after the sort), and everything after
works on the table, whose size is the number of distinct event times, not the number of rows.

Log-rank (R ``survdiff``, rho = 0), summed over strata::

    U_g = sum (d_g - d n_g / n),   V_gh = sum d (n - d) / (n - 1) (n_g / n) (delta_gh - n_h / n)

chi-square ``U' V^-1 U`` over the groups with a positive expected count less the first of them,
on (that number - 1) degrees of freedom, as ``survdiff`` does.

Cox model with treatment contrasts (a 0/1 indicator per non-reference group), Efron's
approximation for ties: at a time with ``d`` events and ``l = 0..d-1``::

    denom_l = sum_g n_g w_g - (l/d) sum_g d_g w_g,      w_g = exp(beta_g), beta_ref = 0
    log L   = sum d_g beta_g - sum_l log denom_l

maximised by Newton-Raphson (with step halving) from ``beta = 0``; Wald standard errors from the
inverse information at the maximum; stratified: the sums run within strata and add up.

References
----------
.. [1] Mantel, N. (1966). Cancer Chemotherapy Reports 50, 163-170.
.. [2] Cox, D. R. (1972). Regression models and life-tables. JRSS B 34, 187-220.
.. [3] Efron, B. (1977). The efficiency of Cox's likelihood function for censored data. JASA 72,
   557-565.
.. [4] Therneau, T. M. & Grambsch, P. M. (2000). Modeling Survival Data: Extending the Cox Model,
   sections 3.3 (ties) and 3.9 (strata). R ``survival`` 3.5-3 ``survdiff``, ``coxph``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = ["MAX_ABS_COEF", "CoxFit", "RiskTable", "cox_efron", "logrank_from_table", "risk_table"]

#: a log hazard ratio beyond this (HR outside 1e-13..1e13) is taken as the likelihood having no
#: finite maximum (R's coxph then warns "coefficient may be infinite" and prints where its
#: iterations stopped); the analysis reports no estimate instead
MAX_ABS_COEF = 30.0


@dataclass(frozen=True)
class RiskTable:
    """At risk ``n`` and events ``d`` (rows: distinct event times within strata; columns: groups)."""

    n: np.ndarray
    d: np.ndarray
    k: int


def risk_table(
    t_sorted: np.ndarray, e_sorted: np.ndarray, g_sorted: np.ndarray, k: int, s_sorted: np.ndarray | None = None
) -> RiskTable:
    """Count at risk and events per (stratum, distinct time, group).

    ``*_sorted`` are the rows sorted by time (``t_sorted`` ascending); ``g_sorted`` group codes
    ``0..k-1``; ``s_sorted`` stratum codes (small non-negative integers) or ``None``.
    """
    m = t_sorted.size
    if s_sorted is not None and m:
        # stable sort by stratum keeps time order within each stratum (radix sort on small ints)
        small = s_sorted.astype(np.int16 if s_sorted.max() < 32767 else np.int64)
        o = np.argsort(small, kind="stable")
        t_sorted, e_sorted, g_sorted, s_sorted = t_sorted[o], e_sorted[o], g_sorted[o], s_sorted[o]
    new = np.empty(m, dtype=bool)
    if m:
        new[0] = True
        np.not_equal(t_sorted[1:], t_sorted[:-1], out=new[1:])
        if s_sorted is not None:
            new[1:] |= s_sorted[1:] != s_sorted[:-1]
    cell = np.cumsum(new) - 1
    n_cells = int(cell[-1]) + 1 if m else 0
    key = cell * k + g_sorted
    leave = np.bincount(key, minlength=n_cells * k).reshape(n_cells, k).astype(np.float64)
    d = np.bincount(key, weights=e_sorted.astype(np.float64), minlength=n_cells * k).reshape(n_cells, k)
    at_risk = np.cumsum(leave[::-1], axis=0)[::-1]  # rows at or after this cell
    if s_sorted is not None and n_cells:
        cell_stratum = s_sorted[np.flatnonzero(new)]
        # subtract what belongs to later strata: the at-risk count at the next stratum's first cell
        first = np.flatnonzero(np.r_[True, cell_stratum[1:] != cell_stratum[:-1]])
        block = np.cumsum(np.r_[True, cell_stratum[1:] != cell_stratum[:-1]]) - 1
        ext = np.vstack([at_risk, np.zeros((1, k))])
        nxt = np.append(first[1:], n_cells)
        at_risk = at_risk - ext[nxt[block]]
    has = d.sum(axis=1) > 0
    return RiskTable(n=at_risk[has], d=d[has], k=k)


def logrank_from_table(table: RiskTable) -> dict | None:
    """``{"chisq", "df", "p", "observed", "expected"}``, as R ``survdiff``; ``None`` where no
    group has a positive expected count beyond the first (no test: no events, or one group)."""
    from scipy.special import chdtrc

    n, d = table.n, table.d
    big_n = n.sum(axis=1)
    big_d = d.sum(axis=1)
    p = n / big_n[:, None]
    observed = d.sum(axis=0)
    expected = (big_d[:, None] * p).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(big_n > 1, big_d * (big_n - big_d) / (big_n - 1.0), 0.0)
    v = np.diag((f[:, None] * p).sum(axis=0)) - (p * f[:, None]).T @ p
    u = observed - expected
    use = np.flatnonzero(expected > 0)
    df = use.size - 1
    if df < 1:
        return None
    keep = use[1:]
    uu = u[keep]
    try:
        chisq = float(uu @ np.linalg.solve(v[np.ix_(keep, keep)], uu))
    except np.linalg.LinAlgError:
        # no variance: at every event time every participant at risk had the event (e.g. all at
        # one time), so the hypergeometric variance d (n - d) / (n - 1) is 0; R's survdiff stops
        # ("system is exactly singular"); the test is not defined, said so instead of a number
        return {
            "chisq": None,
            "df": int(df),
            "p": None,
            "observed": observed.tolist(),
            "expected": expected.tolist(),
            "note": "not defined: the log-rank variance is 0 (at each event time every participant at risk "
            "had the event, e.g. all events at one time)",
        }
    return {
        "chisq": chisq,
        "df": int(df),
        "p": float(chdtrc(df, chisq)),
        "observed": observed.tolist(),
        "expected": expected.tolist(),
    }


@dataclass(frozen=True)
class CoxFit:
    """Efron Cox fit on group indicators: ``beta`` and its covariance (groups 1..k-1 against 0)."""

    beta: np.ndarray
    cov: np.ndarray
    loglik: float
    loglik_null: float
    iterations: int
    converged: bool

    def terms(self, conf_level: float = 0.95) -> list[dict]:
        """Hazard ratio, Wald CI and two-sided Wald p per non-reference group (R
        ``summary(coxph)``: ``exp(coef)``, ``exp(confint)``, ``Pr(>|z|)``)."""
        z = NormalDist().inv_cdf(1.0 - (1.0 - conf_level) / 2.0)
        out = []
        for b, var in zip(self.beta.tolist(), np.diag(self.cov).tolist()):
            se = math.sqrt(var)
            out.append(
                {
                    "hazard_ratio": math.exp(b),
                    "lower": math.exp(b - z * se),
                    "upper": math.exp(b + z * se),
                    "p": math.erfc(abs(b / se) / math.sqrt(2.0)),
                    "coef": b,
                    "se": se,
                }
            )
        return out


def cox_efron(table: RiskTable, *, max_iter: int = 50, tol: float = 1e-11) -> CoxFit:
    """Maximise the Efron partial likelihood of the group indicators (see the module docstring).

    Vectorised over the ``sum(d)`` Efron terms: one array entry per event, pointing at its time.
    """
    k = table.k
    dd = table.d.sum(axis=1)
    single = dd == 1
    # times with one event: denom = S0, no expansion; tied times: one entry per event
    n_s = table.n[single]
    n_t, d_t = table.n[~single], table.d[~single]
    counts = dd[~single].astype(np.int64)
    cellidx = np.repeat(np.arange(counts.size), counts)
    start = np.repeat(np.cumsum(counts) - counts, counts)
    frac = (np.arange(cellidx.size) - start) / dd[~single][cellidx]  # l / d
    d_obs = table.d[:, 1:].sum(axis=0)
    n_s1, n_t1, d_t1 = (np.ascontiguousarray(x[:, 1:]) for x in (n_s, n_t, d_t))

    def evaluate(beta: np.ndarray):
        w = np.exp(np.concatenate(([0.0], beta)))
        s0_s = n_s @ w
        s0_t = (n_t @ w)[cellidx]
        d0_t = (d_t @ w)[cellidx]
        denom_t = s0_t - frac * d0_t
        loglik = float(d_obs @ beta - np.log(s0_s).sum() - np.log(denom_t).sum())
        m_s = n_s1 * w[1:] / s0_s[:, None]
        m_t = ((n_t1 * w[1:])[cellidx] - frac[:, None] * (d_t1 * w[1:])[cellidx]) / denom_t[:, None]
        msum = m_s.sum(axis=0) + m_t.sum(axis=0)
        grad = d_obs - msum
        info = np.diag(msum) - m_s.T @ m_s - m_t.T @ m_t
        return loglik, grad, info

    beta = np.zeros(k - 1)
    loglik, grad, info = evaluate(beta)
    loglik0 = loglik
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:  # flat likelihood in some direction: no finite maximum
            break
        new = beta + step
        result = evaluate(new)
        halvings = 0
        while not result[0] >= loglik - 1e-12 * abs(loglik) and halvings < 30:  # step halving
            step = step / 2.0
            new = beta + step
            result = evaluate(new)
            halvings += 1
        beta = new
        loglik, grad, info = result
        if np.max(np.abs(step)) < tol * max(1.0, float(np.max(np.abs(beta)))):
            converged = True
            break
    try:
        np.linalg.cholesky(info)  # a maximum: the information is positive definite
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.full_like(info, np.nan)
        converged = False
    if np.any(np.abs(beta) > MAX_ABS_COEF):
        converged = False  # drifting to infinity (monotone likelihood)
    return CoxFit(beta=beta, cov=cov, loglik=loglik, loglik_null=loglik0, iterations=it, converged=converged)
