"""``oligotrial rt``: BED/EQD2, prescription checks against a trial arm, and DVHs from DICOM RT.

Exit codes: 0 success / pass; 1 the check failed or could not be completed (not evaluable);
2 bad input (the DoseError or ProtocolError message is printed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from oligotrial.errors import OligotrialError

NAME = "rt"
HELP = (
    "Radiotherapy: BED/EQD2 (LQ, LQ-L, USC), prescription checks against a trial arm's "
    "regimens, re-irradiation rules, and OAR constraints from DICOM RT DVHs."
)

app = typer.Typer(name=NAME, help=HELP, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _fail(exc: OligotrialError, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"error": exc.to_dict()}))
    else:
        typer.echo(f"error: {exc.message}", err=True)
    raise typer.Exit(2)


@app.command("bed")
def bed_command(
    dose_gy: Annotated[float, typer.Option("--dose-gy", help="Total physical dose (Gy).")],
    fractions: Annotated[int, typer.Option("--fractions", help="Number of equal fractions.")],
    alpha_beta: Annotated[float, typer.Option("--alpha-beta", help="alpha/beta ratio (Gy).")],
    model: Annotated[str, typer.Option("--model", help="lq (default), lql or usc.")] = "lq",
    transition_dose_gy: Annotated[
        float | None, typer.Option("--transition-dose-gy", help="LQ-L transition dose per fraction (Gy).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the BED and EQD2 of DOSE-GY in FRACTIONS at ALPHA-BETA (Fowler 1989)."""
    from oligotrial.domain.radiotherapy import dose as lq
    from oligotrial.errors import DoseError

    try:
        if model == "lq":
            bed = lq.bed_gy(dose_gy, fractions, alpha_beta)
            ab = alpha_beta
        elif model == "lql":
            if transition_dose_gy is None:
                raise DoseError(
                    "--transition-dose-gy missing: expected the LQ-L transition dose per fraction for --model lql",
                    field="transition_dose_gy",
                )
            bed = lq.bed_lql_gy(dose_gy, fractions, alpha_beta, transition_dose_gy=transition_dose_gy)
            ab = alpha_beta
        elif model == "usc":
            bed = lq.bed_usc_gy(dose_gy, fractions)
            ab = lq.USC_NSCLC_H460.alpha_beta_gy
        else:
            raise DoseError(f"--model {model!r}: expected lq, lql or usc", field="model")
        eqd2 = lq.bed_to_eqd2_gy(bed, ab)
        warning = lq.high_dose_warning(dose_gy, fractions)
    except OligotrialError as exc:
        _fail(exc, as_json)
        return
    out: dict[str, Any] = {"bed_gy": round(bed, 4), "eqd2_gy": round(eqd2, 4)}
    if as_json:
        if model != "lq":
            out["model"] = model
        typer.echo(json.dumps(out))
        return
    typer.echo(
        f"{dose_gy:g} Gy in {fractions} fraction(s), alpha/beta {alpha_beta:g} Gy ({model}): "
        f"BED {out['bed_gy']:.4f} Gy, EQD2 {out['eqd2_gy']:.4f} Gy"
    )
    if warning:
        typer.echo(f"warning: {warning}", err=True)


def _find_arm(trial: str, arm: str):
    from oligotrial.adapters.cli._common import protocol_library, today
    from oligotrial.errors import ProtocolError

    protocol = protocol_library().get(trial, on=today())
    for a in protocol.arms:
        if arm.lower() in (a.id.lower(), a.label.lower()):
            return protocol, a
    ids = ", ".join(a.id for a in protocol.arms)
    raise ProtocolError(f"arm {arm!r}: expected one of {ids} for {trial}", field="arm")


