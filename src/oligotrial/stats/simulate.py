"""Monte-Carlo simulation of two-arm time-to-event trials analysed by the log-rank test.

One simulated trial: ``n_subjects`` enter uniformly over ``accrual_months`` (``entry_times
"random"``: independent uniform entry times, a Poisson-like accrual; ``"even"``: the entry times
rpact's ``getSimulationSurvival`` uses, evenly spaced at ``accrual * i / n`` for ``i = 1..n``, here
in a random order so that arms stay mixed over time -- the same expected accrual, less spread in
the calendar time of the analysis, so "even" gives slightly less variable event counts and
analysis times than "random"); a fixed share
``r / (1 + r)`` is experimental (``r`` = allocation ratio experimental : control); event times
come from each arm's distribution (exponential, piecewise exponential or Weibull; optional
strata with proportional-hazards multipliers); exponential dropout hits with the probability
``dropout_rate`` by ``dropout_time_months``. The analysis happens when ``events_target`` events
have been observed (or at the last event if fewer can occur), or at ``analysis_time_months``
on the calendar. The (stratified) log-rank ``z`` is then compared with ``z_{1-alpha/sided}``.

Many trials are simulated per array operation: the random draws are whole ``(trials,
subjects)`` arrays from the injected :class:`numpy.random.Generator`, and a numba kernel,
parallel over trials, finds the analysis time and computes the log-rank statistic. With
``backend="cupy"`` (or ``"auto"`` when CuPy and a GPU are present) the same steps run as
array operations on the GPU. :func:`simulate_sweep` spreads a list of scenarios over Dask
workers (a local cluster by default).

Power / type I error is the rejection rate with Monte-Carlo standard error
``sqrt(p (1 - p) / n_trials)``.

References
----------
.. [1] Bender, R., Augustin, T. & Blettner, M. (2005). Statistics in Medicine 24, 1713-1723.
.. [2] Wassmer, G. & Brannath, W. (2016). Group Sequential and Confirmatory Adaptive Designs in
   Clinical Trials, ch. 7 (rpact ``getSimulationSurvival``).
.. [3] Morris, T. P., White, I. R. & Crowther, M. J. (2019). Using simulation studies to
   evaluate statistical methods. Statistics in Medicine 38, 2074-2102 (Monte-Carlo SE).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numba
import numpy as np
from scipy import stats

from oligotrial.errors import DesignError
from oligotrial.stats.distributions import EventDistribution, Exponential, PiecewiseExponential, Weibull
from oligotrial.stats.logrank import _logrank_two_group, logrank_batch_xp

__all__ = ["SimulationResult", "TrialScenario", "gpu_available", "simulate_sweep", "simulate_trials"]

Backend = Literal["auto", "numba", "numpy", "cupy"]


def _check_prob(name: str, value: float, *, upper_open: bool = True) -> float:
    value = float(value)
    ok = 0.0 <= value < 1.0 if upper_open else 0.0 < value < 1.0
    if not math.isfinite(value) or not ok:
        raise DesignError(f"{name} {value}: expected a probability in [0, 1)", field=name)
    return value


@dataclass(frozen=True)
class TrialScenario:
    """A validated simulation scenario (see the module docstring for the model)."""

    n_subjects: int
    control: EventDistribution
    experimental: EventDistribution
    accrual_months: float
    events_target: int | None = None
    analysis_time_months: float | None = None
    allocation_ratio: float = 1.0
    dropout_rate_experimental: float = 0.0
    dropout_rate_control: float = 0.0
    dropout_time_months: float = 12.0
    alpha: float = 0.025
    sided: int = 1
    direction: Literal["lower", "upper"] = "lower"
    strata_proportions: tuple[float, ...] = (1.0,)
    strata_hazard_multipliers: tuple[float, ...] = (1.0,)
    stratified_test: bool = True
    entry_times: Literal["random", "even"] = "random"

    def __post_init__(self) -> None:
        n = self.n_subjects
        if self.entry_times not in ("random", "even"):
            raise DesignError(
                f"entry_times {self.entry_times!r}: expected 'random' (uniform draws) or 'even' "
                "(evenly spaced, as rpact)",
                field="entry_times",
            )
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
            raise DesignError(f"n_subjects {n!r}: expected an integer >= 2", field="n_subjects")
        accrual = float(self.accrual_months)
        if not math.isfinite(accrual) or accrual <= 0:
            raise DesignError(
                f"accrual_months {self.accrual_months}: expected an accrual period > 0 months", field="accrual_months"
            )
        if (self.events_target is None) == (self.analysis_time_months is None):
            raise DesignError(
                "events_target / analysis_time_months: expected exactly one of "
                "a target number of events or a calendar analysis time",
                field="events_target",
            )
        if self.events_target is not None:
            d = self.events_target
            if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 1 <= d <= n:
                raise DesignError(f"events_target {d!r}: expected an integer in 1..{n}", field="events_target")
        if self.analysis_time_months is not None:
            t = float(self.analysis_time_months)
            if not math.isfinite(t) or t <= 0:
                raise DesignError(f"analysis_time_months {t}: expected a time > 0 months", field="analysis_time_months")
        r = float(self.allocation_ratio)
        if not math.isfinite(r) or r <= 0:
            raise DesignError(f"allocation_ratio {r}: expected a ratio > 0", field="allocation_ratio")
        n_exp = round(n * r / (1.0 + r))
        if not 1 <= n_exp <= n - 1:
            raise DesignError(
                f"allocation_ratio {r}: expected both arms to get subjects out of {n}", field="allocation_ratio"
            )
        _check_prob("dropout_rate_experimental", self.dropout_rate_experimental)
        _check_prob("dropout_rate_control", self.dropout_rate_control)
        if not float(self.dropout_time_months) > 0:
            raise DesignError(
                f"dropout_time_months {self.dropout_time_months}: expected > 0", field="dropout_time_months"
            )
        _check_prob("alpha", self.alpha, upper_open=False)
        if self.sided not in (1, 2):
            raise DesignError(f"sided {self.sided!r}: expected 1 or 2", field="sided")
        if self.direction not in ("lower", "upper"):
            raise DesignError(f"direction {self.direction!r}: expected 'lower' or 'upper'", field="direction")
        props = tuple(float(p) for p in self.strata_proportions)
        mults = tuple(float(m) for m in self.strata_hazard_multipliers)
        if len(props) != len(mults) or not props:
            raise DesignError(
                f"strata_hazard_multipliers {mults}: expected one per stratum ({len(props)})",
                field="strata_hazard_multipliers",
            )
        if any(p <= 0 for p in props) or abs(sum(props) - 1.0) > 1e-9:
            raise DesignError(
                f"strata_proportions {props}: expected positive proportions summing to 1", field="strata_proportions"
            )
        if any(m <= 0 or not math.isfinite(m) for m in mults):
            raise DesignError(
                f"strata_hazard_multipliers {mults}: expected multipliers > 0", field="strata_hazard_multipliers"
            )
        for dist_name in ("control", "experimental"):
            if not isinstance(getattr(self, dist_name), (Exponential, Weibull, PiecewiseExponential)):
                raise DesignError(
                    f"{dist_name} {getattr(self, dist_name)!r}: expected an "
                    "Exponential, Weibull or PiecewiseExponential",
                    field=dist_name,
                )
        object.__setattr__(self, "n_subjects", int(n))
        object.__setattr__(self, "accrual_months", accrual)
        object.__setattr__(self, "allocation_ratio", r)
        object.__setattr__(self, "strata_proportions", props)
        object.__setattr__(self, "strata_hazard_multipliers", mults)

    @classmethod
    def proportional_hazards(
        cls,
        *,
        n_subjects: int,
        median_control_months: float,
        hazard_ratio: float,
        accrual_months: float,
        shape: float = 1.0,
        **kwargs,
    ) -> TrialScenario:
        """Exponential (``shape == 1``) or Weibull control arm and a hazard ratio."""
        if shape == 1.0:
            control: EventDistribution = Exponential(median_control_months)
        else:
            control = Weibull.from_median(median_control_months, shape)
        return cls(
            n_subjects=n_subjects,
            control=control,
            experimental=control.with_hazard_ratio(hazard_ratio),
            accrual_months=accrual_months,
            **kwargs,
        )

    @property
    def n_experimental(self) -> int:
        r = self.allocation_ratio
        return round(self.n_subjects * r / (1.0 + r))

    @property
    def critical_value(self) -> float:
        return float(stats.norm.isf(self.alpha / self.sided))

    def dropout_hazards(self) -> tuple[float, float]:
        t = float(self.dropout_time_months)
        return (-math.log1p(-self.dropout_rate_experimental) / t, -math.log1p(-self.dropout_rate_control) / t)


@dataclass(frozen=True)
class SimulationResult:
    """Per-trial outcomes of :func:`simulate_trials` and their summaries."""

    scenario: TrialScenario
    z: np.ndarray
    rejected: np.ndarray
    analysis_time_months: np.ndarray
    events: np.ndarray
    events_experimental: np.ndarray
    enrolled: np.ndarray
    target_reached: np.ndarray
    backend: str

    @property
    def n_trials(self) -> int:
        return int(self.z.size)

    @property
    def rejection_rate(self) -> float:
        """Power under an alternative, type I error under the null."""
        return float(np.mean(self.rejected))

    @property
    def mc_se(self) -> float:
        """Monte-Carlo standard error of the rejection rate, sqrt(p (1 - p) / n)."""
        p = self.rejection_rate
        return math.sqrt(p * (1.0 - p) / self.n_trials)

    def summary(self) -> dict:
        q = (0.05, 0.25, 0.5, 0.75, 0.95)

        def describe(x: np.ndarray) -> dict:
            return {
                "mean": float(np.mean(x)),
                "sd": float(np.std(x, ddof=1)),
                **{f"q{int(p * 100):02d}": float(v) for p, v in zip(q, np.quantile(x, q))},
            }

        return {
            "n_trials": self.n_trials,
            "rejection_rate": self.rejection_rate,
            "mc_se": self.mc_se,
            "backend": self.backend,
            "fraction_events_target_reached": float(np.mean(self.target_reached)),
            "duration_months": describe(self.analysis_time_months),
            "events": describe(self.events),
            "events_experimental": describe(self.events_experimental),
            "enrolled": describe(self.enrolled),
        }


@numba.njit(cache=True, inline="always")
def _inv_cumhaz(x, kind, par, starts, hazards, cum, nseg):
    """Inverse cumulative hazard: 0 exponential (rate), 1 Weibull (scale, 1/shape), 2 piecewise."""
    if kind == 0:
        return x / par[0]
    if kind == 1:
        return par[0] * x ** par[1]
    j = nseg - 1
    while j > 0 and cum[j] > x:
        j -= 1
    return starts[j] + (x - cum[j]) / hazards[j]


@numba.njit(cache=True, nogil=True)
def _bucket_argsort(x, order, counts):
    """Order of the finite entries of ``x`` (``+inf`` = absent) in ``order[:m]``; returns ``m``.

    A bucket sort (one bucket per value over ``[min, max]``) followed by an insertion sort,
    which is expected O(n) for continuous data; numba's general sort is several times slower
    at a hundred-odd elements. ``counts`` is a work array of length ``len(x) + 1``.
    """
    n = x.shape[0]
    lo = np.inf
    hi = -np.inf
    m = 0
    for i in range(n):
        v = x[i]
        if v < np.inf:
            m += 1
            lo = min(lo, v)
            hi = max(hi, v)
    if m == 0:
        return 0
    for j in range(m + 1):
        counts[j] = 0
    scale = m / (hi - lo) if hi > lo else 0.0
    for i in range(n):
        v = x[i]
        if v < np.inf:
            j = min(int((v - lo) * scale), m - 1)
            counts[j + 1] += 1
    for j in range(m):
        counts[j + 1] += counts[j]
    for i in range(n):
        v = x[i]
        if v < np.inf:
            j = min(int((v - lo) * scale), m - 1)
            order[counts[j]] = i
            counts[j] += 1
    for k in range(1, m):
        i = order[k]
        v = x[i]
        j = k - 1
        while j >= 0 and x[order[j]] > v:
            order[j + 1] = order[j]
            j -= 1
        order[j + 1] = i
    return m


@numba.njit(cache=True, nogil=True)
def _logrank_sorted(obs, ev, arm, order, m):
    """Unstratified two-group log-rank over ``order[:m]`` (times ascending; ties exact)."""
    n_risk = float(m)
    n1_risk = 0.0
    for k in range(m):
        n1_risk += arm[order[k]]
    u = 0.0
    v = 0.0
    n_events = 0
    k = 0
    while k < m:
        t = obs[order[k]]
        d = 0.0
        d1 = 0.0
        r1 = 0.0
        j = k
        while j < m and obs[order[j]] == t:
            i = order[j]
            a = arm[i]
            r1 += a
            if ev[i]:
                d += 1.0
                d1 += a
            j += 1
        if d > 0.0:
            p1 = n1_risk / n_risk
            u += d1 - d * p1
            n_events += int(d)
            if n_risk > 1.0:
                v += d * p1 * (1.0 - p1) * (n_risk - d) / (n_risk - 1.0)
        n_risk -= j - k
        n1_risk -= r1
        k = j
    return u, v, n_events


@numba.njit(cache=True, parallel=True)
def _simulate_kernel(
    u_entry,
    e_event,
    e_drop,
    eta,
    stratum,
    mult,
    accrual,
    arm,
    kinds,
    pars,
    starts,
    hazards,
    cums,
    nsegs,
    n_strata,
    events_target,
    analysis_time,
):
    """Per trial: event/dropout times, analysis time, observed data and the log-rank ``z``.

    ``e_drop`` has shape ``(1, 1)`` when there is no dropout; ``stratum`` has one row when
    every subject is in stratum 0; ``n_strata`` is the number of strata the test uses.
    """
    n_trials, n = u_entry.shape
    has_drop = e_drop.shape[1] == n
    has_strata = stratum.shape[0] == n_trials
    z = np.empty(n_trials)
    t_out = np.empty(n_trials)
    ev_out = np.empty(n_trials, dtype=np.int64)
    ev1_out = np.empty(n_trials, dtype=np.int64)
    enr_out = np.empty(n_trials, dtype=np.int64)
    reached = np.empty(n_trials, dtype=np.bool_)
    for b in numba.prange(n_trials):
        order = np.empty(n, dtype=np.int64)
        counts = np.empty(n + 1, dtype=np.int64)
        entry = np.empty(n)
        et = np.empty(n)
        dt = np.empty(n)
        cal = np.empty(n)
        n_possible = 0
        last = 0.0
        last_entry = 0.0
        for i in range(n):
            a = arm[i]
            x = e_event[b, i]
            if has_strata:
                x = x / mult[stratum[b, i]]
            et[i] = _inv_cumhaz(x, kinds[a], pars[a], starts[a], hazards[a], cums[a], nsegs[a])
            dt[i] = e_drop[b, i] / eta[a] if has_drop and eta[a] > 0.0 else np.inf
            entry[i] = accrual * u_entry[b, i]
            last_entry = max(last_entry, entry[i])
            if et[i] <= dt[i]:
                cal[i] = entry[i] + et[i]
                n_possible += 1
                last = max(last, cal[i])
            else:
                cal[i] = np.inf
        if events_target > 0:
            if n_possible >= events_target:
                _bucket_argsort(cal, order, counts)
                ta = cal[order[events_target - 1]]
                reached[b] = True
            else:
                ta = max(last, last_entry)
                reached[b] = False
        else:
            ta = analysis_time
            reached[b] = True
        obs = cal  # reuse the buffer
        ev = np.empty(n, dtype=np.bool_)
        inc = np.empty(n, dtype=np.bool_)
        n_enr = 0
        n1 = 0
        for i in range(n):
            x = ta - entry[i]
            inc[i] = x >= 0.0
            # compare calendar times (the exact values that defined ta), not et with ta - entry,
            # so the subject whose event defines the analysis time is counted despite rounding
            ev[i] = inc[i] and cal[i] <= ta
            if inc[i]:
                obs[i] = et[i] if ev[i] else min(dt[i], x)
                n_enr += 1
            else:
                obs[i] = np.inf
            if ev[i] and arm[i] == 1:
                n1 += 1
        if n_strata == 1:
            m = _bucket_argsort(obs, order, counts)
            u, v, n_ev = _logrank_sorted(obs, ev, arm, order, m)
        else:
            u, v, _, _, n_ev = _logrank_two_group(obs, ev, arm, stratum[b], n_strata, inc)
        z[b] = u / math.sqrt(v) if v > 0.0 else 0.0
        t_out[b] = ta
        ev_out[b] = n_ev
        ev1_out[b] = n1
        enr_out[b] = n_enr
    return z, t_out, ev_out, ev1_out, enr_out, reached


def _kernel_params(scn: TrialScenario):
    """Encode the two arms' distributions for the kernel (index 0 control, 1 experimental)."""
    dists = (scn.control, scn.experimental)
    k_max = max(len(d.starts_months) if isinstance(d, PiecewiseExponential) else 1 for d in dists)
    kinds = np.zeros(2, dtype=np.int64)
    pars = np.zeros((2, 2))
    starts = np.zeros((2, k_max))
    hazards = np.ones((2, k_max))
    cums = np.zeros((2, k_max))
    nsegs = np.ones(2, dtype=np.int64)
    for a, d in enumerate(dists):
        if isinstance(d, Exponential):
            kinds[a], pars[a, 0] = 0, d.hazard_per_month
        elif isinstance(d, Weibull):
            kinds[a], pars[a] = 1, (d.scale_months, 1.0 / d.shape)
        else:
            k = len(d.starts_months)
            kinds[a], nsegs[a] = 2, k
            starts[a, :k] = d.starts_months
            hazards[a, :k] = [h if h > 0 else 1.0 for h in d.hazards_per_month]
            cums[a, :k] = d._cum
    return kinds, pars, starts, hazards, cums, nsegs


