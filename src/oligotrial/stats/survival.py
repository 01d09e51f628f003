"""Survival analysis of a time-to-event endpoint: the ``oligotrial.survival-analysis/1`` document.

:func:`analyse_survival` validates the rows, then gives per group the Kaplan-Meier median with its
CI, survival at chosen times and the restricted mean (:mod:`oligotrial.stats.survival_km`), and
across groups the log-rank test, the stratified log-rank test and the Efron Cox model on the
group (:mod:`oligotrial.stats.survival_cox`). Every figure equals R ``survival`` 3.5-3 with its
defaults (``tests/data/r_survival/``); the format is ``shared/formats/survival-analysis.md``.

:func:`subgroup_hazard_ratios` gives the rows of a forest plot (a Cox fit per subgroup level).
:func:`read_survival_csv` reads the columns of a CSV file, with the same row checks.

The rows are sorted by time once; the Kaplan-Meier curves and the counts per distinct time that
the tests and the Cox model use are read from that order (linear after the sort).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oligotrial.errors import AnalysisError
from oligotrial.stats.survival_cox import cox_efron, logrank_from_table, risk_table
from oligotrial.stats.survival_km import (
    CONF_TYPES,
    FEW_AT_RISK,
    KaplanMeier,
    km_from_sorted,
    km_median,
    n_at_risk,
    restricted_mean,
    reverse_km_median,
    survival_at,
    survival_at_reportable,
)

__all__ = [
    "FORMAT",
    "SurvivalData",
    "analyse_survival",
    "group_curves",
    "read_survival_csv",
    "subgroup_hazard_ratios",
    "validate_survival_data",
]

FORMAT = "oligotrial.survival-analysis/1"
#: strings that stand for a missing value in a group or stratum column (as R's read.csv)
_MISSING = ("", "NA")


@dataclass(frozen=True)
class SurvivalData:
    """Validated rows: times, 0/1 events, group labels and stratum labels (or ``None``)."""

    time: np.ndarray
    event: np.ndarray
    group: np.ndarray
    strata: np.ndarray | None
    #: (codes, distinct labels) of ``group`` / ``strata`` when validation already counted them
    group_factor: tuple | None = field(default=None, repr=False, compare=False)
    strata_factor: tuple | None = field(default=None, repr=False, compare=False)


def _bad_row(column: str, mask: np.ndarray, values, expected: str, what) -> None:
    """Raise for the first row where ``mask`` is true, naming it (1-based) and its column."""
    bad = np.flatnonzero(mask)
    if bad.size == 0:
        return
    i = int(bad[0])
    value = values[i]
    value = value.item() if isinstance(value, np.generic) else value
    more = f" ({bad.size - 1} more row{'s' if bad.size > 2 else ''} like it)" if bad.size > 1 else ""
    raise AnalysisError(
        f"row {i + 1}, column {column!r}: {what(value)} {value!r}; expected {expected}{more}", row=i + 1, field=column
    )


def _numbers(values) -> np.ndarray:
    """Numbers (``nan`` for a missing or non-numeric value)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64)
    import pandas as pd

    # pandas parses text with surrounding blanks (" 3 ") and leaves what is not a number as NaN
    return pd.to_numeric(pd.Series(arr.astype(object), dtype=object), errors="coerce").to_numpy(dtype=np.float64)


def _is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and v.strip() in _MISSING)


def _describe_time(v) -> str:
    if _is_missing(v):
        return "missing value"
    try:
        return "negative time" if float(v) < 0 else "not a finite number"
    except (TypeError, ValueError):
        return "not a number"


def _labels(values, column: str, n: int) -> tuple[np.ndarray, tuple[np.ndarray, list[str]]]:
    """Labels as stripped strings, and their (codes, distinct labels); a missing one (``None``,
    NaN, empty, ``NA``) is a bad row. Labels are hashed once (``pandas.factorize``) and only the
    distinct ones are stripped and checked."""
    import pandas as pd

    arr = np.asarray(values, dtype=object)
    if arr.shape != (n,):
        raise AnalysisError(
            f"column {column!r}: {arr.shape[0] if arr.ndim == 1 else arr.shape} values; expected {n}, one per row",
            field=column,
        )
    codes, uniques = pd.factorize(arr)  # None and NaN: code -1
    stripped = np.array([str(u).strip() for u in uniques], dtype=object)
    missing = codes < 0
    blank = np.array([x in _MISSING for x in stripped], dtype=bool)
    if blank.any():
        missing |= blank[np.maximum(codes, 0)] & (codes >= 0)
    _bad_row(column, missing, arr, "a label", lambda v: "missing value")
    merged, distinct = pd.factorize(stripped)  # " a" and "a" are one label
    return stripped[codes], (merged[codes], [str(x) for x in distinct])


