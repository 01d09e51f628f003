"""Response proportions per arm: exact confidence intervals, the difference between arms with
Newcombe's hybrid score interval, and Fisher's exact test.

Intervals and tests, with the R call each one equals (references in ``tests/data/binomial/``):

- one proportion: Clopper-Pearson "exact" interval [1]_, R ``binom.test(x, n)$conf.int``;
- Wilson score interval without continuity correction [2]_, R ``prop.test(x, n,
  correct = FALSE)$conf.int``;
- difference of two independent proportions ``p1 - p2``: Newcombe's method 10, the "hybrid score"
  interval [3]_, built from the two Wilson intervals ``(l1, u1)`` and ``(l2, u2)``::

      lower = d - sqrt((p1 - l1)^2 + (u2 - p2)^2)
      upper = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)

  It never leaves [-1, 1], is defined when a proportion is 0 or 1 and keeps its coverage close to
  the nominal level in small samples, where the Wald interval does not (Newcombe 1998, Table I).
- Fisher's exact test, two-sided (sum of the tables no more probable than the one observed), R
  ``fisher.test(matrix(c(x1, n1 - x1, x2, n2 - x2), 2))$p.value``.

References
----------
.. [1] Clopper, C. J. & Pearson, E. S. (1934). The use of confidence or fiducial limits
   illustrated in the case of the binomial. Biometrika 26, 404-413.
.. [2] Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
   J Am Stat Assoc 22, 209-212.
.. [3] Newcombe, R. G. (1998). Interval estimation for the difference between independent
   proportions: comparison of eleven methods. Statistics in Medicine 17, 873-890 (method 10).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Literal

from oligotrial.errors import AnalysisError

__all__ = ["fisher_exact_p", "newcombe_difference", "proportion_ci", "response_rates", "tally_responses", "wilson_ci"]


def _check_counts(x: object, n: object, field: str) -> tuple[int, int]:
    if isinstance(x, bool) or isinstance(n, bool) or not isinstance(x, int) or not isinstance(n, int):
        raise AnalysisError(f"{field} ({x!r}, {n!r}): expected whole numbers (responders, participants)", field=field)
    if n < 0 or not 0 <= x <= n:
        raise AnalysisError(f"{field} ({x}, {n}): expected 0 <= responders <= participants", field=field)
    return x, n


def _check_conf(conf: float) -> float:
    if not isinstance(conf, (int, float)) or not 0 < conf < 1:
        raise AnalysisError(f"conf {conf!r}: expected a confidence level strictly between 0 and 1", field="conf")
    return float(conf)


def proportion_ci(x: int, n: int, conf: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson exact interval for ``x`` successes in ``n`` trials (R ``binom.test``).

    ``lower = B(alpha/2; x, n - x + 1)`` (0 when ``x = 0``) and ``upper = B(1 - alpha/2; x + 1,
    n - x)`` (1 when ``x = n``), ``B`` the beta quantile function [1]_.
    """
    from scipy import stats

    x, n = _check_counts(x, n, "x")
    if n == 0:
        raise AnalysisError("n 0: expected at least one participant for an interval", field="n")
    alpha = 1 - _check_conf(conf)
    lower = 0.0 if x == 0 else float(stats.beta.ppf(alpha / 2, x, n - x + 1))
    upper = 1.0 if x == n else float(stats.beta.ppf(1 - alpha / 2, x + 1, n - x))
    return lower, upper


def wilson_ci(x: int, n: int, conf: float = 0.95) -> tuple[float, float]:
    """Wilson score interval without continuity correction [2]_ (R ``prop.test(correct=FALSE)``)."""
    x, n = _check_counts(x, n, "x")
    if n == 0:
        raise AnalysisError("n 0: expected at least one participant for an interval", field="n")
    z = NormalDist().inv_cdf(1 - (1 - _check_conf(conf)) / 2)
    p = x / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denom = 1 + z * z / n
    return max(0.0, (centre - half) / denom), min(1.0, (centre + half) / denom)


def newcombe_difference(x1: int, n1: int, x2: int, n2: int, conf: float = 0.95) -> tuple[float, float, float]:
    """``(p1 - p2, lower, upper)`` by Newcombe's hybrid score method (method 10 of [3]_)."""
    l1, u1 = wilson_ci(x1, n1, conf)
    l2, u2 = wilson_ci(x2, n2, conf)
    p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    lower = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, max(-1.0, lower), min(1.0, upper)