def gpu_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 -- any import or driver failure means no usable GPU
        return False


def _resolve_backend(backend: Backend) -> str:
    if backend == "auto":
        return "cupy" if gpu_available() else "numba"
    if backend not in ("numba", "numpy", "cupy"):
        raise DesignError(f"backend {backend!r}: expected auto, numba, numpy or cupy", field="backend")
    if backend == "cupy" and not gpu_available():
        raise DesignError("backend 'cupy': expected CuPy installed and a CUDA GPU present", field="backend")
    return backend


#: a chunk of at least this many draws per array is drawn as two sub-streams on two threads
_PARALLEL_DRAWS = 1 << 16
_STREAMS = 2


def _fill(gens, method: str, shape: tuple[int, int]) -> np.ndarray:
    """``shape`` numbers from ``method`` of each generator in ``gens``, rows split evenly between
    them and filled on one thread each (NumPy's bulk fills release the GIL). The split depends
    only on the number of generators, never on the number of cores, so results reproduce."""
    out = np.empty(shape)
    bounds = np.linspace(0, shape[0], len(gens) + 1).astype(int)
    parts = [(g, out[a:b]) for g, a, b in zip(gens, bounds[:-1], bounds[1:]) if b > a]
    list(_pool().map(lambda p: getattr(p[0], method)(out=p[1]), parts))
    return out