def _study_prescription(study, technique: str | None, site: str | None) -> dict:
    """One lesion per TARGET dose reference of the RT Plan, named by its structure (the ROI it
    references), else its description; a plan with one target keeps the plan's label. Each
    lesion's fractions are those of the fraction group that delivers it (a sequential boost is
    its own schedule); a target no single group delivers is an error naming it."""
    from oligotrial.errors import DoseError

    plan = study.plan
    if plan is None or not plan.fraction_groups or plan.prescription_gy is None:
        raise DoseError(
            "RT Plan prescription: expected an RT Plan with NumberOfFractionsPlanned and "
            "a TargetPrescriptionDose to check the regimen",
            field="RTPLAN",
        )
    roi_names = {s.number: s.name for s in study.structures if s.number is not None}
    lesions = []
    for k, t in enumerate(plan.targets, start=1):
        name = roi_names.get(t["roi_number"]) or t["description"]
        if name is None:
            name = (plan.label or "plan") if len(plan.targets) == 1 else f"target {k}"
        if t["prescription_gy"] is None:
            raise DoseError(
                f"RT Plan target {name!r}: no TargetPrescriptionDose; expected one per target to "
                "check each lesion's regimen",
                field="TargetPrescriptionDose",
            )
        if t["fractions"] is None:
            raise DoseError(
                f"RT Plan target {name!r}: {t['fractions_problem']}", field="ReferencedDoseReferenceSequence"
            )
        lesions.append(
            {
                "id": name,
                "dose_gy": t["prescription_gy"],
                "fractions": t["fractions"],
                "technique": technique,
                "site": site,
            }
        )
    return {"lesions": lesions}


