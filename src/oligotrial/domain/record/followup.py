"""Follow-up entries of the patient record that the format's core does not define: adverse events
(CTCAE v5.0 term and grade, onset and resolution, seriousness, attribution) and quality-of-life
questionnaires (each instrument's items and answer ranges). Both are optional extensions of
``oligotrial.patient/1`` (``adverse_events[]``, ``quality_of_life[]``), validated by these models
wherever they come in: a record file, the CLI, the API.

Only the questionnaires' structure is encoded (item codes and answer ranges), never the licensed
item wording.

References
----------
National Cancer Institute. Common Terminology Criteria for Adverse Events (CTCAE) v5.0, 2017:
grades 1-5, "Other, specify" terms.
ICH E2A (1994): serious adverse event (death, life-threatening, hospitalisation, disability,
congenital anomaly). Attribution scale (unrelated, unlikely, possible, probable, definite): NCI
CTEP adverse event reporting guidelines.
Herdman M et al. Qual Life Res 2011;20:1727-36 (EQ-5D-5L: five dimensions, levels 1-5; EQ VAS
0-100).
Aaronson NK et al. J Natl Cancer Inst 1993;85:365-76; Fayers PM et al. EORTC QLQ-C30 Scoring
Manual, 3rd ed., 2001 (items 1-28 scored 1-4, items 29-30 scored 1-7).
Chow E et al. Eur J Cancer 2009;45:1146-52 (EORTC QLQ-BM22: items 31-52 scored 1-4).
Cleeland CS, Ryan KM. Ann Acad Med Singapore 1994;23:129-38 (Brief Pain Inventory: 0-10 ratings).
Cella DF et al. Lung Cancer 1995;12:199-220 (FACT-L: items scored 0-4).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import ConfigDict, Field, StrictInt, model_validator

from oligotrial.domain.kernel import BoundedModel
from oligotrial.domain.record.ctcae import OTHER_SUFFIX, TERMS

Date = dt.date
Attribution = Literal["unrelated", "unlikely", "possible", "probable", "definite"]


class _Entry(BoundedModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class AdverseEvent(_Entry):
    """One adverse event: CTCAE v5.0 term and grade, onset (``date``) and resolution."""

    date: Date = Field(description="onset")
    term: str = Field(min_length=1, max_length=200, description="CTCAE v5.0 term, or '<SOC> - Other, specify'")
    grade: int = Field(ge=1, le=5, description="CTCAE grade 1-5 (5 = death related to the event)")
    specify: str | None = Field(default=None, max_length=500, description="the event, for an 'Other, specify' term")
    resolved_on: Date | None = None
    serious: bool = False
    attribution_radiotherapy: Attribution | None = None
    attribution_systemic: Attribution | None = None
    note: str | None = Field(default=None, max_length=5000)

    @model_validator(mode="after")
    def _ctcae(self) -> AdverseEvent:
        if self.term.endswith(OTHER_SUFFIX):
            if not self.specify:
                raise ValueError(f"@specify|{self.specify!r}|a description of the event: {self.term!r} needs one")
        elif self.term not in TERMS:
            raise ValueError(
                f"@term|{self.term!r}|a CTCAE v5.0 term known here, or "
                f"'<System organ class>{OTHER_SUFFIX}' with specify"
            )
        elif self.grade not in TERMS[self.term]:
            raise ValueError(
                f"@grade|{self.grade!r}|a grade CTCAE v5.0 defines for {self.term!r}: {sorted(TERMS[self.term])}"
            )
        if self.resolved_on is not None and self.resolved_on < self.date:
            raise ValueError(
                f"@resolved_on|{self.resolved_on.isoformat()}|a date on or after the onset {self.date.isoformat()}"
            )
        return self


#: instrument -> (item code pattern or explicit codes, lowest answer, highest answer) per item group
_C30 = {f"q{i}": (1, 4) for i in range(1, 29)} | {"q29": (1, 7), "q30": (1, 7)}
_BM22 = {f"q{i}": (1, 4) for i in range(31, 53)}
_EQ5D = {d: (1, 5) for d in ("mobility", "self_care", "usual_activities", "pain_discomfort", "anxiety_depression")} | {
    "vas": (0, 100)
}
_BPI = {
    k: (0, 10)
    for k in (
        "pain_worst",
        "pain_least",
        "pain_average",
        "pain_now",
        "interference_general_activity",
        "interference_mood",
        "interference_walking",
        "interference_work",
        "interference_relations",
        "interference_sleep",
        "interference_enjoyment",
    )
}
_FACT_L_ITEM = re.compile(r"^(G[PSEF][1-7]|B[1-5]|C[1-7]|L[1-5])$")

INSTRUMENTS: dict[str, dict[str, tuple[int, int]] | None] = {
    "EQ-5D-5L": _EQ5D,
    "EORTC QLQ-C30": _C30,
    "EORTC QLQ-BM22": _BM22,
    "BPI": _BPI,
    "FACT-L": None,  # item codes by pattern (GP1-GP7, GS1-GS7, GE1-GE6, GF1-GF7, B1-B5, C1-C7, L1-L5), 0-4
}


def item_range(instrument: str, item: str) -> tuple[int, int] | None:
    """The answer range of ``item`` in ``instrument``, or None when it is not one of its items."""
    spec = INSTRUMENTS[instrument]
    if spec is None:
        return (0, 4) if _FACT_L_ITEM.match(item) else None
    return spec.get(item)


class QualityOfLife(_Entry):
    """One completed questionnaire: the answers by item code. An item left out was not
    answered (missing, never zero)."""

    date: Date
    instrument: Literal["EQ-5D-5L", "EORTC QLQ-C30", "EORTC QLQ-BM22", "FACT-L", "BPI"]
    responses: dict[str, StrictInt] = Field(min_length=1, max_length=60)

    @model_validator(mode="after")
    def _items(self) -> QualityOfLife:
        for item, answer in self.responses.items():
            rng = item_range(self.instrument, item)
            if rng is None:
                spec = INSTRUMENTS[self.instrument]
                known = ", ".join(spec) if spec else "GP1-GP7, GS1-GS7, GE1-GE6, GF1-GF7, B1-B5, C1-C7, L1-L5"
                raise ValueError(f"@responses.{item}|{item!r}|an item of {self.instrument}: {known}")
            lo, hi = rng
            if not lo <= answer <= hi:
                raise ValueError(f"@responses.{item}|{answer!r}|an answer {lo}-{hi} for {self.instrument} item {item}")
        return self