def validate_survival_data(time, event, group, strata=None, *, names: Mapping[str, str] | None = None) -> SurvivalData:
    """Check every row: a time that is a number >= 0, an event 0 or 1, a group and (when given)
    a stratum. The first bad row raises :class:`~oligotrial.errors.AnalysisError` naming the row
    (1 = the first data row) and the column (``names`` maps ``time``/``event``/``group``/
    ``strata`` to the caller's column names)."""
    col = {"time": "time", "event": "event", "group": "group", "strata": "strata", **(names or {})}
    t_raw = np.asarray(time)
    n = len(t_raw)
    t = _numbers(t_raw)
    if t.shape != (n,):
        raise AnalysisError(f"column {col['time']!r}: expected one time per row", field=col["time"])
    if n == 0:
        raise AnalysisError(f"column {col['time']!r}: no data rows; expected at least one", field=col["time"])
    _bad_row(col["time"], ~np.isfinite(t) | (t < 0), t_raw, "a number >= 0", _describe_time)
    e_raw = np.asarray(event)
    if len(e_raw) != n:
        raise AnalysisError(
            f"column {col['event']!r}: {len(e_raw)} values; expected {n}, one per row", field=col["event"]
        )
    e = _numbers(e_raw)
    _bad_row(
        col["event"],
        ~((e == 0) | (e == 1)),
        e_raw,
        "1 (event) or 0 (censored)",
        lambda v: "missing value" if _is_missing(v) else "event",
    )
    g, g_factor = _labels(group, col["group"], n)
    s, s_factor = (None, None) if strata is None else _labels(strata, col["strata"], n)
    return SurvivalData(time=t, event=e.astype(bool), group=g, strata=s, group_factor=g_factor, strata_factor=s_factor)


def read_survival_csv(
    path: str | Path, *, time: str, event: str, group: str, strata: str | None = None
) -> SurvivalData:
    """Read and validate the named columns of a CSV file with a header row (UTF-8, with or without BOM).

    Every cell is read as text, then checked as :func:`validate_survival_data` does, so a bad
    cell is reported with its data row (1 = the first row after the header) and column name.
    """
    import pandas as pd

    wanted = [c for c in (time, event, group, strata) if c is not None]
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise AnalysisError(f"{path}: cannot read a CSV file with a header row ({exc})", field="data") from exc
    absent = [c for c in wanted if c not in frame.columns]
    if absent:
        raise AnalysisError(
            f"{path}: no column {', '.join(repr(c) for c in absent)}; columns are "
            f"{', '.join(repr(c) for c in frame.columns)}",
            field=absent[0],
        )
    names = {"time": time, "event": event, "group": group, "strata": strata or "strata"}
    return validate_survival_data(
        frame[time].to_numpy(dtype=object),
        frame[event].to_numpy(dtype=object),
        frame[group].to_numpy(dtype=object),
        None if strata is None else frame[strata].to_numpy(dtype=object),
        names=names,
    )


def _encode(
    labels: np.ndarray, reference: str | None, column: str, factor: tuple | None = None
) -> tuple[np.ndarray, list[str]]:
    """Codes with the reference level 0, then the other levels sorted as strings."""
    import pandas as pd

    codes, uniques = pd.factorize(labels, sort=False) if factor is None else factor
    levels = sorted(str(u) for u in uniques)
    if reference is None:
        reference = levels[0]
    if reference not in levels:
        raise AnalysisError(
            f"reference {reference!r}: not a level of column {column!r}; levels are "
            f"{', '.join(repr(x) for x in levels)}",
            field="reference",
        )
    ordered = [reference] + [x for x in levels if x != reference]
    position = {lab: i for i, lab in enumerate(ordered)}
    remap = np.array([position[str(u)] for u in uniques], dtype=np.int64)
    return remap[codes], ordered


def _check_times(at, tau) -> tuple[list[float], float | None]:
    at_list = [float(x) for x in at]
    for x in at_list:
        if not math.isfinite(x) or x < 0:
            raise AnalysisError(f"at {x!r}: expected finite times >= 0", field="at")
    if tau is not None:
        tau = float(tau)
        if not math.isfinite(tau) or tau <= 0:
            raise AnalysisError(f"tau {tau!r}: expected a finite time > 0", field="tau")
    return at_list, tau


@dataclass(frozen=True)
class _Sorted:
    t: np.ndarray
    e: np.ndarray
    g: np.ndarray
    s: np.ndarray | None
    levels: list[str]
    strata_levels: list[str] | None


