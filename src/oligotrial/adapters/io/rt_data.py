"""Readers for oligotrial's radiotherapy data files (alpha/beta, OAR constraints, reference
schedules). The domain stays pure: these functions read YAML and return domain objects."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from oligotrial.domain.radiotherapy.dose import AlphaBetaEntry, AlphaBetaTable
from oligotrial.domain.radiotherapy.oar import Constraint, ConstraintSet, normalise_structure_name
from oligotrial.domain.radiotherapy.reirradiation import HytecCordRules
from oligotrial.errors import DoseError


def _read(name: str) -> dict[str, Any]:
    try:
        text = resources.files("oligotrial").joinpath("data", name).read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:  # pragma: no cover - packaging error
        raise DoseError(f"data file {name}: could not be read ({exc})", field=name) from exc
    if not isinstance(data, dict):
        raise DoseError(f"data file {name}: expected a mapping at the top level", field=name)
    return data


@lru_cache(maxsize=1)
def load_alpha_beta() -> AlphaBetaTable:
    data = _read("alpha_beta.yaml")
    entries = tuple(
        AlphaBetaEntry(
            tissue=e["tissue"],
            alpha_beta_gy=float(e["alpha_beta_gy"]),
            source=e["source"],
            verified=bool(e["verified"]),
            aliases=tuple(a.lower() for a in e.get("aliases", ())),
            note=e.get("note"),
        )
        for e in data["entries"]
    )
    return AlphaBetaTable(version=str(data["version"]), entries=entries)


@lru_cache(maxsize=1)
def load_oar_constraints() -> ConstraintSet:
    data = _read("oar_constraints.yaml")
    sets = data["sets"]
    constraints = []
    for row in data["constraints"]:
        if row["set"] not in sets:
            raise DoseError(f"oar_constraints.yaml set {row['set']!r}: expected one of {sorted(sets)}", field="set")
        if row["organ"] not in data["organs"]:
            raise DoseError(f"oar_constraints.yaml organ {row['organ']!r}: expected one of the organs", field="organ")
        metric = str(row["metric"])
        unit = row.get("unit") or ("Gy" if metric.startswith("D") else "cc")
        constraints.append(
            Constraint(
                set_id=row["set"],
                organ=row["organ"],
                fractions=int(row["fractions"]),
                metric=metric,
                unit=unit,
                mandatory=_num(row.get("mandatory")),
                optimal=_num(row.get("optimal")),
                verified=bool(row["verified"]),
                source=sets[row["set"]]["citation"],
                verification=row.get("verification"),
                note=row.get("note"),
            )
        )
    organ_names = {
        organ: tuple(normalise_structure_name(n) for n in spec["names"]) for organ, spec in data["organs"].items()
    }
    titles = {k: v["title"] for k, v in sets.items()}
    return ConstraintSet(str(data["version"]), tuple(constraints), organ_names, titles)


@lru_cache(maxsize=1)
def load_hytec_cord_rules() -> HytecCordRules:
    r = _read("oar_constraints.yaml")["reirradiation"]["hytec_cord"]
    return HytecCordRules(
        cumulative_max_eqd2_gy=float(r["cumulative_max_eqd2_gy"]),
        sbrt_course_max_eqd2_gy=float(r["sbrt_course_max_eqd2_gy"]),
        max_sbrt_to_cumulative_ratio=float(r["max_sbrt_to_cumulative_ratio"]),
        min_interval_months=int(r["min_interval_months"]),
        alpha_beta_gy=float(r["alpha_beta_gy"]),
        source=r["source"],
        verified=bool(r["verified"]),
    )


def load_reference_schedules() -> dict[str, Any]:
    """The named reference schedules (SABR-COMET by site, SABR-COMET-10) as raw mappings."""
    return _read("reference_schedules.yaml")


def _num(value: Any) -> float | None:
    return None if value is None else float(value)