_POOL = None


def _pool():
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(_STREAMS, thread_name_prefix="oligotrial-draw")
    return _POOL


def _even(scn: TrialScenario, u_entry, xp):
    """With ``entry_times="even"``: each trial's uniform draws replaced by their ranks, (rank + 1) / n,
    so the entry times are rpact's evenly spaced ``accrual * i / n`` in a random order (the arms,
    fixed by index, stay mixed over calendar time); otherwise the draws unchanged."""
    if scn.entry_times != "even":
        return u_entry
    n = u_entry.shape[1]
    ranks = xp.argsort(xp.argsort(u_entry, axis=1), axis=1)
    return (ranks + 1.0) / n


def _draw_raw(scn: TrialScenario, n_trials: int, rng, xp):
    """The chunk's random numbers, always drawn in the same order (every backend). A large chunk
    on the CPU is drawn as ``_STREAMS`` independent sub-streams spawned from ``rng`` (NumPy
    ``SeedSequence`` spawning), in parallel; a small one, or one on a GPU, from ``rng`` itself."""
    n = scn.n_subjects
    eta_e, eta_c = scn.dropout_hazards()
    if xp is np and n_trials * n >= _PARALLEL_DRAWS:
        gens = rng.spawn(_STREAMS)
        u_entry = _fill(gens, "random", (n_trials, n))
        e_event = _fill(gens, "standard_exponential", (n_trials, n))
        if len(scn.strata_proportions) > 1:
            cum = np.cumsum(scn.strata_proportions)[:-1]
            stratum = np.searchsorted(cum, _fill(gens, "random", (n_trials, n)), side="right").astype(np.int64)
        else:
            stratum = np.zeros((1, n), dtype=np.int64)
        e_drop = _fill(gens, "standard_exponential", (n_trials, n)) if eta_e > 0 or eta_c > 0 else np.zeros((1, 1))
        return _even(scn, u_entry, xp), e_event, stratum, e_drop
    u_entry = _even(scn, rng.random((n_trials, n)), xp)
    e_event = rng.standard_exponential((n_trials, n))
    if len(scn.strata_proportions) > 1:
        cum = xp.asarray(np.cumsum(scn.strata_proportions)[:-1])
        stratum = xp.searchsorted(cum, rng.random((n_trials, n)), side="right").astype(xp.int64)
    else:
        stratum = xp.zeros((1, n), dtype=xp.int64)
    if eta_e > 0 or eta_c > 0:
        e_drop = rng.standard_exponential((n_trials, n))
    else:
        e_drop = xp.zeros((1, 1))
    return u_entry, e_event, stratum, e_drop


