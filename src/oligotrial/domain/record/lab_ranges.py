"""Plausibility limits of laboratory results: a value far outside them is kept only with a reason.

A result outside the reference interval is common in oncology and is data, not an error. A
result outside the *plausibility* limits below is rare enough in a living adult that it is more
often a transcription or unit slip (hemoglobin 11.8 typed in g/L for g/dL, creatinine 0.9 typed
in umol/L for mg/dL) than a true value. Data entry does not refuse it: it asks for a reason
(a soft warning), and keeps the value with the reason, as a visit outside its window is kept.

Each row gives the test's adult reference interval (for the message) and its plausibility limits,
both in the test's canonical unit (:data:`oligotrial.domain.record.units.LAB_UNITS`, first unit).

References
----------
Reference intervals (adult): Rifai N, Chiu RYL, Young I et al., eds. Tietz Textbook of
Laboratory Medicine, 7th ed. Elsevier 2022, appendix "Reference intervals"; the same values
as the Merck Manual Professional, "Normal Laboratory Values" (blood, plasma and serum tables).
Plausibility ("absurd value") limits as an autoverification rule: CLSI AUTO10-A,
Autoverification of Clinical Laboratory Test Results, 2006, s.5 (range checks that hold a
result for review rather than reject it). The limits are set well beyond the extreme values
reported in survivors (e.g. hemoglobin 30 g/L, bilirubin 800 umol/L, AFP in advanced HCC
up to 10^6 ng/mL), so that a true extreme value is rarely questioned.
"""

from __future__ import annotations

from dataclasses import dataclass

from oligotrial.domain.record.units import canonical_unit


@dataclass(frozen=True)
class LabRange:
    """One test's reference interval and plausibility limits, in its canonical unit."""

    test: str
    reference_low: float | None
    reference_high: float | None
    plausible_low: float
    plausible_high: float

    @property
    def unit(self) -> str:
        return canonical_unit(self.test)


def _r(test: str, ref_low: float | None, ref_high: float | None, low: float, high: float) -> LabRange:
    return LabRange(test, ref_low, ref_high, low, high)


#: test -> its range; every test of ``units.LAB_UNITS`` has one (a unit test checks it)
RANGES: dict[str, LabRange] = {
    r.test: r
    for r in (
        _r("hemoglobin", 120, 175, 30, 250),  # g/L
        _r("wbc", 4.0, 11.0, 0, 300),  # 10^9/L (0 after myelosuppression is real)
        _r("neutrophils", 1.5, 7.5, 0, 200),
        _r("lymphocytes", 1.0, 4.0, 0, 300),
        _r("platelets", 150, 400, 0, 2000),
        _r("creatinine", 45, 110, 10, 2000),  # umol/L
        _r("creatinine_clearance", 90, 140, 0, 250),  # mL/min
        _r("alt", 7, 56, 1, 10000),  # U/L
        _r("ast", 10, 40, 1, 10000),
        _r("alp", 30, 130, 5, 5000),
        _r("total_bilirubin", 2, 21, 0, 800),  # umol/L
        _r("albumin", 35, 50, 10, 65),  # g/L
        _r("inr", 0.8, 1.2, 0.5, 15),
        _r("tsh", 0.4, 4.0, 0, 500),  # mU/L
        _r("ft3", 3.1, 6.8, 0.5, 50),  # pmol/L
        _r("ft4", 12, 22, 1, 150),  # pmol/L
        _r("afp", 0, 10, 0, 1_000_000),  # ng/mL
        _r("ldh", 140, 280, 30, 20000),  # U/L
    )
}


def _fmt(x: float) -> str:
    return f"{x:g}"


def implausible(test: str, value: float) -> str | None:
    """Why ``value`` (in the canonical unit of ``test``) is far outside what is plausible, or
    None when it is within the plausibility limits (or the test has none)."""
    r = RANGES.get(test)
    if r is None or r.plausible_low <= value <= r.plausible_high:
        return None
    ref = (
        f"; reference interval {_fmt(r.reference_low)}-{_fmt(r.reference_high)} {r.unit}"
        if r.reference_low is not None and r.reference_high is not None
        else ""
    )
    side = "below" if value < r.plausible_low else "above"
    return (
        f"{test} {_fmt(value)} {r.unit} is {side} the plausible range {_fmt(r.plausible_low)}-"
        f"{_fmt(r.plausible_high)} {r.unit}{ref} (a unit or typing slip?)"
    )
