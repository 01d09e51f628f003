"""Quality-of-life scores and their change from baseline by arm and visit.

- **EORTC QLQ-C30** (version 3.0) scale scores by the EORTC scoring manual [1]_: for each scale
  the raw score ``RS`` is the mean of its answered items, then
  functional scales ``S = (1 - (RS - 1) / range) * 100``, symptom scales and global health status
  ``S = (RS - 1) / range * 100``, ``range`` = 3 for items 1-28 (answers 1-4) and 6 for items 29-30
  (answers 1-7). A scale is scored when at least half of its items are answered, otherwise its score
  is missing (``None``), never imputed further. Only item numbers are used here, never the
  (licensed) item wording; item codes are the record's (``q1`` .. ``q30``).
- **EQ-5D-5L index** by a published value set [2]_ [3]_ (coefficients in
  ``src/oligotrial/data/eq5d5l_value_sets.yaml`` with their citation): ``1 -`` the sum of the
  five dimensions' decrements. Missing when any dimension is unanswered.
- **Change from baseline**: per arm and visit the mean score with a t interval and the mean
  within-participant change from the participant's own baseline with a t interval (the one-sample
  t interval of R ``t.test``), over the participants with both scores.

References
----------
.. [1] Fayers PM, Aaronson NK, Bjordal K, Groenvold M, Curran D, Bottomley A, on behalf of the
   EORTC Quality of Life Group. The EORTC QLQ-C30 Scoring Manual (3rd edition). Brussels: EORTC,
   2001 (scales, items, ranges and the half-items rule).
.. [2] Devlin NJ, Shah KK, Feng Y, Mulhern B, van Hout B. Valuing health-related quality of life:
   an EQ-5D-5L value set for England. Health Econ 2018;27:7-22.
.. [3] Pickard AS et al. United States valuation of EQ-5D-5L health states using an international
   protocol. Value Health 2019;22:931-941.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

from oligotrial.domain.record.followup import item_range
from oligotrial.errors import AnalysisError

__all__ = ["QLQ_C30_SCALES", "eq5d5l_index", "eq5d5l_value_sets", "qol_change_from_baseline", "score_qlq_c30"]

_C30 = "EORTC QLQ-C30"
_EQ5D = "EQ-5D-5L"

#: scale -> (kind, item numbers, range): the scoring manual's table of scales (3rd ed.), QLQ-C30 v3.0
QLQ_C30_SCALES: dict[str, tuple[str, tuple[int, ...], int]] = {
    "QL2": ("global", (29, 30), 6),
    "PF2": ("functional", (1, 2, 3, 4, 5), 3),
    "RF2": ("functional", (6, 7), 3),
    "EF": ("functional", (21, 22, 23, 24), 3),
    "CF": ("functional", (20, 25), 3),
    "SF": ("functional", (26, 27), 3),
    "FA": ("symptom", (10, 12, 18), 3),
    "NV": ("symptom", (14, 15), 3),
    "PA": ("symptom", (9, 19), 3),
    "DY": ("symptom", (8,), 3),
    "SL": ("symptom", (11,), 3),
    "AP": ("symptom", (13,), 3),
    "CO": ("symptom", (16,), 3),
    "DI": ("symptom", (17,), 3),
    "FI": ("symptom", (28,), 3),
}
_EQ5D_DIMENSIONS = ("mobility", "self_care", "usual_activities", "pain_discomfort", "anxiety_depression")


def _check_responses(instrument: str, responses: Mapping[str, int]) -> None:
    for item, answer in responses.items():
        rng = item_range(instrument, item)
        if rng is None:
            raise AnalysisError(
                f"responses.{item} {item!r}: expected an item code of {instrument}", field=f"responses.{item}"
            )
        if answer is None:
            continue
        if isinstance(answer, bool) or not isinstance(answer, int) or not rng[0] <= answer <= rng[1]:
            raise AnalysisError(
                f"responses.{item} {answer!r}: expected an answer {rng[0]}-{rng[1]} for {instrument} item {item}",
                field=f"responses.{item}",
            )


def score_qlq_c30(responses: Mapping[str, int | None]) -> dict[str, float | None]:
    """The 15 QLQ-C30 scale scores (0-100) from the answers by item code (``q1`` .. ``q30``).

    An item absent or ``None`` is unanswered. Each scale is scored from its answered items when at
    least half of them are answered (the manual's rule), else ``None``.
    """
    _check_responses(_C30, responses)
    out: dict[str, float | None] = {}
    for scale, (kind, items, rng) in QLQ_C30_SCALES.items():
        answered = [responses[f"q{i}"] for i in items if responses.get(f"q{i}") is not None]
        if 2 * len(answered) < len(items):
            out[scale] = None
            continue
        raw = sum(answered) / len(answered)
        out[scale] = (1 - (raw - 1) / rng) * 100 if kind == "functional" else (raw - 1) / rng * 100
    return out


@lru_cache(maxsize=1)
def eq5d5l_value_sets() -> dict:
    """The packaged EQ-5D-5L value sets (``data/eq5d5l_value_sets.yaml``): name -> citation and
    decrements by dimension and level."""
    from importlib import resources

    import yaml

    text = resources.files("oligotrial").joinpath("data", "eq5d5l_value_sets.yaml").read_text(encoding="utf-8")
    sets = yaml.safe_load(text)["value_sets"]
    for name, vs in sets.items():
        if set(vs["decrements"]) != set(_EQ5D_DIMENSIONS) or any(
            set(levels) != {2, 3, 4, 5} for levels in vs["decrements"].values()
        ):
            raise AnalysisError(
                f"eq5d5l_value_sets.yaml {name}: expected decrements for levels 2-5 of {', '.join(_EQ5D_DIMENSIONS)}",
                field=name,
            )
    return sets


def eq5d5l_index(responses: Mapping[str, int | None], value_set: str = "England") -> float | None:
    """EQ-5D-5L index value: ``1 -`` the sum of the value set's decrements for the five levels
    (England: Devlin et al. 2018; US: Pickard et al. 2019). ``None`` when a dimension is
    unanswered; ``vas`` is ignored."""
    sets = eq5d5l_value_sets()
    if value_set not in sets:
        raise AnalysisError(f"value_set {value_set!r}: expected one of {sorted(sets)}", field="value_set")
    _check_responses(_EQ5D, responses)
    levels = [responses.get(d) for d in _EQ5D_DIMENSIONS]
    if any(level is None for level in levels):
        return None
    dec = sets[value_set]["decrements"]
    return round(1.0 - sum(dec[d].get(level, 0.0) for d, level in zip(_EQ5D_DIMENSIONS, levels)), 10)


def _score(row: Mapping, i: int, instrument: str | None, scale: str | None, value_set: str) -> float | None:
    if instrument is None:
        if "score" not in row:
            raise AnalysisError(
                f"rows[{i}]: expected a 'score' (or pass instrument and scale to score 'responses')",
                field=f"rows[{i}].score",
            )
        score = row["score"]
        if score is not None and (
            isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score)
        ):
            raise AnalysisError(
                f"rows[{i}].score {score!r}: expected a finite number or null (missing)", field=f"rows[{i}].score"
            )
        return None if score is None else float(score)
    responses = row.get("responses")
    if responses is None:
        return None
    if instrument == _C30:
        return score_qlq_c30(responses)[scale]
    if scale == "index":
        return eq5d5l_index(responses, value_set)
    vas = responses.get("vas")
    _check_responses(_EQ5D, responses)
    return None if vas is None else float(vas)


def _check_scale(instrument: str | None, scale: str | None) -> None:
    if instrument is None:
        return
    if instrument == _C30 and scale in QLQ_C30_SCALES:
        return
    if instrument == _EQ5D and scale in ("index", "vas"):
        return
    expected = (
        f"one of {list(QLQ_C30_SCALES)}" if instrument == _C30 else "'index' or 'vas'" if instrument == _EQ5D else None
    )
    if expected is None:
        raise AnalysisError(
            f"instrument {instrument!r}: expected {_C30!r} or {_EQ5D!r} (scoring of other "
            "instruments is not implemented; pass 'score' instead)",
            field="instrument",
        )
    raise AnalysisError(f"scale {scale!r}: expected {expected} for {instrument}", field="scale")


def _t_summary(values: list[float], conf: float) -> tuple[float | None, float | None, float | None, float | None]:
    """(mean, sd, lower, upper); the one-sample t interval of R ``t.test``."""
    n = len(values)
    if n == 0:
        return None, None, None, None
    mean = math.fsum(values) / n
    if n == 1:
        return mean, None, None, None
    from scipy import stats

    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stats.t.ppf(1 - (1 - conf) / 2, n - 1)) * sd / math.sqrt(n)
    return mean, sd, mean - half, mean + half


def qol_change_from_baseline(
    rows: Sequence[Mapping],
    *,
    instrument: str | None = None,
    scale: str | None = None,
    baseline: str = "baseline",
    visit_order: Sequence[str] | None = None,
    conf: float = 0.95,
    value_set: str = "England",
) -> list[dict]:
    """Mean score and mean change from baseline per arm and visit.

    Parameters
    ----------
    rows
        one mapping per participant and visit: ``participant``, ``arm``, ``visit`` (a label; the
        baseline visit is ``baseline``) and either ``score`` (a number, or ``None`` when the
        questionnaire was missed) or, with ``instrument`` and ``scale``, ``responses`` (the record's
        answers by item code) scored here.
    instrument, scale
        ``"EORTC QLQ-C30"`` with a scale of :data:`QLQ_C30_SCALES`, or ``"EQ-5D-5L"`` with
        ``"index"`` (``value_set``) or ``"vas"``; ``None`` to use each row's ``score``.
    visit_order
        the visits in the order to report; by default the order in which they first appear, with
        the baseline first. A visit not listed is an error.
    conf
        level of the t intervals.

    Returns
    -------
    list of dict
        per arm (order of first appearance) and visit: ``arm, visit, n, mean, sd, lower, upper``
        (the scores at that visit) and ``n_change, mean_change, sd_change, change_lower,
        change_upper`` (participants with a baseline and a score at that visit; ``None`` at the
        baseline itself). ``sd`` and intervals are ``None`` below two participants.
    """
    if not isinstance(conf, (int, float)) or not 0 < conf < 1:
        raise AnalysisError(f"conf {conf!r}: expected a level strictly between 0 and 1", field="conf")
    _check_scale(instrument, scale)
    scores: dict[tuple[str, str], float | None] = {}
    arm_of: dict[str, str] = {}
    arms: list[str] = []
    seen_visits: list[str] = []
    for i, row in enumerate(rows):
        for key in ("participant", "arm", "visit"):
            if row.get(key) in (None, ""):
                raise AnalysisError(f"rows[{i}]: expected a {key!r}", field=f"rows[{i}].{key}")
        pid, arm, visit = row["participant"], row["arm"], row["visit"]
        if arm_of.setdefault(pid, arm) != arm:
            raise AnalysisError(
                f"rows[{i}].arm {arm!r}: participant {pid!r} is in arm {arm_of[pid]!r}", field=f"rows[{i}].arm"
            )
        if (pid, visit) in scores:
            raise AnalysisError(
                f"rows[{i}]: participant {pid!r} has visit {visit!r} twice; expected one score per visit",
                field=f"rows[{i}].visit",
            )
        scores[(pid, visit)] = _score(row, i, instrument, scale, value_set)
        if arm not in arms:
            arms.append(arm)
        if visit not in seen_visits:
            seen_visits.append(visit)
    if visit_order is None:
        order = ([baseline] if baseline in seen_visits else []) + [v for v in seen_visits if v != baseline]
    else:
        order = list(visit_order)
        missing = [v for v in seen_visits if v not in order]
        if missing:
            raise AnalysisError(
                f"visit_order {order!r}: expected every visit of the rows, missing {missing}", field="visit_order"
            )
    out = []
    for arm in arms:
        members = [p for p, a in arm_of.items() if a == arm]
        for visit in order:
            if not any((p, visit) in scores for p in members):
                continue
            values = [scores[(p, visit)] for p in members if scores.get((p, visit)) is not None]
            mean, sd, lower, upper = _t_summary(values, conf)
            row_out = {
                "arm": arm,
                "visit": visit,
                "n": len(values),
                "mean": mean,
                "sd": sd,
                "lower": lower,
                "upper": upper,
                "n_change": None,
                "mean_change": None,
                "sd_change": None,
                "change_lower": None,
                "change_upper": None,
            }
            if visit != baseline:
                changes = [
                    scores[(p, visit)] - scores[(p, baseline)]
                    for p in members
                    if scores.get((p, visit)) is not None and scores.get((p, baseline)) is not None
                ]
                m, s, lo, hi = _t_summary(changes, conf)
                row_out.update(n_change=len(changes), mean_change=m, sd_change=s, change_lower=lo, change_upper=hi)
            out.append(row_out)
    return out