def _prepare(data: SurvivalData, reference: str | None, group_column: str = "group") -> _Sorted:
    g, levels = _encode(data.group, reference, group_column, data.group_factor)
    s_codes = s_levels = None
    if data.strata is not None:
        s_codes, s_levels = _encode(data.strata, None, "strata", data.strata_factor)
    order = np.argsort(data.time)
    return _Sorted(
        t=data.time[order],
        e=data.event[order],
        g=g[order],
        s=None if s_codes is None else s_codes[order],
        levels=levels,
        strata_levels=s_levels,
    )


def _curves(p: _Sorted, conf_type: str) -> list[KaplanMeier]:
    return [km_from_sorted(p.t[p.g == j], p.e[p.g == j], conf_type=conf_type) for j in range(len(p.levels))]


def group_curves(time, event, group, *, reference: str | None = None, conf_type: str = "log") -> dict[str, KaplanMeier]:
    """Kaplan-Meier curve per group (reference first, then sorted), e.g. for a plot."""
    p = _prepare(validate_survival_data(time, event, group), reference)
    return dict(zip(p.levels, _curves(p, conf_type)))


def _cox_document(p: _Sorted, stratified_by: str | None, reference: str, table=None) -> dict:
    """The ``cox`` block; ``table`` is ``p``'s risk table (within its strata), when already made."""
    k = len(p.levels)
    table = risk_table(p.t, p.e, p.g, k, p.s) if table is None else table
    events = np.bincount(p.g, weights=p.e.astype(np.float64), minlength=k)
    doc = {"reference": reference, "ties": "efron", "stratified_by": stratified_by, "terms": []}
    empty = [p.levels[j] for j in range(k) if events[j] == 0]
    fit = None if empty else cox_efron(table)
    if fit is not None and not (fit.converged and np.all(np.isfinite(fit.cov))):
        fit = None
        doc["note"] = (
            "the Newton-Raphson iterations did not converge (the partial likelihood has no finite "
            "maximum, e.g. one group has every event while the others are at risk): no estimate"
        )
    elif empty:
        doc["note"] = (
            f"no events in group {', '.join(repr(x) for x in empty)}: the partial likelihood "
            f"has no finite maximum, so no hazard ratio is estimated"
        )
    terms = fit.terms() if fit is not None else [None] * (k - 1)
    for level, term in zip(p.levels[1:], terms):
        doc["terms"].append(
            {"group": level}
            | (
                {"hazard_ratio": None, "lower": None, "upper": None, "p": None}
                if term is None
                else {x: term[x] for x in ("hazard_ratio", "lower", "upper", "p")}
            )
        )
    return doc


def _logrank_document(table) -> dict | None:
    lr = logrank_from_table(table)
    if lr is None:
        return None
    doc = {"chisq": lr["chisq"], "df": lr["df"], "p": lr["p"]}
    if lr.get("note"):
        doc["note"] = lr["note"]
    return doc


def analyse_survival(
    time: Sequence,
    event: Sequence,
    group: Sequence,
    *,
    strata: Sequence | None = None,
    at: Sequence[float] = (),
    tau: float | None = None,
    reference: str | None = None,
    conf_type: str = "log",
    strata_name: str = "strata",
) -> dict:
    """The ``oligotrial.survival-analysis/1`` document of one time-to-event endpoint.

    Parameters
    ----------
    time, event, group : sequences, one value per row
        Follow-up time (a number >= 0, any one unit), 1 event / 0 censored, group label.
    strata : sequence, optional
        Stratum per row: adds the stratified log-rank test and stratifies the Cox model.
    at : times at which survival is reported (sorted, as R's ``summary`` reports them).
    tau : horizon of the restricted mean survival time (none: ``rmst`` is ``None``).
    reference : the comparator group (default: the first label in sorted order).
    conf_type : ``"log"`` (R's default, the format's definition) or ``"log-log"``.
    strata_name : the name written as ``cox.stratified_by`` (the stratum column).

    Returns
    -------
    dict
        The document (plain types; ``None`` for null), plus ``conf_type`` and the fields the
        project adds: per group ``survival_at_reportable`` (beside ``survival_at``, same times:
        ``n_at_risk`` and whether S(t) is reportable, see
        :func:`~oligotrial.stats.survival_km.survival_at_reportable`), ``median_n_at_risk`` (at
        risk at the median time), ``median_few_at_risk`` (fewer than 10 % of the group at risk
        there: the median rests on the last few participants followed), ``median_follow_up``
        (reverse Kaplan-Meier, Schemper & Smith 1996); and ``median_follow_up`` of all groups
        together. ``logrank`` has ``chisq``/``p`` null with a ``note`` where the test has no
        variance (every event at one time, every participant at risk then having it).

    Raises
    ------
    AnalysisError
        A bad row (named with its 1-based number and column), an unknown reference, bad ``at``/
        ``tau`` or ``conf_type``.

    References
    ----------
    .. [1] ``shared/formats/survival-analysis.md``; R ``survival`` 3.5-3 (``survfit``,
       ``quantile.survfit``, ``survmean``, ``survdiff``, ``coxph``).
    """
    if conf_type not in CONF_TYPES:
        raise AnalysisError(f"conf_type {conf_type!r}: expected one of {', '.join(CONF_TYPES)}", field="conf_type")
    at_list, tau = _check_times(at, tau)
    data = validate_survival_data(time, event, group, strata)
    return _analyse(
        data,
        at=at_list,
        tau=tau,
        reference=reference,
        conf_type=conf_type,
        strata_name=strata_name if strata is not None else None,
    )


