"""Kaplan-Meier estimate of one group, as R's ``survival`` package computes it.

``kaplan_meier`` gives the curve at every distinct time of the group (events and censorings),
with Greenwood's variance and a pointwise confidence interval; ``survival_at``, ``km_median`` and
``restricted_mean`` read it the way R's ``summary(fit, times=, extend=TRUE)``,
``quantile(fit, 0.5, conf.int=TRUE)`` and ``print(fit, rmean=tau)`` do (survival 3.5-3; the
R code of ``summary.survfit``, ``quantile.survfit``/``findq`` and ``survmean`` was read and is
followed step by step, edge cases included).

For distinct times ``t_i`` with ``n_i`` at risk and ``d_i`` events::

    S(t) = prod_{t_i <= t} (1 - d_i / n_i)
    se(log S(t)) = sqrt( sum_{t_i <= t} d_i / (n_i (n_i - d_i)) )        (Greenwood)
    log CI:      S exp(-/+ z se), upper capped at 1, undefined where S = 0
    log-log CI:  exp(-exp(log(-log S) -/+ z se / log S)), undefined where S is 0 or 1

References
----------
.. [1] Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete observations.
   JASA 53, 457-481.
.. [2] Greenwood, M. (1926). The errors of sampling of the survivorship tables. Reports on Public
   Health and Medical Subjects 33.
.. [3] Brookmeyer, R. & Crowley, J. (1982). A confidence interval for the median survival time.
   Biometrics 38, 29-41.
.. [4] Therneau, T. M. (2023). A Package for Survival Analysis in R, version 3.5-3:
   ``survfit.formula``, ``survfit_confint``, ``summary.survfit``, ``quantile.survfit``,
   ``survmean``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = [
    "CONF_TYPES",
    "FEW_AT_RISK",
    "KaplanMeier",
    "curve_cut",
    "kaplan_meier",
    "km_from_sorted",
    "km_median",
    "n_at_risk",
    "restricted_mean",
    "reverse_km_median",
    "survival_at",
    "survival_at_reportable",
]

#: the confidence-interval transforms offered; R's default is "log"
CONF_TYPES = ("log", "log-log")
#: R's ``sqrt(.Machine$double.eps)``, the tolerance of ``quantile.survfit``
_TOL = math.sqrt(np.finfo(float).eps)
#: the share of a group still at risk below which its curve is not drawn and a median is labelled
#: as resting on few participants (Pocock, Clayton & Altman 2002, Lancet 359:1686-1689: a
#: Kaplan-Meier plot should be curtailed where few patients remain at risk, e.g. 10-20 %)
FEW_AT_RISK = 0.10
#: what the report says for S(t) where nobody is at risk at t
NO_ONE_AT_RISK = "not estimable (no one at risk)"


@dataclass(frozen=True)
class KaplanMeier:
    """One Kaplan-Meier curve at every distinct time of its group (R's ``survfit`` rows).

    ``std_err`` is the standard error of ``log S`` (R's ``std.err`` for ``conf.type="log"``;
    ``inf`` once S reaches 0); ``lower``/``upper`` are ``nan`` where undefined (R's ``NA``).
    """

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    surv: np.ndarray
    std_err: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    conf_type: str
    conf_level: float

    @property
    def n(self) -> int:
        return int(self.n_risk[0]) if self.n_risk.size else 0

    @property
    def events(self) -> int:
        return int(self.n_event.sum())


def _confint(surv: np.ndarray, se: np.ndarray, conf_type: str, conf_level: float):
    """R's ``survfit_confint`` (``logse=TRUE``, ``ulimit=TRUE``)."""
    z = NormalDist().inv_cdf(1.0 - (1.0 - conf_level) / 2.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "log":
            xx = np.where(surv == 0.0, np.nan, surv)
            lower = np.exp(np.log(xx) - z * se)
            upper = np.minimum(np.exp(np.log(xx) + z * se), 1.0)
        else:  # log-log
            xx = np.where((surv == 0.0) | (surv == 1.0), np.nan, surv)
            se2 = z * se / np.log(xx)
            lower = np.exp(-np.exp(np.log(-np.log(xx)) - se2))
            upper = np.exp(-np.exp(np.log(-np.log(xx)) + se2))
    return lower, upper


def km_from_sorted(ts: np.ndarray, es: np.ndarray, *, conf_type: str = "log", conf_level: float = 0.95) -> KaplanMeier:
    """Kaplan-Meier curve from one group's times sorted ascending and its 0/1 events (same order).

    Linear in the number of rows: the distinct times are where the sorted times change.
    """
    m = ts.size
    if m == 0:
        empty = np.empty(0)
        return KaplanMeier(empty, empty, empty, empty, empty, empty, empty, empty, conf_type, conf_level)
    new = np.empty(m, dtype=bool)
    new[0] = True
    np.not_equal(ts[1:], ts[:-1], out=new[1:])
    idx = np.flatnonzero(new)
    time = ts[idx]
    n_risk = (m - idx).astype(np.float64)
    n_event = np.add.reduceat(es.astype(np.float64), idx)
    leave = np.diff(np.append(idx, m)).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - n_event / n_risk)
        inc = n_event / (n_risk * (n_risk - n_event))  # inf where every one at risk fails
    inc[n_event == 0] = 0.0
    std_err = np.sqrt(np.cumsum(inc))
    lower, upper = _confint(surv, std_err, conf_type, conf_level)
    return KaplanMeier(time, n_risk, n_event, leave - n_event, surv, std_err, lower, upper, conf_type, conf_level)


def kaplan_meier(time, event, *, conf_type: str = "log", conf_level: float = 0.95) -> KaplanMeier:
    """Kaplan-Meier curve of one group (R ``survfit(Surv(time, event) ~ 1, conf.type=)``).

    ``time``: non-negative follow-up times; ``event``: 1 (or True) for an event, 0 censored.
    Inputs are taken as valid (``analyse_survival`` validates rows).
    """
    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(event).astype(bool)
    order = np.argsort(t, kind="stable")
    return km_from_sorted(t[order], e[order], conf_type=conf_type, conf_level=conf_level)


def _none(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def survival_at(km: KaplanMeier, times) -> list[dict]:
    """S(t) with its CI at each time: the last row on or before ``t``, as R's
    ``summary(fit, times = sort(times), extend = TRUE)``; before the first time of the curve,
    1 with CI (1, 1) (R's ``survfit0`` row); beyond the last time, the last row."""
    at = np.sort(np.asarray(list(times), dtype=np.float64))
    idx = np.searchsorted(km.time, at, side="right") - 1
    out = []
    for t, i in zip(at.tolist(), idx.tolist()):
        if i < 0:
            out.append({"time": t, "estimate": 1.0, "lower": 1.0, "upper": 1.0})
        else:
            out.append(
                {"time": t, "estimate": float(km.surv[i]), "lower": _none(km.lower[i]), "upper": _none(km.upper[i])}
            )
    return out


def _findq(x: np.ndarray, y: np.ndarray, p: float, tol: float = _TOL) -> float | None:
    """R ``survival:::findq``: the quantile ``p`` of the distribution ``y`` (``1 - S``) at ``x``.

    ``y`` may hold ``nan`` (R's ``NA``). ``approx(y + tol, 1:n, p, method="constant", f=1)`` is
    R's way of taking, among the points sorted by ``y + tol`` (NA dropped), the first at or
    above ``p``; the quantile is the midpoint of that point (``y >= p - tol``) and the first with
    ``y >= p + tol``, so a flat stretch at exactly ``p`` gives the midpoint of the stretch, and
    one that lasts to the end gives the midpoint with the last time.
    """
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return None
    xmax = x[-1]
    _, first = np.unique(y, return_index=True)  # duplicated(): keep first; NaNs count as one
    keep = np.sort(first)
    x, y = x[keep], y[keep]
    n = y.size
    ok = ~np.isnan(y)
    pos = np.flatnonzero(ok)

    def approx_index(shift: float) -> int | None:
        xs = y[ok] + shift
        order = np.argsort(xs, kind="stable")
        xs, ys = xs[order], pos[order]
        if p < xs[0] or p > xs[-1]:
            return None
        return int(ys[np.searchsorted(xs, p, side="left")])

    i1 = approx_index(tol)
    i2 = approx_index(-tol)
    quant = None if i1 is None or i2 is None else (x[i1] + x[i2]) / 2.0
    if not np.isnan(y[n - 1]) and abs(p - y[n - 1]) < tol:
        quant = None if i1 is None else (x[i1] + xmax) / 2.0
    return None if quant is None else float(quant)


def km_median(km: KaplanMeier, p: float = 0.5) -> dict:
    """Median (or the ``1 - p`` survival quantile) and its CI, as R's
    ``quantile(fit, p, conf.int = TRUE)``: the same rule on ``S``, on the lower and on the upper
    CI curve (Brookmeyer-Crowley as R implements it); ``None`` where not reached."""
    if km.time.size == 0:
        return {"estimate": None, "lower": None, "upper": None}
    x = np.concatenate(([0.0], km.time))

    def q(curve):
        return _findq(x, np.concatenate(([0.0], 1.0 - curve)), p)

    return {"estimate": q(km.surv), "lower": q(km.lower), "upper": q(km.upper)}


def restricted_mean(km: KaplanMeier, tau: float) -> dict:
    """Area under the curve from 0 to ``tau`` and its standard error, as R's
    ``print(fit, rmean = tau)`` (``survival:::survmean``)::

        se^2 = sum_{t_i <= tau} d_i / (n_i (n_i - d_i)) * (area from t_i to tau)^2

    (a term is 0 where ``n_i = d_i``).
    """
    start = min(0.0, float(km.time[0])) if km.time.size else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        hh = np.where(km.n_risk - km.n_event == 0, 0.0, km.n_event / (km.n_risk * (km.n_risk - km.n_event)))
    keep = km.time <= tau
    if not keep.any():
        temptime, tempsurv, hh = np.array([tau]), np.array([1.0]), np.array([0.0])
    else:
        last = np.flatnonzero(keep)[-1]
        temptime = np.append(km.time[keep], tau)
        tempsurv = np.append(km.surv[keep], km.surv[last])
        hh = np.append(hh[keep], 0.0)
    n = temptime.size
    delta = np.diff(np.concatenate(([start], temptime)))
    rect = delta * np.concatenate(([1.0], tempsurv[:-1]))
    tail = np.cumsum(rect[1:][::-1])  # area from each time to tau, last first
    var = float(np.sum(tail**2 * hh[::-1][1:])) if n > 1 else 0.0
    return {"tau": tau, "estimate": float(rect.sum() + start), "se": math.sqrt(var)}


def n_at_risk(km: KaplanMeier, times) -> list[int]:
    """Number at risk at each time ``t`` (the rows with time >= t), in the order given: R's
    ``summary(fit, times = t, extend = TRUE)$n.risk`` (0 beyond the last time)."""
    t = np.asarray(list(times), dtype=np.float64)
    idx = np.searchsorted(km.time, t, side="left")  # the first distinct time >= t
    n = np.append(km.n_risk, 0.0)
    return [int(x) for x in n[idx]]


def survival_at_reportable(km: KaplanMeier, times) -> list[dict]:
    """Beside each entry of :func:`survival_at` (same times, same sorted order): the number at
    risk at ``t`` and whether S(t) may be reported as an estimate.

    :func:`survival_at` keeps R's ``extend = TRUE`` meaning: beyond the last time it repeats the
    last value, so a curve that ended at 0 with the death of the last participant followed reads
    0 at any later time, and one that ended above 0 reads that value. Neither is an observation:
    with no one at risk at ``t`` nothing is known of S(t) (Kaplan & Meier 1958: the product-limit
    estimate is undefined beyond the largest observation when that is censored; when it is an
    event the drop to 0 rests on the one participant still followed). ``reportable`` is true where someone is at risk
    at ``t``, and also where every participant of the group had the event by ``t`` (no one
    censored: S(t) = 0 is then the observed proportion, not an extrapolation); otherwise
    ``reason`` says :data:`NO_ONE_AT_RISK`.
    """
    at = np.sort(np.asarray(list(times), dtype=np.float64))
    risk = n_at_risk(km, at)
    all_events = km.n > 0 and km.events == km.n
    last = float(km.time[-1]) if km.time.size else -math.inf
    out = []
    for t, n in zip(at.tolist(), risk):
        ok = n > 0 or (all_events and t >= last)
        out.append({"time": t, "n_at_risk": n, "reportable": ok, "reason": None if ok else NO_ONE_AT_RISK})
    return out


def reverse_km_median(ts: np.ndarray, es: np.ndarray, *, conf_type: str = "log") -> dict:
    """Median follow-up by the reverse Kaplan-Meier method (Schemper & Smith 1996, Control Clin
    Trials 17:343-346): the Kaplan-Meier median of the time to censoring, with the censoring
    indicator reversed (an event censors the follow-up, a censoring is its "event"). R:
    ``quantile(survfit(Surv(time, 1 - status) ~ 1), 0.5, conf.int = TRUE)``. ``ts`` sorted
    ascending, ``es`` the 0/1 events in the same order. ``None`` where not reached (e.g. no one
    censored: nothing measures the follow-up of those still alive)."""
    rev = km_from_sorted(ts, ~np.asarray(es, dtype=bool), conf_type=conf_type)
    return km_median(rev)


def curve_cut(km: KaplanMeier, fraction: float = FEW_AT_RISK) -> dict | None:
    """Where to stop drawing the curve: after the last time at which at least ``fraction`` of
    the group's starting number is at risk (Pocock, Clayton & Altman 2002). ``None`` when the
    whole curve has that many at risk; else ``{"time", "n_at_risk_after"}``: the curve is drawn
    to ``time`` (its step there included) and ``n_at_risk_after`` (< fraction * n) are at risk
    just after."""
    if km.time.size == 0:
        return None
    below = np.flatnonzero(km.n_risk < fraction * km.n)
    if below.size == 0 or below[0] == 0:
        return None
    j = int(below[0])
    return {"time": float(km.time[j - 1]), "n_at_risk_after": int(km.n_risk[j])}