def fisher_exact_p(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided Fisher exact p for the 2x2 table of responders / non-responders (R
    ``fisher.test``: tables with probability up to ``(1 + 1e-7)`` times the observed one count)."""
    from scipy import stats

    x1, n1 = _check_counts(x1, n1, "x1")
    x2, n2 = _check_counts(x2, n2, "x2")
    return float(stats.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]], alternative="two-sided").pvalue)


def tally_responses(
    values_by_arm: Mapping[str, Sequence[bool | None]], *, unknown: Literal["non_responder", "exclude"]
) -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
    """``(responders_by_arm, unknown_by_arm)`` from per-participant response values.

    ``values_by_arm``: arm -> one value per participant of the analysis set, the ``value`` of the
    endpoint (``True`` responder, ``False`` not, ``None`` unknown: no evaluable assessment). The rule
    for unknowns is the caller's, stated explicitly: ``"non_responder"`` keeps them in the
    denominator as non-responders (the intention-to-treat convention for ORR/DCR), ``"exclude"``
    drops them (evaluable participants only). Either way their number per arm is returned, so that
    the report can state it.
    """
    if unknown not in ("non_responder", "exclude"):
        raise AnalysisError(f"unknown {unknown!r}: expected 'non_responder' or 'exclude'", field="unknown")
    counts, unknowns = {}, {}
    for arm, values in values_by_arm.items():
        bad = [v for v in values if not (v is None or isinstance(v, bool))]
        if bad:
            raise AnalysisError(
                f"values_by_arm.{arm} {bad[0]!r}: expected true, false or null (unknown)", field=f"values_by_arm.{arm}"
            )
        responders = sum(v is True for v in values)
        missing = sum(v is None for v in values)
        counts[arm] = (responders, len(values) - (missing if unknown == "exclude" else 0))
        unknowns[arm] = missing
    return counts, unknowns


def response_rates(
    responders_by_arm: Mapping[str, tuple[int, int]], reference: str | None = None, conf: float = 0.95
) -> dict:
    """Response proportion per arm with its exact interval, and each arm against ``reference``.

    Parameters
    ----------
    responders_by_arm
        arm -> ``(responders, participants)``. The denominator is the caller's analysis set;
        :func:`tally_responses` builds these pairs from per-participant endpoint values with an
        explicit rule for the participants whose response is unknown.
    reference
        the comparator arm (the control). ``None``: proportions only, no comparison.
    conf
        confidence level of every interval.

    Returns
    -------
    dict
        ``arms``: arm -> ``{n, responders, rate, lower, upper}`` (Clopper-Pearson; ``rate``,
        ``lower`` and ``upper`` are ``None`` for an arm without participants);
        ``comparisons``: arm -> ``{versus, difference, lower, upper, fisher_p}`` for every arm but
        the reference (difference = arm - reference, Newcombe hybrid score interval; all ``None``
        when either arm is empty); ``reference``, ``conf`` and ``methods`` (what each figure is).
    """
    conf = _check_conf(conf)
    if not responders_by_arm:
        raise AnalysisError("responders_by_arm {}: expected at least one arm", field="responders_by_arm")
    counts: dict[str, tuple[int, int]] = {}
    for arm, pair in responders_by_arm.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise AnalysisError(
                f"responders_by_arm.{arm} {pair!r}: expected (responders, participants)",
                field=f"responders_by_arm.{arm}",
            )
        counts[arm] = _check_counts(pair[0], pair[1], f"responders_by_arm.{arm}")
    if reference is not None and reference not in counts:
        raise AnalysisError(f"reference {reference!r}: expected one of the arms {sorted(counts)}", field="reference")
    arms = {}
    for arm, (x, n) in counts.items():
        lower, upper = proportion_ci(x, n, conf) if n else (None, None)
        arms[arm] = {"n": n, "responders": x, "rate": x / n if n else None, "lower": lower, "upper": upper}
    comparisons = {}
    if reference is not None:
        x0, n0 = counts[reference]
        for arm, (x, n) in counts.items():
            if arm == reference:
                continue
            if n and n0:
                d, lower, upper = newcombe_difference(x, n, x0, n0, conf)
                comparisons[arm] = {
                    "versus": reference,
                    "difference": d,
                    "lower": lower,
                    "upper": upper,
                    "fisher_p": fisher_exact_p(x, n, x0, n0),
                }
            else:
                comparisons[arm] = {
                    "versus": reference,
                    "difference": None,
                    "lower": None,
                    "upper": None,
                    "fisher_p": None,
                }
    return {
        "arms": arms,
        "reference": reference,
        "conf": conf,
        "comparisons": comparisons,
        "methods": {
            "interval": "Clopper-Pearson exact (R binom.test)",
            "difference": "arm minus reference; Newcombe (1998) method 10 hybrid score "
            "interval from Wilson intervals without continuity correction",
            "test": "Fisher exact, two-sided (R fisher.test)",
        },
    }