def _transform(scn: TrialScenario, raw, xp):
    """Entry, event and dropout times from the raw draws, as whole-array operations."""
    u_entry, e_event, stratum, e_drop = raw
    n_trials, n = u_entry.shape
    n_e = scn.n_experimental
    entry = scn.accrual_months * u_entry
    e = e_event
    if stratum.shape[0] == n_trials:
        e = e / xp.asarray(np.asarray(scn.strata_hazard_multipliers))[stratum]
    event_time = xp.empty((n_trials, n))
    event_time[:, :n_e] = scn.experimental.inverse_cumulative_hazard(e[:, :n_e], xp)
    event_time[:, n_e:] = scn.control.inverse_cumulative_hazard(e[:, n_e:], xp)
    eta_e, eta_c = scn.dropout_hazards()
    dropout = xp.full((n_trials, n), xp.inf)
    if e_drop.shape[1] == n:
        if eta_e > 0:
            dropout[:, :n_e] = e_drop[:, :n_e] / eta_e
        if eta_c > 0:
            dropout[:, n_e:] = e_drop[:, n_e:] / eta_c
    return entry, event_time, dropout, stratum


def _chunk_xp(scn: TrialScenario, entry, event_time, dropout, stratum, arm, xp):
    """The kernel's steps as whole-array operations (NumPy or CuPy), for continuous data."""
    n_trials, n = entry.shape
    cal = xp.where(event_time <= dropout, entry + event_time, xp.inf)
    if scn.events_target is not None:
        k = scn.events_target
        ordered = xp.sort(cal, axis=1)
        kth = ordered[:, k - 1]
        reached = xp.isfinite(kth)
        finite_last = xp.max(xp.where(xp.isfinite(cal), cal, -xp.inf), axis=1)
        fallback = xp.maximum(finite_last, xp.max(entry, axis=1))
        ta = xp.where(reached, kth, fallback)
    else:
        ta = xp.full(n_trials, float(scn.analysis_time_months))
        reached = xp.ones(n_trials, dtype=bool)
    x = ta[:, None] - entry
    inc = x >= 0
    ev = inc & (cal <= ta[:, None])
    obs = xp.where(ev, event_time, xp.minimum(dropout, x))
    obs = xp.where(inc, obs, xp.inf)
    n_strata = len(scn.strata_proportions)
    strata = stratum if stratum.shape[0] == n_trials else xp.broadcast_to(stratum, (n_trials, n))
    arm2 = xp.broadcast_to(xp.asarray(arm), (n_trials, n))
    z = logrank_batch_xp(obs, ev, arm2, strata if n_strata > 1 else None, n_strata, xp)
    events = xp.sum(ev, axis=1)
    events1 = xp.sum(ev & (arm2 == 1), axis=1)
    return z, ta, events, events1, xp.sum(inc, axis=1), reached


