"""Cross-field checks of a patient record that its shape alone cannot make: impossible dates
(before birth, after death, birth after the record's date), findings naming unknown lesions,
nodes measured by longest diameter, new lesions seen before, and (at data entry) two readings of
one lesion on one date. Each issue names the field path, the value and what was expected; the
models and :func:`~oligotrial.domain.record.patient.parse_patient` are in ``patient.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from oligotrial.domain.record.therapy import local_therapy_issues

if TYPE_CHECKING:
    from oligotrial.domain.record.patient import Finding, Patient

Date = dt.date
Issue = dict[str, Any]


def _consistency_issues(p: Patient, *, record_date: Date, not_after: Date | None = None) -> list[Issue]:
    """Cross-field checks the shape alone cannot make. ``record_date`` is the record's date: its
    ``as_of``, else the caller's today (:func:`parse_patient`); with ``not_after`` (the service's
    today) a date after it is refused too (:func:`dates_after`)."""
    issues = _cross_field_issues(p, record_date=record_date)
    if not_after is not None:
        named = {i["path"] for i in issues}
        issues += [i for i in dates_after(p, not_after) if i["path"] not in named]
    return issues


def _cross_field_issues(p: Patient, *, record_date: Date) -> list[Issue]:
    issues: list[Issue] = []

    def add(path: str, value: Any, expected: str) -> None:
        issues.append({"path": path, "value": value, "expected": expected})

    # first: a birth after the record's date is refused on birth_date itself, before the
    # issues it causes elsewhere (a diagnosis "before birth", ...)
    if p.birth_date is not None and p.birth_date > record_date:
        where = (
            f"as_of {record_date.isoformat()}"
            if p.as_of is not None
            else f"as_of absent, so today {record_date.isoformat()}"
        )
        add("birth_date", p.birth_date.isoformat(), f"a birth date on or before the record's date ({where})")

    if p.birth_date is not None and p.age_years is not None:
        add("age_years", p.age_years, "either birth_date or age_years, not both")

    lesions = p.lesion_map()
    if len(lesions) != len(p.lesions or ()):
        seen: set[str] = set()
        for i, lesion in enumerate(p.lesions or ()):
            if lesion.id in seen:
                add(f"lesions[{i}].id", lesion.id, "a unique lesion id")
            seen.add(lesion.id)
    for i, lesion in enumerate(p.lesions or ()):
        if lesion.kind == "lymph_node" and lesion.organ != "lymph_node":
            add(f"lesions[{i}].organ", lesion.organ, "organ 'lymph_node' for a lesion of kind lymph_node")
        if lesion.soft_tissue_component is not None and lesion.organ != "bone":
            add(
                f"lesions[{i}].soft_tissue_component",
                lesion.soft_tissue_component,
                "soft_tissue_component only on a bone lesion",
            )

    birth = p.birth_date
    diagnosed = p.cancer.diagnosed_on if p.cancer else None
    death = p.death_date()

    def check_date(path: str, d: Date | None, what: str) -> None:
        if d is None:
            return
        if birth is not None and d < birth:
            add(
                path,
                d.isoformat(),
                f"a date on or after birth ({birth.isoformat()}): {what} before birth is impossible",
            )
        if (
            death is not None
            and d > death
            and what
            in (
                "an imaging assessment",
                "a lab result",
                "a performance score",
                "an adverse event onset",
                "a questionnaire",
            )
        ):
            add(
                path,
                d.isoformat(),
                f"a date on or before death ({death.isoformat()}): {what} after death is impossible",
            )

    check_date("cancer.diagnosed_on", diagnosed, "a diagnosis")
    for i, a in enumerate(p.assessments or ()):
        check_date(f"assessments[{i}].date", a.date, "an imaging assessment")
    for i, lab in enumerate(p.labs or ()):
        check_date(f"labs[{i}].date", lab.date, "a lab result")
    for i, perf in enumerate(p.performance or ()):
        check_date(f"performance[{i}].date", perf.date, "a performance score")
    for i, ae in enumerate(p.adverse_events or ()):
        check_date(f"adverse_events[{i}].date", ae.date, "an adverse event onset")
    for i, q in enumerate(p.quality_of_life or ()):
        check_date(f"quality_of_life[{i}].date", q.date, "a questionnaire")
    for i, t in enumerate(p.systemic_therapy or ()):
        check_date(f"systemic_therapy[{i}].start", t.start, "a therapy start")
        if t.end is not None and t.end < t.start:
            add(
                f"systemic_therapy[{i}].end", t.end.isoformat(), f"an end on or after the start ({t.start.isoformat()})"
            )
        if t.progression_date is not None and t.progression_date < t.start:
            add(
                f"systemic_therapy[{i}].progression_date",
                t.progression_date.isoformat(),
                f"a progression date on or after the line's start ({t.start.isoformat()})",
            )
    for i, rt in enumerate(p.radiotherapy or ()):
        check_date(f"radiotherapy[{i}].start", rt.start, "a radiotherapy course")
        if rt.end is not None and rt.end < rt.start:
            add(f"radiotherapy[{i}].end", rt.end.isoformat(), f"an end on or after the start ({rt.start.isoformat()})")
    for i, e in enumerate(p.events or ()):
        check_date(f"events[{i}].date", e.date, "an event")
        if e.kind == "death" and diagnosed is not None and e.date < diagnosed:
            add(
                f"events[{i}].date",
                e.date.isoformat(),
                f"a death on or after the diagnosis ({diagnosed.isoformat()}): a death before diagnosis is impossible",
            )

    # findings: every lesion known, nodes by short axis, new lesions really new
    seen_ids: set[str] = set()
    new_ids: set[str] = set()
    ordered = sorted(enumerate(p.assessments or ()), key=lambda ia: ia[1].date)
    for i, a in ordered:
        in_this: set[str] = set()
        for j, f in enumerate(a.findings):
            path = f"assessments[{i}].findings[{j}]"
            if f.lesion in in_this:
                add(f"{path}.lesion", f.lesion, "at most one finding per lesion in one assessment")
            in_this.add(f.lesion)
            listed = lesions.get(f.lesion)
            if listed is None and not f.new and f.lesion not in new_ids:
                add(
                    f"{path}.lesion",
                    f.lesion,
                    "a lesion id listed in lesions[] (or a finding marked new: true for a lesion first seen here)",
                )
            if f.new and f.lesion in seen_ids:
                add(
                    f"{path}.new",
                    True,
                    f"new: true only where lesion {f.lesion} is first seen; it was seen at an earlier assessment",
                )
            is_node = listed.is_node if listed is not None else f.organ == "lymph_node"
            if is_node and f.diameter_mm is not None:
                add(
                    f"{path}.diameter_mm",
                    f.diameter_mm,
                    "short_axis_mm for a lymph node (RECIST 1.1 measures nodes by short axis)",
                )
            if listed is not None and not is_node and f.short_axis_mm is not None:
                add(f"{path}.short_axis_mm", f.short_axis_mm, "diameter_mm (longest diameter) for a non-nodal lesion")
            if f.long_axis_mm is not None and (not is_node or f.long_axis_mm < (f.short_axis_mm or 0)):
                add(f"{path}.long_axis_mm", f.long_axis_mm, "long_axis_mm only on a lymph node, >= its short axis")
            if f.diameter_mm is not None and f.short_axis_mm is not None:
                add(
                    path,
                    {"diameter_mm": f.diameter_mm, "short_axis_mm": f.short_axis_mm},
                    "one measurement: diameter_mm or short_axis_mm",
                )
            if f.new:
                new_ids.add(f.lesion)
        seen_ids |= in_this

    known = set(lesions) | new_ids
    issues += local_therapy_issues(p.local_therapies, birth, known)
    for i, rt in enumerate(p.radiotherapy or ()):
        for k, lid in enumerate(rt.lesions or ()):
            if lid not in known:
                add(f"radiotherapy[{i}].lesions[{k}]", lid, "a lesion id from lesions[] or a finding")
    return issues


#: the record's own date (the date it is judged at, oligotrial.patient/1 ``as_of``), not the date of
#: something that happened: screening as of a later date is the screening's rule, not the record's
_NOT_AN_EVENT = frozenset({"as_of"})


def dates_after(obj: Any, today: Date, prefix: str = "") -> list[Issue]:
    """Every date in ``obj`` (a record or one of its entries, as parsed) after ``today``, each named
    by its path (``events[0].date``, ``adverse_events[2].resolved_on``). A record holds what has
    happened (``shared/formats/patient-record.md``: events, assessments, labs, therapies, each
    with the date it happened on), so a date after today is an error of entry, refused rather
    than stored: it would make a participant dead, progressed or treated before the fact."""
    issues: list[Issue] = []
    fields = getattr(type(obj), "model_fields", None)
    if fields is None:
        return issues
    for name in fields:
        if not prefix and name in _NOT_AN_EVENT:
            continue
        value = getattr(obj, name)
        path = f"{prefix}.{name}" if prefix else name
        values = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for i, v in values:
            where = path if i is None else f"{path}[{i}]"
            if isinstance(v, Date) and v > today:
                issues.append(
                    {
                        "path": where,
                        "value": v.isoformat(),
                        "expected": f"a date not after today ({today.isoformat()}): a record holds what has happened",
                    }
                )
            elif hasattr(type(v), "model_fields"):
                issues += dates_after(v, today, where)
    return issues


def same_date_conflicts(p: Patient) -> list[Issue]:
    """Two assessments on one date that measure one lesion differently: which is right cannot
    be decided, so data entry refuses the second (one time point per date, RECIST 1.1 s.4.2).
    A record file with such a conflict still parses; the response engines then refuse to assess
    it (``conflicting_assessments``)."""
    issues: list[Issue] = []
    seen: dict[tuple[Date, str], tuple[int, Finding]] = {}
    for i, a in enumerate(p.assessments or ()):
        for j, f in enumerate(a.findings):
            key = (a.date, f.lesion)
            prior = seen.get(key)
            if prior is None:
                seen[key] = (i, f)
            elif prior[0] != i and prior[1].model_dump(exclude={"target"}) != f.model_dump(exclude={"target"}):
                issues.append(
                    {
                        "path": f"assessments[{i}].findings[{j}]",
                        "value": f.model_dump(exclude_none=True),
                        "expected": f"one reading of lesion {f.lesion} on {a.date.isoformat()}: "
                        f"assessments[{prior[0]}] already records it as "
                        f"{prior[1].model_dump(exclude_none=True)} (correct that entry instead)",
                    }
                )
    return issues
