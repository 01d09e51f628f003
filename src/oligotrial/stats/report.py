"""Design reports for the seed trials: assumptions with their sources, the sample size they
imply next to the registered enrolment, and power curves drawn as PNG.

The assumptions are data (``stats/data/design_assumptions.yaml``): every number carries a
``source`` -- ``registry`` (the registry record), ``calibration`` (a calibration trial in
``shared/reference/trial-evidence.md``) or ``convention`` (not registered; a conventional
planning value). Nothing here invents a registry fact: absent values read "not registered".

Accrual and follow-up are not registered for any seed trial; the registered start and
completion dates give the total study time and a stated fraction of it is taken as accrual.

References
----------
.. [1] Schoenfeld, D. A. (1983). Biometrics 39, 499-503.
.. [2] Lachin, J. M. & Foulkes, M. A. (1986). Biometrics 42, 507-519.
.. [3] Simon, R. (1989). Controlled Clinical Trials 10, 1-10.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from oligotrial.errors import DesignError
from oligotrial.stats.sample_size import (
    SurvivalDesign,
    detectable_hazard_ratio,
    expected_events,
    power_survival,
    sample_size_survival,
)
from oligotrial.stats.simon import simon_two_stage, single_stage_binomial

__all__ = ["build_reports", "known_trials", "load_assumptions", "trial_report"]

_DAYS_PER_MONTH = 365.25 / 12.0
_VALID_SOURCES = {"registry", "calibration", "convention"}


@lru_cache(maxsize=1)
def load_assumptions() -> dict:
    """The packaged assumptions file, validated (every entry has a known ``source``)."""
    text = resources.files("oligotrial.stats").joinpath("data/design_assumptions.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    for trial_id, trial in data["trials"].items():
        for key, entry in trial.items():
            if isinstance(entry, dict) and entry.get("source") not in _VALID_SOURCES:
                raise DesignError(
                    f"{trial_id}.{key} source {entry.get('source')!r}: expected one of {sorted(_VALID_SOURCES)}",
                    field=f"{trial_id}.{key}",
                )
    return data


def known_trials() -> list[str]:
    return list(load_assumptions()["trials"])


def _value(trial: dict, key: str):
    return trial[key]["value"]


def _label(entry: dict) -> str:
    src = entry["source"]
    detail = entry.get("quote") or entry.get("evidence") or entry.get("note") or ""
    if src == "registry" and entry.get("quote"):
        return f'registry: "{detail}"'
    return f"{src}: {detail}" if detail else src


def _study_months(trial: dict) -> float:
    start = dt.date.fromisoformat(_value(trial, "study_start"))
    end = dt.date.fromisoformat(_value(trial, "study_completion"))
    return (end - start).days / _DAYS_PER_MONTH


def _survival_design(trial: dict, hazard_ratio: float | None = None) -> SurvivalDesign:
    total = _study_months(trial)
    accrual = total * _value(trial, "accrual_fraction_of_study")
    return SurvivalDesign(
        hazard_ratio=hazard_ratio if hazard_ratio is not None else _value(trial, "hazard_ratio"),
        alpha=_value(trial, "alpha"),
        sided=_value(trial, "sided"),
        power=_value(trial, "power"),
        median_control_months=_value(trial, "median_control_months"),
        accrual_months=accrual,
        follow_up_months=total - accrual,
        dropout_rate_experimental=_value(trial, "dropout_rate"),
        dropout_rate_control=_value(trial, "dropout_rate"),
        dropout_time_months=_value(trial, "dropout_time_months"),
        allocation_ratio=_value(trial, "allocation_ratio"),
    )


def _rows(trial: dict, keys: list[str]) -> list[dict]:
    rows = []
    for key in keys:
        entry = trial[key]
        value = entry["value"]
        rows.append(
            {
                "label": key,
                "value": "not registered" if value is None else value,
                "source": _label(entry),
                "kind": entry["source"],
            }
        )
    return rows


def _survival_report(trial_id: str, trial: dict, out_dir: Path, sim_trials: int, seed: int) -> dict:
    design = _survival_design(trial)
    ss = sample_size_survival(design)
    registered = _value(trial, "registered_enrolment")
    n_eval = registered if registered is not None else ss.subjects_ceil
    events_at_registered = expected_events(design, n_eval)
    power_at_registered = power_survival(
        design.hazard_ratio, events_at_registered, design.alpha, design.sided, design.allocation_ratio
    )
    detectable = detectable_hazard_ratio(
        events_at_registered, design.alpha, design.power, design.sided, design.allocation_ratio
    )
    hr_grid = np.round(np.arange(0.30, 1.001, 0.025), 4)
    curve_registered = power_survival(
        hr_grid, events_at_registered, design.alpha, design.sided, design.allocation_ratio
    )
    curve_implied = power_survival(hr_grid, ss.events, design.alpha, design.sided, design.allocation_ratio)
    sim_points = []
    if sim_trials > 0:
        from oligotrial.stats.simulate import TrialScenario, simulate_trials

        rng = np.random.default_rng(seed)
        for hr in (0.4, 0.5, 0.6, 0.7, 0.8, 1.0):
            scn = TrialScenario.proportional_hazards(
                n_subjects=int(n_eval),
                median_control_months=design.median_control_months,
                hazard_ratio=hr,
                accrual_months=design.accrual_months,
                analysis_time_months=design.accrual_months + design.follow_up_months,
                allocation_ratio=design.allocation_ratio,
                dropout_rate_experimental=design.dropout_rate_experimental,
                dropout_rate_control=design.dropout_rate_control,
                dropout_time_months=design.dropout_time_months,
                alpha=design.alpha,
                sided=design.sided,
            )
            res = simulate_trials(scn, sim_trials, rng=rng, backend="numba")
            sim_points.append({"hazard_ratio": hr, "power": res.rejection_rate, "mc_se": res.mc_se})
    png = out_dir / f"{trial_id}_power_curve.png"
    _plot_survival(
        png, trial_id, trial, hr_grid, curve_registered, curve_implied, n_eval, registered, ss, design, sim_points
    )
    rows = _rows(
        trial,
        [
            "phase",
            "primary_endpoint",
            "registered_enrolment",
            "allocation_ratio",
            "study_start",
            "study_completion",
            "accrual_fraction_of_study",
            "median_control_months",
            "hazard_ratio",
            "alpha",
            "sided",
            "power",
            "dropout_rate",
            "dropout_time_months",
        ],
    )
    derived = {
        "accrual_months": design.accrual_months,
        "follow_up_months": design.follow_up_months,
        "events_required": ss.events,
        "events_required_ceil": ss.events_ceil,
        "subjects_implied": ss.subjects,
        "subjects_implied_ceil": ss.subjects_ceil,
        "registered_enrolment_compared": registered if registered is not None else "not registered",
        "expected_events_at_registered_enrolment": events_at_registered,
        "power_at_registered_enrolment": power_at_registered,
        "hazard_ratio_detectable_at_registered_enrolment": detectable,
    }
    for key, value in derived.items():
        rows.append({"label": key, "value": _fmt(value), "source": "derived (oligotrial)", "kind": "derived"})
    return {
        "trial_id": trial_id,
        "short_name": trial["short_name"],
        "design": trial["design"],
        "rows": rows,
        "derived": derived,
        "simulated_power": sim_points,
        "power_curve": {
            "hazard_ratio": hr_grid.tolist(),
            "power_at_registered_enrolment": np.asarray(curve_registered).tolist(),
            "power_at_implied_events": np.asarray(curve_implied).tolist(),
        },
        "png": str(png),
    }


def _fmt(value):
    if isinstance(value, float):
        return round(value, 4)
    return value


def _plot_survival(
    png: Path, trial_id, trial, hr_grid, curve_reg, curve_impl, n_eval, registered, ss, design, sim_points
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    label_n = f"registered N = {registered}" if registered is not None else f"N = {n_eval}"
    ax.plot(hr_grid, curve_reg, lw=2, label=f"analytic, {label_n}")
    ax.plot(
        hr_grid,
        curve_impl,
        lw=1.5,
        ls="--",
        label=f"analytic, implied N = {ss.subjects_ceil} ({ss.events_ceil} events)",
    )
    if sim_points:
        ax.errorbar(
            [p["hazard_ratio"] for p in sim_points],
            [p["power"] for p in sim_points],
            yerr=[2 * p["mc_se"] for p in sim_points],
            fmt="o",
            ms=4,
            capsize=3,
            label=f"simulated, {label_n} (±2 MC SE)",
        )
    ax.axhline(design.power, color="grey", lw=0.8, ls=":")
    ax.axvline(design.hazard_ratio, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("hazard ratio (experimental : control)")
    ax.set_ylabel("power")
    ax.set_ylim(0, 1.02)
    ax.set_title(
        f"{trial_id} {trial['short_name']}: log-rank power, control median {design.median_control_months:g} mo",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def _single_arm_report(trial_id: str, trial: dict, out_dir: Path) -> dict:
    p0, p1 = _value(trial, "p0"), _value(trial, "p1")
    alpha, power = _value(trial, "alpha"), _value(trial, "power")
    single = single_stage_binomial(p0, p1, alpha, power)
    optimal = simon_two_stage(p0, p1, alpha, power, kind="optimal")
    minimax = simon_two_stage(p0, p1, alpha, power, kind="minimax")
    registered = _value(trial, "registered_enrolment")
    p_grid = np.round(np.linspace(0.0, 0.6, 61), 4)
    from scipy import stats

    def reject_prob(d, p):
        x1 = np.arange(d.r1 + 1, d.n1 + 1)
        return float(np.sum(stats.binom.pmf(x1, d.n1, p) * stats.binom.sf(d.r - x1, d.n - d.n1, p)))

    curves = {
        "single_stage": [float(stats.binom.sf(single.reject_at - 1, single.n, p)) for p in p_grid],
        "simon_optimal": [reject_prob(optimal, p) for p in p_grid],
        "simon_minimax": [reject_prob(minimax, p) for p in p_grid],
    }
    png = out_dir / f"{trial_id}_power_curve.png"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    ax.plot(p_grid, curves["single_stage"], lw=2, label=f"single stage n={single.n}, reject if ≥{single.reject_at}")
    ax.plot(
        p_grid,
        curves["simon_optimal"],
        ls="--",
        label=f"Simon optimal {optimal.r1}/{optimal.n1}, {optimal.r}/{optimal.n}",
    )
    ax.plot(
        p_grid,
        curves["simon_minimax"],
        ls="-.",
        label=f"Simon minimax {minimax.r1}/{minimax.n1}, {minimax.r}/{minimax.n}",
    )
    ax.axvline(p0, color="grey", lw=0.8, ls=":")
    ax.axvline(p1, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("true objective response rate")
    ax.set_ylabel("probability of declaring the regimen promising")
    ax.set_title(f"{trial_id} {trial['short_name']}: exact operating characteristics", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    rows = _rows(
        trial,
        [
            "phase",
            "primary_endpoint",
            "registered_enrolment",
            "allocation",
            "study_start",
            "study_completion",
            "p0",
            "p1",
            "alpha",
            "power",
        ],
    )
    derived = {
        "single_stage_n": single.n,
        "single_stage_reject_at": single.reject_at,
        "simon_optimal": f"{optimal.r1}/{optimal.n1}, {optimal.r}/{optimal.n} (EN0 {optimal.en0:.1f})",
        "simon_minimax": f"{minimax.r1}/{minimax.n1}, {minimax.r}/{minimax.n} (EN0 {minimax.en0:.1f})",
        "registered_enrolment_compared": registered if registered is not None else "not registered",
    }
    for key, value in derived.items():
        rows.append({"label": key, "value": value, "source": "derived (oligotrial)", "kind": "derived"})
    return {
        "trial_id": trial_id,
        "short_name": trial["short_name"],
        "design": trial["design"],
        "rows": rows,
        "derived": derived,
        "designs": {
            "single_stage": single.to_dict(),
            "simon_optimal": optimal.to_dict(),
            "simon_minimax": minimax.to_dict(),
        },
        "power_curve": {"response_rate": p_grid.tolist(), **curves},
        "png": str(png),
    }


def trial_report(trial_id: str, out_dir: Path | str, *, sim_trials: int = 2000, seed: int = 20240101) -> dict:
    """Build one trial's report: writes ``<id>_report.json``, ``<id>_report.md`` and the PNG."""
    data = load_assumptions()["trials"]
    if trial_id not in data:
        raise DesignError(f"trial {trial_id!r}: expected one of {', '.join(data)}", field="trial")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trial = data[trial_id]
    if trial["design"] == "single_arm_response":
        summary = _single_arm_report(trial_id, trial, out_dir)
    else:
        summary = _survival_report(trial_id, trial, out_dir, sim_trials, seed)
    (out_dir / f"{trial_id}_report.json").write_text(json.dumps(summary, indent=2, default=float), encoding="utf-8")
    (out_dir / f"{trial_id}_report.md").write_text(_markdown(summary), encoding="utf-8")
    return {"summary": summary}