def simulate_trials(
    scenario: TrialScenario,
    n_trials: int,
    *,
    rng: np.random.Generator | int | None = None,
    backend: Backend = "auto",
    chunk_trials: int = 8192,
    progress: bool = False,
) -> SimulationResult:
    """Simulate ``n_trials`` trials of ``scenario``.

    Parameters
    ----------
    scenario : TrialScenario
    n_trials : int
    rng : numpy.random.Generator or int
        The only source of randomness (a seed is turned into ``default_rng(seed)``). Results
        are reproducible for a given generator state, backend and ``chunk_trials``.
    backend : {"auto", "numba", "numpy", "cupy"}
        ``"auto"`` uses CuPy when it imports and a GPU is present, otherwise numba.
    chunk_trials : int
        Trials per array operation (bounds memory: about ``40 * chunk * n_subjects`` bytes).
    progress : bool
        Show a rich progress bar over chunks.
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise DesignError(f"n_trials {n_trials!r}: expected an integer >= 1", field="n_trials")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    chosen = _resolve_backend(backend)
    scn = scenario
    arm = np.zeros(scn.n_subjects, dtype=np.int8)
    arm[: scn.n_experimental] = 1
    if chosen == "cupy":
        import cupy as xp

        draw_rng = xp.random.default_rng(int(rng.integers(2**63)))
    else:
        xp = np
        draw_rng = rng
    n_strata = len(scn.strata_proportions)
    analysis_n_strata = n_strata if scn.stratified_test else 1
    parts: list[tuple] = []
    sizes = [min(chunk_trials, n_trials - s) for s in range(0, n_trials, chunk_trials)]

    kernel_args = _kernel_params(scn)
    eta_e, eta_c = scn.dropout_hazards()
    eta = np.array([eta_c, eta_e])  # indexed by arm: 0 control, 1 experimental
    mult = np.asarray(scn.strata_hazard_multipliers, dtype=np.float64)

    def run_chunk(size: int) -> None:
        raw = _draw_raw(scn, size, draw_rng, xp)
        if chosen == "numba":
            u_entry, e_event, stratum, e_drop = raw
            out = _simulate_kernel(
                u_entry,
                e_event,
                e_drop,
                eta,
                stratum,
                mult,
                scn.accrual_months,
                arm,
                *kernel_args,
                analysis_n_strata,
                int(scn.events_target or 0),
                float(scn.analysis_time_months or 0.0),
            )
        else:
            entry, event_time, dropout, stratum = _transform(scn, raw, xp)
            if analysis_n_strata == 1:
                stratum = xp.zeros((1, scn.n_subjects), dtype=xp.int64)
            out = _chunk_xp(scn, entry, event_time, dropout, stratum, arm, xp)
            if chosen == "cupy":
                out = tuple(xp.asnumpy(o) for o in out)
        parts.append(out)

    if progress:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TimeRemainingColumn,
        )

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task("simulating trials", total=n_trials)
            for size in sizes:
                run_chunk(size)
                bar.advance(task, size)
    else:
        for size in sizes:
            run_chunk(size)
    z, ta, events, events1, enrolled, reached = (np.concatenate([p[i] for p in parts]) for i in range(6))
    crit = scn.critical_value
    if scn.sided == 2:
        rejected = np.abs(z) > crit
    elif scn.direction == "lower":
        rejected = z < -crit
    else:
        rejected = z > crit
    return SimulationResult(
        scenario=scn,
        z=z,
        rejected=rejected,
        analysis_time_months=ta.astype(float),
        events=events.astype(np.int64),
        events_experimental=events1.astype(np.int64),
        enrolled=enrolled.astype(np.int64),
        target_reached=reached.astype(bool),
        backend=chosen,
    )


def _sweep_task(
    scenario: TrialScenario, n_trials: int, seed_seq: np.random.SeedSequence, backend: Backend, chunk_trials: int
) -> dict:
    res = simulate_trials(
        scenario, n_trials, rng=np.random.default_rng(seed_seq), backend=backend, chunk_trials=chunk_trials
    )
    return res.summary()


def simulate_sweep(
    scenarios: Sequence[TrialScenario],
    n_trials: int,
    *,
    seed: int = 0,
    client=None,
    scheduler: str | None = None,
    n_workers: int = 2,
    backend: Backend = "numba",
    chunk_trials: int = 8192,
    progress: bool = False,
) -> list[dict]:
    """Simulate every scenario (one Dask task each) and return their summaries in order.

    Each scenario gets its own child of ``numpy.random.SeedSequence(seed)``, so results do not
    depend on which worker runs what. With neither ``client`` nor ``scheduler`` a
    ``distributed.LocalCluster`` of ``n_workers`` processes is started and closed; pass
    ``scheduler="synchronous"`` (or ``"threads"``) to stay in-process, or an existing
    ``distributed.Client`` to use a cluster.
    """
    import dask

    scenarios = list(scenarios)
    children = np.random.SeedSequence(seed).spawn(len(scenarios))
    tasks = [dask.delayed(_sweep_task)(s, n_trials, c, backend, chunk_trials) for s, c in zip(scenarios, children)]
    if scheduler is not None:
        return list(dask.compute(*tasks, scheduler=scheduler))
    owned = None
    if client is None:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
        owned = (Client(cluster), cluster)
        client = owned[0]
    try:
        futures = client.compute(tasks)
        if progress:
            from distributed import progress as dask_progress

            dask_progress(futures)
        return list(client.gather(futures))
    finally:
        if owned is not None:
            owned[0].close()
            owned[1].close()


def scenario_to_dict(scenario: TrialScenario) -> dict:
    """A JSON-ready description of a scenario."""
    out = asdict(scenario)
    for key in ("control", "experimental"):
        dist = getattr(scenario, key)
        out[key] = {"kind": type(dist).__name__, **{k: v for k, v in asdict(dist).items() if not k.startswith("_")}}
    return out
