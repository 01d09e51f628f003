"""RECIST 1.1 response from lesion measurements. Pure logic, no I/O.

The engine works in four steps, each citing its rule:

1. :func:`timeline` merges the record's assessments into one time point per date and picks the
   baseline (bad input raises :class:`~oligotrial.errors.AssessmentError`).
2. :func:`select_targets` takes the reader's ``target`` flags at baseline, or selects targets by
   the rules of RECIST 1.1 section 3.3 (at most 5, at most 2 per organ, nodes as one organ).
3. :func:`assess` evaluates every follow-up time point: target sum (nodes by short axis),
   nadir, target / non-target / new-lesion categories and the overall response (Tables 1-2).
4. :func:`best_overall_response` derives the best overall response, with or without
   confirmation (section 4.6, Table 3), from the time-point responses.

Sizes are compared exactly: each measurement is converted once with ``Decimal(str(x))`` so that
``+20.0 %`` and ``+5.0 mm`` hold at the boundary (``8.2 - 3.2`` is exactly 5.0 here).

References
----------
Eisenhauer EA et al. New response evaluation criteria in solid tumours: revised RECIST
guideline (version 1.1). Eur J Cancer 2009;45:228-47 (sections cited as "R11 s.").
EORTC RECIST FAQ, recist.eortc.org/faq (cited as "FAQ").

Modules: :mod:`.measurement` (steps 1-2), :mod:`.timepoint` (step 3), :mod:`.best_response` (step 4).
"""

from oligotrial.domain.response.recist.best_response import (
    BestResponse,
    best_overall_response,
    confirmed_response,
)
from oligotrial.domain.response.recist.measurement import (
    FIFTEEN,
    FIVE,
    RESPONSES,
    TEN,
    ZERO,
    Date,
    RecistOptions,
    Selection,
    TimePoint,
    dec,
    gone,
    is_pd,
    is_pr,
    lesion_of,
    measurable,
    organ_key,
    select_targets,
    split_baseline,
    target_response,
    target_size,
    timeline,
)
from oligotrial.domain.response.recist.timepoint import (
    NewLesion,
    RecistResult,
    TimePointResponse,
    assess,
    classify_new_lesions,
    first_progression,
)

__all__ = [
    "FIFTEEN",
    "FIVE",
    "RESPONSES",
    "TEN",
    "ZERO",
    "BestResponse",
    "Date",
    "NewLesion",
    "RecistOptions",
    "RecistResult",
    "Selection",
    "TimePoint",
    "TimePointResponse",
    "assess",
    "best_overall_response",
    "classify_new_lesions",
    "confirmed_response",
    "dec",
    "first_progression",
    "gone",
    "is_pd",
    "is_pr",
    "lesion_of",
    "measurable",
    "organ_key",
    "select_targets",
    "split_baseline",
    "target_response",
    "target_size",
    "timeline",
]