def _markdown(summary: dict) -> str:
    lines = [
        f"# {summary['trial_id']} {summary['short_name']}: design report",
        "",
        (
            "Sources: **registry** = the registry record; **calibration** = a calibration trial "
            "in trial-evidence.md; **convention** = not registered, a planning value; "
            "**derived** = computed here."
        ),
        "",
        "| quantity | value | source |",
        "|---|---|---|",
    ]
    for row in summary["rows"]:
        source = str(row["source"]).replace("|", "/")
        lines.append(f"| {row['label']} | {row['value']} | {source} |")
    if summary.get("simulated_power"):
        lines += [
            "",
            "Simulated power at the evaluated enrolment (calendar-time analysis):",
            "",
            "| HR | power | MC SE |",
            "|---|---|---|",
        ]
        for p in summary["simulated_power"]:
            lines.append(f"| {p['hazard_ratio']} | {p['power']:.4f} | {p['mc_se']:.4f} |")
    lines += ["", f"![power curve]({Path(summary['png']).name})", ""]
    return "\n".join(lines)


def build_reports(
    trial_ids: list[str], out_dir: Path | str, *, sim_trials: int = 2000, seed: int = 20240101
) -> list[dict]:
    return [trial_report(t, out_dir, sim_trials=sim_trials, seed=seed) for t in trial_ids]