def _analyse(
    data: SurvivalData,
    *,
    at: list[float],
    tau: float | None,
    reference: str | None,
    conf_type: str,
    strata_name: str | None,
    group_column: str = "group",
) -> dict:
    p = _prepare(data, reference, group_column)
    groups = []
    for j, (level, km) in enumerate(zip(p.levels, _curves(p, conf_type))):
        median = km_median(km)
        at_median = None if median["estimate"] is None else n_at_risk(km, [median["estimate"]])[0]
        groups.append(
            {
                "group": level,
                "n": km.n,
                "events": km.events,
                "median": median,
                "survival_at": survival_at(km, at) if at else [],
                "rmst": None if tau is None else restricted_mean(km, tau),
                # fields the project adds (shared/formats/survival-analysis.md allows it)
                "survival_at_reportable": survival_at_reportable(km, at) if at else [],
                "median_n_at_risk": at_median,
                "median_few_at_risk": None if at_median is None else at_median < FEW_AT_RISK * km.n,
                "median_follow_up": reverse_km_median(p.t[p.g == j], p.e[p.g == j], conf_type=conf_type),
            }
        )
    doc = {
        "format": FORMAT,
        "conf_type": conf_type,
        "groups": groups,
        "logrank": None,
        "stratified_logrank": None,
        "cox": None,
        "median_follow_up": reverse_km_median(p.t, p.e, conf_type=conf_type)
        | {"method": "reverse Kaplan-Meier (Schemper & Smith 1996), all groups together"},
    }
    if len(p.levels) > 1:
        table = risk_table(p.t, p.e, p.g, len(p.levels))
        doc["logrank"] = _logrank_document(table)
        if p.s is not None:
            table = risk_table(p.t, p.e, p.g, len(p.levels), p.s)
            doc["stratified_logrank"] = _logrank_document(table)
        doc["cox"] = _cox_document(p, strata_name, p.levels[0], table)
    return doc


def subgroup_hazard_ratios(
    time, event, group, subgroups: Mapping[str, Sequence], *, reference: str | None = None
) -> list[dict]:
    """Rows of a forest plot: the Efron Cox hazard ratio of each non-reference group against the
    reference, overall and within each level of each subgroup variable (R ``coxph`` on the subset).

    Returns ``{"variable", "level", "group", "n", "events", "hazard_ratio", "lower", "upper", "p"}``
    per row: first ``variable = "overall"``, ``level = "all"``; then each variable in the given
    order with its levels sorted as strings. Where a subset lacks a group or has a group without
    events the figures are ``None`` (no finite estimate).
    """
    data = validate_survival_data(time, event, group)
    _, levels = _encode(data.group, reference, "group", data.group_factor)
    reference = levels[0]
    columns = {name: _labels(values, name, data.time.size)[0] for name, values in subgroups.items()}

    def rows(variable: str, level: str, mask: np.ndarray) -> list[dict]:
        sub = SurvivalData(data.time[mask], data.event[mask], data.group[mask], None)
        base = {"variable": variable, "level": level, "n": int(mask.sum()), "events": int(sub.event.sum())}
        present = set(np.unique(sub.group).tolist()) if sub.time.size else set()
        out = []
        if reference not in present or len(present) < 2:
            return [
                base | {"group": lv, "hazard_ratio": None, "lower": None, "upper": None, "p": None} for lv in levels[1:]
            ]
        p = _prepare(sub, reference)
        cox = _cox_document(p, None, reference)
        by_level = {t["group"]: t for t in cox["terms"]}
        for lv in levels[1:]:
            t = by_level.get(lv, {"hazard_ratio": None, "lower": None, "upper": None, "p": None})
            out.append(base | {"group": lv} | {x: t[x] for x in ("hazard_ratio", "lower", "upper", "p")})
        return out

    result = rows("overall", "all", np.ones(data.time.size, dtype=bool))
    for name, col in columns.items():
        for level in sorted(set(col.tolist())):
            result.extend(rows(name, level, col == level))
    return result
