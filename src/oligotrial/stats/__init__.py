"""oligotrial.stats: sample size, single-arm designs, log-rank tests and trial simulation.

Heavy modules (numba kernels, Dask, matplotlib) are imported lazily by their functions.
"""

from oligotrial.stats.distributions import Exponential, PiecewiseExponential, Weibull
from oligotrial.stats.logrank import LogRankResult, logrank_batch, logrank_test
from oligotrial.stats.sample_size import (SurvivalDesign, SurvivalSampleSize,
                                          detectable_hazard_ratio, event_probability,
                                          power_survival, required_events, sample_size_survival)
from oligotrial.stats.simon import SimonDesign, SingleStageDesign, simon_two_stage, single_stage_binomial
from oligotrial.stats.simulate import SimulationResult, TrialScenario, simulate_sweep, simulate_trials

__all__ = sorted([
    "Exponential", "LogRankResult", "PiecewiseExponential", "SimonDesign", "SimulationResult",
    "SingleStageDesign", "SurvivalDesign", "SurvivalSampleSize", "TrialScenario", "Weibull",
    "detectable_hazard_ratio", "event_probability", "logrank_batch", "logrank_test",
    "power_survival", "required_events", "sample_size_survival", "simon_two_stage",
    "simulate_sweep", "simulate_trials", "single_stage_binomial",
])
