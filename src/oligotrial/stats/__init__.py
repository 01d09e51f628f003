"""oligotrial.stats: sample size, single-arm designs, log-rank tests and trial simulation.

The names below are loaded on first use (PEP 562): ``oligotrial design sample-size`` imports the
sample-size module alone, not the numba kernels of the log-rank test or the simulator.
"""

from oligotrial.domain.kernel import lazy_exports

#: public name -> the module that defines it
_EXPORTS = {
    "Exponential": "distributions",
    "PiecewiseExponential": "distributions",
    "Weibull": "distributions",
    "LogRankResult": "logrank",
    "logrank_batch": "logrank",
    "logrank_test": "logrank",
    "SurvivalDesign": "sample_size",
    "SurvivalSampleSize": "sample_size",
    "detectable_hazard_ratio": "sample_size",
    "event_probability": "sample_size",
    "power_survival": "sample_size",
    "required_events": "sample_size",
    "sample_size_survival": "sample_size",
    "SimonDesign": "simon",
    "SingleStageDesign": "simon",
    "simon_two_stage": "simon",
    "single_stage_binomial": "simon",
    "SimulationResult": "simulate",
    "TrialScenario": "simulate",
    "simulate_sweep": "simulate",
    "simulate_trials": "simulate",
    # trial report: response proportions, adverse events, quality of life, cost-effectiveness
    "fisher_exact_p": "binomial",
    "newcombe_difference": "binomial",
    "proportion_ci": "binomial",
    "response_rates": "binomial",
    "tally_responses": "binomial",
    "wilson_ci": "binomial",
    "adverse_event_summary": "safety",
    "eq5d5l_index": "qol",
    "qol_change_from_baseline": "qol",
    "score_qlq_c30": "qol",
    "CeaInputs": "cea",
    "ExponentialCurve": "cea",
    "KaplanMeierCurve": "cea",
    "cost_effectiveness": "cea",
    "load_cea_scenario": "cea",
    "SurvivalData": "survival",
    "analyse_survival": "survival",
    "group_curves": "survival",
    "read_survival_csv": "survival",
    "subgroup_hazard_ratios": "survival",
    "validate_survival_data": "survival",
    "KaplanMeier": "survival_km",
    "kaplan_meier": "survival_km",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