@app.command("check")
def check_command(
    plan: Annotated[Path, typer.Argument(help="Prescription JSON, or a folder of DICOM RT files.")],
    trial: Annotated[str, typer.Option("--trial", help="Trial id or short name, e.g. NCT06918951.")],
    arm: Annotated[str, typer.Option("--arm", help="Arm id or label.")],
    technique: Annotated[
        str | None, typer.Option("--technique", help="Technique for a DICOM plan (SABR, conventional, LDRT).")
    ] = None,
    site: Annotated[str | None, typer.Option("--site", help="Lesion site for a DICOM plan.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check PLAN against the arm's allowed regimens (and, for DICOM, the OAR constraints).

    A DICOM plan is checked lesion by lesion: one lesion per TARGET dose reference, named by
    the structure it references."""
    from oligotrial.adapters.io import rt_data
    from oligotrial.domain.radiotherapy.prescription import check_prescription, parse_prescription
    from oligotrial.errors import DoseError

    try:
        protocol, arm_obj = _find_arm(trial, arm)
        oar_report = None
        if plan.is_dir():
            from oligotrial.adapters.io.dicom_rt import read_rt_folder
            from oligotrial.domain.radiotherapy.dvh import compute_dvh
            from oligotrial.domain.radiotherapy.oar import check_plan_oars

            study = read_rt_folder(plan)
            data = _study_prescription(study, technique, site)
            dvhs = {s.name: compute_dvh(s, study.dose) for s in study.structures if s.planes()}
            oar_report = check_plan_oars(
                dvhs, study.fractions, rt_data.load_oar_constraints(), prescription_gy=study.plan.prescription_gy
            )
        else:
            try:
                data = json.loads(plan.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise DoseError(
                    f"prescription {str(plan)!r}: not readable JSON ({exc})", field="prescription"
                ) from None
        rx = parse_prescription(data)
        reference = rt_data.load_reference_schedules()["schedules"]
        report = check_prescription(rx, arm_obj.radiotherapy, trial=protocol.id, arm=arm_obj.id, reference=reference)
    except OligotrialError as exc:
        _fail(exc, as_json)
        return
    out = report.to_dict()
    status = report.status
    if oar_report is not None:
        out["oar"] = oar_report.to_dict()
        if oar_report.worst == "mandatory_fail":
            status = "fail"
        elif oar_report.worst in ("optimal_fail", "not_evaluable") and status == "pass":
            status = "not_evaluable" if oar_report.worst == "not_evaluable" else status
        out["status"] = status
    if as_json:
        typer.echo(json.dumps(out, indent=2, default=str))
    else:
        typer.echo(f"{out['trial']} arm {out['arm']}: {status.upper()}")
        for v in out["lesions"]:
            typer.echo(
                f"  lesion {v['lesion']}: {v['dose_gy']:g} Gy / {v['fractions']} fx -> "
                f"{v['status']} ({v['regimen']}); BED10 {v['bed10_gy']:.2f} Gy"
            )
            for r in v["reasons"]:
                typer.echo(f"    - [{r['status']}] {r['message']}")
        for f in out["findings"]:
            typer.echo(f"  [{f['status']}] {f['code']}: {f['message']}")
        if oar_report is not None:
            for r in oar_report.results:
                typer.echo(f"  OAR [{r.status}] {r.message}")
    raise typer.Exit(0 if status == "pass" else 1)


@app.command("dvh")
def dvh_command(
    folder: Annotated[Path, typer.Argument(help="Folder with RT Dose + RT Structure Set (+ RT Plan).")],
    fractions: Annotated[
        int | None, typer.Option("--fractions", help="Fractions for the OAR check (default: the RT Plan's).")
    ] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write a DVH plot (PNG).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compute each structure's DVH and check the OAR constraints for the plan's fractions."""
    from oligotrial.adapters.io import rt_data
    from oligotrial.adapters.io.dicom_rt import read_rt_folder
    from oligotrial.domain.radiotherapy.dvh import compute_dvh
    from oligotrial.domain.radiotherapy.oar import check_plan_oars

    try:
        study = read_rt_folder(folder)
        dvhs = {s.name: compute_dvh(s, study.dose) for s in study.structures if s.planes()}
        n = fractions or study.fractions
        report = None
        if n:
            report = check_plan_oars(
                dvhs,
                n,
                rt_data.load_oar_constraints(),
                prescription_gy=study.plan.prescription_gy if study.plan else None,
            )
        if plot is not None:
            _plot(dvhs, report, plot)
    except OligotrialError as exc:
        _fail(exc, as_json)
        return
    out = {
        "fractions": n,
        "dose_summation": study.dose_summation,
        "dose_grid_mm": [round(v, 4) for v in study.dose.spacing_mm],
        "structures": [d.to_dict() for d in dvhs.values()],
        "oar": report.to_dict() if report else None,
    }
    if as_json:
        typer.echo(json.dumps(out, indent=2))
    else:
        for d in out["structures"]:
            typer.echo(
                f"{d['structure']}: {d['volume_cc']:.3f} cc, Dmean {d['dmean_gy']:.2f} Gy, "
                f"Dmax {d['dmax_gy']:.2f} Gy, D0.035cc {d['d0_035cc_gy']:.2f} Gy"
            )
        if report:
            for r in report.results:
                typer.echo(f"  [{r.status}] {r.message}")
        if plot is not None:
            typer.echo(f"plot written to {plot}")
    worst = report.worst if report else "pass"
    raise typer.Exit(1 if worst == "mandatory_fail" else 0)


def _plot(dvhs: dict, report, path: Path) -> None:
    """Each structure's cumulative DVH (cc) with its constraint points (limit dose, volume)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from oligotrial.errors import DoseError

    fig, ax = plt.subplots(figsize=(8, 5))
    colours = {}
    for name, dvh in dvhs.items():
        doses, vols = dvh.curve(step_gy=max(dvh.dmax_gy / 400.0, 0.01))
        (line,) = ax.plot(doses, 100.0 * vols / dvh.volume_cc, label=name)
        colours[name] = line.get_color()
    marker = {"pass": "o", "optimal_fail": "s", "mandatory_fail": "X", "not_evaluable": "^"}
    for r in report.results if report else []:
        c = r.constraint
        metric, dvh = c.parsed, dvhs[r.structure]
        if r.limit is None:
            continue
        if metric.kind == "d_cc":
            x, y = r.limit, 100.0 * metric.value / dvh.volume_cc
        elif metric.kind == "d_pct":
            x, y = r.limit, metric.value
        elif metric.kind == "dmax":
            x, y = r.limit, 0.0
        elif metric.kind == "v_gy":
            x = metric.value
            y = r.limit if c.unit == "%" else 100.0 * r.limit / dvh.volume_cc
        else:
            continue
        ax.plot([x], [y], marker=marker[r.status], color=colours[r.structure], linestyle="none")
    ax.set_xlabel("Dose (Gy)")
    ax.set_ylabel("Volume (%)")
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title("Cumulative DVH; markers: constraints (o pass, s optimal fail, X mandatory fail)")
    try:
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise DoseError(f"--plot {str(path)!r}: could not write ({exc})", field="plot") from None
    finally:
        plt.close(fig)
