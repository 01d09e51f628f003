"""Partitioned-survival cost-effectiveness: QALYs and costs per arm from PFS and OS curves, the
incremental cost-effectiveness ratio, a probabilistic sensitivity analysis (PSA) and the
cost-effectiveness acceptability curve (CEAC).

The model (the three-state partitioned-survival model of NICE DSU TSD 19 [1]_): at time ``t``
(months) the share of a cohort that is progression-free is ``PFS(t)``, alive after progression
``max(OS(t) - PFS(t), 0)``. With continuous discounting at ``r = ln(1 + d) / 12`` per month
(``d`` the annual rate)::

    PF months = integral_0^H PFS(t) e^{-rt} dt
    PD months = integral_0^H max(OS(t) - PFS(t), 0) e^{-rt} dt
    QALY = (u_PF * PF + u_PD * PD) / 12        (utilities per year)
    cost = c_PF * PF + c_PD * PD + up-front    (costs per month; the up-front cost at t = 0)
    ICER = (cost_arm - cost_ref) / (QALY_arm - QALY_ref)

Every curve is piecewise exponential, ``S(t) = s_k exp(-h_k (t - t_k))`` on ``[t_k, t_{k+1})``,
so each integral is exact: ``integral s e^{-h(t-a)} e^{-rt} = s e^{-ra} (1 - e^{-(h+r)L}) / (h+r)``
over a piece of length ``L`` (design-and-analysis.md s.2.5); where ``OS - PFS`` changes sign inside
a piece the crossing ``ln(A/B) / (alpha - beta)`` splits it. Curves:

- :class:`ExponentialCurve` from a median (``h = ln 2 / median``), as in the reference scenario;
- :class:`KaplanMeierCurve` from the trial's own times and events: the Kaplan-Meier step function
  up to the last follow-up, then an **exponential tail** whose hazard is the exponential maximum
  likelihood estimate over all the data (events / total follow-up time), starting from the KM value
  at the last follow-up. (A tail fitted to all data is stable with few late events; it assumes a
  constant hazard beyond follow-up, which the report must state.)

PSA (Briggs, Claxton & Sculpher 2006 [2]_ ch. 4), draws from a seeded ``numpy.random.Generator``:
utilities ``Beta`` by the method of moments from mean and standard error, costs ``Gamma``
(shape ``m^2/se^2``, scale ``se^2/m``); a parameter without a standard error stays fixed.
Curve uncertainty: an exponential curve's hazard is drawn from ``Gamma(events, scale =
hazard / events)`` (the posterior of an exponential rate with ``events`` events over
``events / hazard`` months of exposure under a flat prior on the log scale); a Kaplan-Meier curve is
bootstrapped (participants resampled with replacement, the tail refitted), PFS and OS of one arm with
the same resampled participants when both are Kaplan-Meier curves of equal size (rows taken as the
same participants in the same order). The CEAC gives, at each willingness-to-pay ``lambda``, the
share of draws in which each arm has the largest net monetary benefit ``lambda * QALY - cost``
(Fenwick et al. 2001 [3]_).

References
----------
.. [1] Woods B, Sideris E, Palmer S, Latimer N, Soares M. NICE DSU Technical Support Document 19:
   partitioned survival analysis for decision modelling in health care, 2017.
.. [2] Briggs A, Claxton K, Sculpher M. Decision Modelling for Health Economic Evaluation. Oxford
   University Press, 2006.
.. [3] Fenwick E, Claxton K, Sculpher M. Representing uncertainty: the role of cost-effectiveness
   acceptability curves. Health Econ 2001;10:779-787.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from oligotrial.errors import AnalysisError

__all__ = [
    "CeaInputs",
    "ExponentialCurve",
    "KaplanMeierCurve",
    "compare_icers",
    "cost_effectiveness",
    "discounted_area",
    "load_cea_scenario",
]

_LN2 = math.log(2.0)
_DAYS_PER_MONTH = 365.25 / 12.0


def _positive(name: str, value: object, *, allow_zero: bool = False) -> float:
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value >= 0 if allow_zero else value > 0)
    )
    if not ok:
        raise AnalysisError(f"{name} {value!r}: expected a finite number {'>= 0' if allow_zero else '> 0'}", field=name)
    return float(value)


@dataclass(frozen=True)
class _Pieces:
    """``S(t) = s0[k] exp(-h[k] (t - start[k]))`` on ``[start[k], start[k+1])``; start[0] = 0."""

    start: np.ndarray
    s0: np.ndarray
    h: np.ndarray

    def at(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = np.searchsorted(self.start, t, side="right") - 1
        return self.s0[k] * np.exp(-self.h[k] * (t - self.start[k])), self.h[k]


_ZERO = _Pieces(np.array([0.0]), np.array([0.0]), np.array([0.0]))


@dataclass(frozen=True)
class ExponentialCurve:
    """Exponential survival with median ``median_months``; ``events`` (optional) gives the PSA its
    uncertainty (hazard ~ Gamma(events, hazard / events)); without it the curve is fixed in the PSA."""

    median_months: float
    events: int | None = None

    def __post_init__(self) -> None:
        _positive("median_months", self.median_months)
        if self.events is not None and (
            isinstance(self.events, bool) or not isinstance(self.events, int) or self.events < 1
        ):
            raise AnalysisError(f"events {self.events!r}: expected a whole number >= 1 or null", field="events")

    @property
    def hazard(self) -> float:
        return _LN2 / self.median_months

    def pieces(self) -> _Pieces:
        return _Pieces(np.array([0.0]), np.array([1.0]), np.array([self.hazard]))

    def survival(self, t):
        return np.exp(-self.hazard * np.asarray(t, dtype=float))


@dataclass(frozen=True)
class KaplanMeierCurve:
    """Kaplan-Meier estimate of ``times_months`` / ``events`` (1 = event, 0 = censored) with an
    exponential tail beyond the last follow-up (hazard = events / total follow-up time)."""

    times_months: tuple[float, ...]
    events: tuple[int, ...]
    _km: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        t = np.asarray(self.times_months, dtype=float)
        e = np.asarray(self.events)
        if t.ndim != 1 or t.size == 0 or t.size != e.size:
            raise AnalysisError(
                f"times_months ({t.size}) and events ({e.size}): expected two equal, non-empty lists",
                field="times_months",
            )
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise AnalysisError("times_months: expected finite times >= 0", field="times_months")
        if not np.all(np.isin(e, (0, 1))):
            raise AnalysisError("events: expected 1 (event) or 0 (censored) for each time", field="events")
        object.__setattr__(self, "times_months", tuple(float(x) for x in t))
        object.__setattr__(self, "events", tuple(int(x) for x in e))
        object.__setattr__(self, "_km", _km_pieces(t, e.astype(bool)))

    @classmethod
    def from_days(cls, days: Sequence[float], events: Sequence[int]) -> KaplanMeierCurve:
        """From follow-up in days (the endpoints' ``days``), converted at 365.25 / 12 days per month."""
        return cls(tuple(float(d) / _DAYS_PER_MONTH for d in days), tuple(events))

    @property
    def tail_hazard(self) -> float:
        return float(self._km[1])

    def pieces(self) -> _Pieces:
        return self._km[0]

    def survival(self, t):
        return self._km[0].at(np.asarray(t, dtype=float))[0]


def _km_pieces(t: np.ndarray, e: np.ndarray) -> tuple[_Pieces, float]:
    event_times, deaths = np.unique(t[e], return_counts=True)
    at_risk = (t.size - np.searchsorted(np.sort(t), event_times, side="left")).astype(float)
    surv = np.cumprod(1.0 - deaths / at_risk) if event_times.size else np.array([])
    exposure = float(t.sum())
    tail = float(e.sum()) / exposure if exposure > 0 else 0.0
    last = float(t.max())
    first = 1.0
    if event_times.size and event_times[0] == 0.0:  # events at time 0: S(0) below 1
        first, event_times, surv = float(surv[0]), event_times[1:], surv[1:]
    starts = np.concatenate([[0.0], event_times])
    values = np.concatenate([[first], surv])
    hazards = np.zeros(starts.size)
    if last > starts[-1]:
        starts, values, hazards = np.append(starts, last), np.append(values, values[-1]), np.append(hazards, tail)
    else:
        hazards[-1] = tail
    return _Pieces(starts, values, hazards), tail


Curve = ExponentialCurve | KaplanMeierCurve


def _disc_integral(amp, k, a, u0, u1, r):
    """integral_{u0}^{u1} amp e^{-k u} e^{-r (a + u)} du, with k here = own hazard; vectorised."""
    kk = k + r
    length = u1 - u0
    safe = np.where(kk == 0, 1.0, kk)
    core = np.where(kk == 0, length, -np.expm1(-safe * length) / safe)
    return amp * np.exp(-r * a) * np.exp(-kk * u0) * core


def _area_of_difference(upper: _Pieces, lower: _Pieces, rate: float, horizon: float) -> float:
    """integral_0^H max(upper(t) - lower(t), 0) e^{-rate t} dt, exactly (see module docstring)."""
    pts = np.unique(np.concatenate([upper.start, lower.start, [horizon]]))
    pts = pts[pts <= horizon]
    a, b = pts[:-1], pts[1:]
    if a.size == 0:
        return 0.0
    amp_a, alpha = upper.at(a)
    amp_b, beta = lower.at(a)
    length = b - a
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = np.log(amp_a / amp_b) / (alpha - beta)
    cross = np.where(np.isfinite(cross) & (cross > 0) & (cross < length), cross, length)
    # each piece in two segments, [0, cross] and [cross, length] (the second empty without a crossing)
    u0 = np.concatenate([np.zeros_like(a), cross])
    u1 = np.concatenate([cross, length])
    a2, amp_a, alpha, amp_b, beta = (np.concatenate([x, x]) for x in (a, amp_a, alpha, amp_b, beta))
    mid = (u0 + u1) / 2
    positive = (u1 > u0) & (amp_a * np.exp(-alpha * mid) > amp_b * np.exp(-beta * mid))
    contrib = _disc_integral(amp_a, alpha, a2, u0, u1, rate) - _disc_integral(amp_b, beta, a2, u0, u1, rate)
    return float(np.sum(np.where(positive, contrib, 0.0)))


def discounted_area(curve: Curve, rate_per_month: float, horizon_months: float, minus: Curve | None = None) -> float:
    """``integral_0^H max(curve(t) - minus(t), 0) e^{-rt} dt`` (``minus`` absent: the area under
    ``curve``), exact for the piecewise-exponential curves of this module."""
    return _area_of_difference(
        curve.pieces(), minus.pieces() if minus is not None else _ZERO, rate_per_month, horizon_months
    )


@dataclass(frozen=True)
class CeaInputs:
    """The economic inputs; every ``*_se`` is the PSA's standard error (``None``: fixed)."""

    horizon_months: float
    discount_rate_annual: float
    utility_pf: float
    utility_pd: float
    cost_pf_month: float
    cost_pd_month: float
    upfront_cost: Mapping[str, float]
    utility_pf_se: float | None = None
    utility_pd_se: float | None = None
    cost_pf_month_se: float | None = None
    cost_pd_month_se: float | None = None
    upfront_cost_se: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _positive("horizon_months", self.horizon_months)
        _positive("discount_rate_annual", self.discount_rate_annual, allow_zero=True)
        for name in ("utility_pf", "utility_pd"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value > 1:
                raise AnalysisError(f"{name} {value!r}: expected a utility <= 1 (1 = full health)", field=name)
        for name in ("cost_pf_month", "cost_pd_month"):
            _positive(name, getattr(self, name), allow_zero=True)
        for arm, value in self.upfront_cost.items():
            _positive(f"upfront_cost.{arm}", value, allow_zero=True)
        for name in ("utility_pf", "utility_pd"):
            se = getattr(self, f"{name}_se")
            if se is not None:
                m = getattr(self, name)
                if _positive(f"{name}_se", se, allow_zero=True) and not (0 < m < 1 and se * se < m * (1 - m)):
                    raise AnalysisError(
                        f"{name}_se {se!r}: expected se^2 < mean (1 - mean) with 0 < mean < 1 "
                        f"for a Beta distribution (mean {m})",
                        field=f"{name}_se",
                    )
        for name in ("cost_pf_month_se", "cost_pd_month_se"):
            if getattr(self, name) is not None:
                _positive(name, getattr(self, name), allow_zero=True)
        for arm, se in self.upfront_cost_se.items():
            _positive(f"upfront_cost_se.{arm}", se, allow_zero=True)

    @property
    def discount_rate_month(self) -> float:
        """Continuous monthly rate ``ln(1 + d) / 12``."""
        return math.log1p(self.discount_rate_annual) / 12.0


def _arm_outcomes(
    pfs: _Pieces,
    os_: _Pieces,
    inputs: CeaInputs,
    u_pf: float,
    u_pd: float,
    c_pf: float,
    c_pd: float,
    upfront: float,
    rate: float,
) -> dict:
    pf = _area_of_difference(pfs, _ZERO, rate, inputs.horizon_months)
    pd = _area_of_difference(os_, pfs, rate, inputs.horizon_months)
    return {
        "pf_months": pf,
        "pd_months": pd,
        "life_years": (pf + pd) / 12.0,
        "qaly": (u_pf * pf + u_pd * pd) / 12.0,
        "cost": c_pf * pf + c_pd * pd + upfront,
    }


def _interpret(dq: float, dc: float) -> str:
    if dq > 0 and dc <= 0:
        return "dominant (more QALYs, not more costly)"
    if dq <= 0 and dc >= 0:
        return "dominated (no more QALYs, not less costly)"
    if dq < 0:
        return "fewer QALYs at lower cost (ICER is the saving per QALY lost)"
    return "more QALYs at higher cost"


def _beta(rng, mean, se, size):
    if not se:
        return np.full(size, mean)
    k = mean * (1 - mean) / (se * se) - 1
    return rng.beta(mean * k, (1 - mean) * k, size)


def _gamma(rng, mean, se, size):
    if not se or mean == 0:
        return np.full(size, float(mean))
    return rng.gamma((mean / se) ** 2, se * se / mean, size)


def _curve_draws(rng, pfs: Curve, os_: Curve, draws: int, notes: list[str], arm: str):
    """Per-draw piecewise curves (or, both exponential, the two hazard vectors)."""

    def hazards(c: ExponentialCurve, name: str):
        if c.events is None:
            notes.append(f"{arm} {name}: no events given, curve fixed in the PSA")
            return np.full(draws, c.hazard)
        return rng.gamma(c.events, c.hazard / c.events, draws)

    if isinstance(pfs, ExponentialCurve) and isinstance(os_, ExponentialCurve):
        return ("exp", hazards(pfs, "PFS"), hazards(os_, "OS"))
    out = []
    paired = (
        isinstance(pfs, KaplanMeierCurve)
        and isinstance(os_, KaplanMeierCurve)
        and len(pfs.times_months) == len(os_.times_months)
    )
    for _ in range(draws):
        curves = []
        idx = None
        for c, name in ((pfs, "PFS"), (os_, "OS")):
            if isinstance(c, KaplanMeierCurve):
                if idx is None or not paired:
                    idx = rng.integers(0, len(c.times_months), len(c.times_months))
                t, e = np.asarray(c.times_months)[idx], np.asarray(c.events)[idx]
                curves.append(_km_pieces(t, e.astype(bool))[0])
            else:
                h = c.hazard if c.events is None else rng.gamma(c.events, c.hazard / c.events)
                curves.append(_Pieces(np.array([0.0]), np.array([1.0]), np.array([h])))
        out.append(tuple(curves))
    for c, name in ((pfs, "PFS"), (os_, "OS")):
        if isinstance(c, ExponentialCurve) and c.events is None:
            notes.append(f"{arm} {name}: no events given, curve fixed in the PSA")
    return ("pieces", out)


def _exp_area(h, rate, horizon):
    k = h + rate
    return -np.expm1(-k * horizon) / k


def cost_effectiveness(
    curves_by_arm: Mapping[str, Mapping[str, Curve]],
    inputs: CeaInputs,
    reference_arm: str,
    psa_draws: int = 1000,
    seed: int = 1,
    wtp_thresholds: Sequence[float] | None = None,
) -> dict:
    """Deterministic partitioned-survival results, incremental results against ``reference_arm``
    and, with ``psa_draws`` > 0, the PSA and CEAC (see the module docstring for every formula).

    Parameters
    ----------
    curves_by_arm
        arm -> ``{"pfs": curve, "os": curve}`` (:class:`ExponentialCurve` or :class:`KaplanMeierCurve`,
        times in months).
    inputs
        :class:`CeaInputs`; every arm needs an ``upfront_cost`` entry (0 for none).
    wtp_thresholds
        willingness-to-pay per QALY for the CEAC; default 0 to 200,000 in steps of 5,000.

    Returns
    -------
    dict
        ``arms`` (discounted ``pf_months``, ``pd_months``, ``life_years``, ``qaly``, ``cost``, plus
        undiscounted ``pf_months_undiscounted`` / ``pd_months_undiscounted``), ``incremental`` (arm ->
        ``versus, delta_qaly, delta_cost, icer, interpretation``), ``psa`` (``None`` without draws;
        else ``draws, seed, arms`` (mean QALY and cost), ``incremental`` (mean and 2.5/97.5 percentiles
        of the differences), ``ceac`` (``[{wtp, probability: arm -> share}]``), ``notes``), ``inputs``
        and ``method``.
    """
    if reference_arm not in curves_by_arm:
        raise AnalysisError(
            f"reference_arm {reference_arm!r}: expected one of {sorted(curves_by_arm)}", field="reference_arm"
        )
    for arm, pair in curves_by_arm.items():
        if set(pair) != {"pfs", "os"} or not all(
            isinstance(c, (ExponentialCurve, KaplanMeierCurve)) for c in pair.values()
        ):
            raise AnalysisError(
                f"curves_by_arm.{arm}: expected {{'pfs': curve, 'os': curve}} (ExponentialCurve or KaplanMeierCurve)",
                field=f"curves_by_arm.{arm}",
            )
        if arm not in inputs.upfront_cost:
            raise AnalysisError(
                f"upfront_cost: expected an entry for arm {arm!r} (0 for none)", field=f"upfront_cost.{arm}"
            )
    if isinstance(psa_draws, bool) or not isinstance(psa_draws, int) or psa_draws < 0:
        raise AnalysisError(f"psa_draws {psa_draws!r}: expected a whole number >= 0", field="psa_draws")
    rate = inputs.discount_rate_month
    arms = {}
    for arm, pair in curves_by_arm.items():
        pfs, os_ = pair["pfs"].pieces(), pair["os"].pieces()
        res = _arm_outcomes(
            pfs,
            os_,
            inputs,
            inputs.utility_pf,
            inputs.utility_pd,
            inputs.cost_pf_month,
            inputs.cost_pd_month,
            inputs.upfront_cost[arm],
            rate,
        )
        res["pf_months_undiscounted"] = _area_of_difference(pfs, _ZERO, 0.0, inputs.horizon_months)
        res["pd_months_undiscounted"] = _area_of_difference(os_, pfs, 0.0, inputs.horizon_months)
        arms[arm] = res
    ref = arms[reference_arm]
    incremental = {}
    for arm, res in arms.items():
        if arm == reference_arm:
            continue
        dq, dc = res["qaly"] - ref["qaly"], res["cost"] - ref["cost"]
        incremental[arm] = {
            "versus": reference_arm,
            "delta_qaly": dq,
            "delta_cost": dc,
            "icer": dc / dq if dq != 0 else None,
            "interpretation": _interpret(dq, dc),
        }
    wtp = np.asarray(wtp_thresholds if wtp_thresholds is not None else np.arange(0, 200_001, 5_000), dtype=float)
    psa = _psa(curves_by_arm, inputs, reference_arm, psa_draws, seed, wtp) if psa_draws else None
    if psa is not None:
        psa["icer_comparison"] = compare_icers(arms, incremental, psa, curves_by_arm, inputs.horizon_months)
    return {
        "arms": arms,
        "reference_arm": reference_arm,
        "incremental": incremental,
        "psa": psa,
        "inputs": {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in asdict(inputs).items()}
        | {"discount_rate_month": rate},
        "method": "partitioned survival (NICE DSU TSD 19), continuous discounting r = ln(1+d)/12 per month, "
        "exact piecewise-exponential integrals; PD = area under max(OS - PFS, 0)",
    }


def _psa(curves_by_arm, inputs: CeaInputs, reference_arm: str, draws: int, seed: int, wtp: np.ndarray) -> dict:
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    u_pf = _beta(rng, inputs.utility_pf, inputs.utility_pf_se, draws)
    u_pd = _beta(rng, inputs.utility_pd, inputs.utility_pd_se, draws)
    c_pf = _gamma(rng, inputs.cost_pf_month, inputs.cost_pf_month_se, draws)
    c_pd = _gamma(rng, inputs.cost_pd_month, inputs.cost_pd_month_se, draws)
    rate, horizon = inputs.discount_rate_month, inputs.horizon_months
    qaly, cost = {}, {}
    for arm, pair in curves_by_arm.items():
        upfront = _gamma(rng, inputs.upfront_cost[arm], inputs.upfront_cost_se.get(arm), draws)
        drawn = _curve_draws(rng, pair["pfs"], pair["os"], draws, notes, arm)
        if drawn[0] == "exp":
            hp, ho = drawn[1], drawn[2]
            pf = _exp_area(hp, rate, horizon)
            # two exponentials from S(0) = 1: OS - PFS keeps one sign, that of hp - ho
            pd = np.maximum(_exp_area(ho, rate, horizon) - pf, 0.0)
        else:
            pf = np.array([_area_of_difference(p, _ZERO, rate, horizon) for p, _o in drawn[1]])
            pd = np.array([_area_of_difference(o, p, rate, horizon) for p, o in drawn[1]])
        qaly[arm] = (u_pf * pf + u_pd * pd) / 12.0
        cost[arm] = c_pf * pf + c_pd * pd + upfront
    names = list(curves_by_arm)
    q = np.stack([qaly[a] for a in names])
    c = np.stack([cost[a] for a in names])
    nmb = wtp[:, None, None] * q[None, :, :] - c[None, :, :]  # wtp x arm x draw
    best = np.argmax(nmb, axis=1)
    ceac = [
        {"wtp": float(w), "probability": {a: float(np.mean(best[i] == j)) for j, a in enumerate(names)}}
        for i, w in enumerate(wtp)
    ]
    incremental = {}
    for arm in names:
        if arm == reference_arm:
            continue
        dq, dc = qaly[arm] - qaly[reference_arm], cost[arm] - cost[reference_arm]
        incremental[arm] = {
            "versus": reference_arm,
            "delta_qaly_mean": float(dq.mean()),
            "delta_qaly_interval": [float(x) for x in np.percentile(dq, [2.5, 97.5])],
            "delta_cost_mean": float(dc.mean()),
            "delta_cost_interval": [float(x) for x in np.percentile(dc, [2.5, 97.5])],
            "icer_of_means": float(dc.mean() / dq.mean()) if dq.mean() != 0 else None,
        }
    return {
        "draws": draws,
        "seed": seed,
        "arms": {a: {"qaly_mean": float(qaly[a].mean()), "cost_mean": float(cost[a].mean())} for a in names},
        "incremental": incremental,
        "ceac": ceac,
        "notes": sorted(set(notes)),
        "method": "utilities Beta (method of moments), costs Gamma, exponential hazards Gamma(events, "
        "hazard/events), Kaplan-Meier curves bootstrapped; CEAC = share of draws with the largest "
        "net monetary benefit",
    }


def _km_ends_at_zero(curve: KaplanMeierCurve) -> dict | None:
    """Where a Kaplan-Meier curve falls to 0 (every participant at risk at its last event time had
    the event), with the number at risk then; ``None`` where it ends above 0."""
    t = np.asarray(curve.times_months)
    e = np.asarray(curve.events).astype(bool)
    if not e.any():
        return None
    last = float(t[e].max())
    at_risk = int(np.sum(t >= last))
    if int(np.sum(e & (t == last))) < at_risk:
        return None
    return {"time": last, "n_at_risk": at_risk, "n": int(t.size)}


def compare_icers(
    arms: Mapping[str, dict], incremental: Mapping[str, dict], psa: Mapping, curves_by_arm, horizon_months: float
) -> dict:
    """The deterministic ICER beside the PSA's, and why they differ.

    Both are ratios of means: the deterministic ICER is the model's incremental cost over its
    incremental QALYs at the inputs' point estimates; the PSA's is the mean incremental cost over
    the draws divided by the mean incremental QALYs (Briggs, Claxton & Sculpher 2006, ch. 4: the
    expected ICER is the ratio of the expectations, never the mean of the per-draw ratios, which is
    unstable where the QALY difference nears 0). They differ where the model is not linear in its
    uncertain inputs: the mean of the outputs over the draws is then not the output at the mean
    inputs. A partitioned-survival model on Kaplan-Meier curves is far from linear where a curve
    falls to 0 with the last participant followed: the deterministic run has no survival beyond
    that time, while every bootstrap draw that leaves that participant out (probability
    ``(1 - k/n)^n`` for ``k`` at risk of ``n``) ends above 0 and carries the exponential tail to the
    horizon. Returns, per non-reference arm: ``deterministic``, ``psa_ratio_of_means``, ``fold``
    (PSA / deterministic), the mean QALYs (deterministic and PSA) per arm, the curves that end at
    0 (``curves_ending_at_zero``) and ``reason`` in words.
    """
    qaly = {a: {"deterministic": arms[a]["qaly"], "psa_mean": psa["arms"][a]["qaly_mean"]} for a in arms}
    ends = []
    for arm, pair in curves_by_arm.items():
        for kind in ("pfs", "os"):
            c = pair[kind]
            z = _km_ends_at_zero(c) if isinstance(c, KaplanMeierCurve) else None
            if z is not None and z["time"] < horizon_months:
                z |= {
                    "arm": arm,
                    "curve": kind.upper(),
                    "share_of_draws_without_them": (1.0 - z["n_at_risk"] / z["n"]) ** z["n"],
                }
                ends.append(z)
    out = {}
    for arm, inc in incremental.items():
        det = inc["icer"]
        ratio = psa["incremental"][arm]["icer_of_means"]
        fold = ratio / det if det not in (None, 0) and ratio is not None else None
        words = [
            (
                f"Both ICERs are ratios of means: deterministic = incremental cost / incremental QALYs at the "
                f"inputs' point estimates; PSA = mean incremental cost / mean incremental QALYs over the "
                f"{psa['draws']} draws (Briggs, Claxton & Sculpher 2006), not the mean of per-draw ratios."
            )
        ]
        if fold is not None:
            words.append(f"The PSA's is {fold:.2f} times the deterministic one.")
        words.append(
            "Mean QALYs over the draws v the deterministic run: "
            + "; ".join(f"{a} {q['psa_mean']:.3f} v {q['deterministic']:.3f}" for a, q in qaly.items())
            + ": the model is not linear in its inputs, so its mean over the draws is not its value at the "
            "point estimates."
        )
        if ends:
            where = "; ".join(
                f"{z['arm']} {z['curve']} at {z['time']:.1f} months ({z['n_at_risk']} of {z['n']} at risk)"
                for z in ends
            )
            shares = sorted({round(100 * z["share_of_draws_without_them"]) for z in ends})
            share = f"{shares[0]} %" if len(shares) == 1 else f"{shares[0]}-{shares[-1]} %"
            words.append(
                f"Kaplan-Meier curves that fall to 0 with the event of the last participants followed: "
                f"{where}. The deterministic model has no survival in that state after it, while the "
                f"bootstrap draws that leave those participants out ({share} of draws: (1 - k/n)^n) end "
                f"above 0 and carry an exponential tail to the {horizon_months:g}-month horizon; the "
                f"deterministic result rests on those few participants."
            )
        out[arm] = {
            "versus": inc["versus"],
            "deterministic": det,
            "psa_ratio_of_means": ratio,
            "fold": fold,
            "qaly": qaly,
            "curves_ending_at_zero": ends,
            "reason": " ".join(words),
        }
    return out


def load_cea_scenario(name: str = "stop2") -> tuple[dict[str, dict[str, Curve]], CeaInputs, str, dict]:
    """A packaged scenario (``data/cea_<name>.yaml``): ``(curves_by_arm, inputs, reference_arm,
    document)``; ``document`` is the YAML with every value's label and source."""
    from importlib import resources

    import yaml

    try:
        text = resources.files("oligotrial").joinpath("data", f"cea_{name}.yaml").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise AnalysisError(f"scenario {name!r}: expected a packaged data/cea_<name>.yaml", field="scenario") from exc
    doc = yaml.safe_load(text)

    def value(key):
        return doc["inputs"][key]["value"]

    def se(key):
        return doc["inputs"][key].get("se")

    inputs = CeaInputs(
        horizon_months=value("horizon_months"),
        discount_rate_annual=value("discount_rate_annual"),
        utility_pf=value("utility_pf"),
        utility_pd=value("utility_pd"),
        cost_pf_month=value("cost_pf_month"),
        cost_pd_month=value("cost_pd_month"),
        upfront_cost={arm: v["value"] for arm, v in doc["inputs"]["upfront_cost"].items()},
        utility_pf_se=se("utility_pf"),
        utility_pd_se=se("utility_pd"),
        cost_pf_month_se=se("cost_pf_month"),
        cost_pd_month_se=se("cost_pd_month"),
        upfront_cost_se={arm: v["se"] for arm, v in doc["inputs"]["upfront_cost"].items() if v.get("se")},
    )
    curves = {
        arm: {kind: ExponentialCurve(c["median_months"], c.get("events")) for kind, c in pair.items()}
        for arm, pair in doc["curves"].items()
    }
    return curves, inputs, doc["reference_arm"], doc
