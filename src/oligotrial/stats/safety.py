"""Adverse-event summary per arm: participants with any event, grade 3 or worse, serious and fatal
events, and a table by CTCAE term with each participant counted once at their worst grade.

Conventions (CTCAE v5.0 [1]_; the incidence tables of ICH E3 s.12.2 [2]_):

- a **participant** counts once per row: once in "any adverse event" however many events they had,
  once per term at the worst grade they had for that term;
- percentages use the arm's participants (the safety set the caller passes) as denominator; an arm
  with no participants has ``pct = None`` (unknown), an arm with no events is listed with zeros;
- **fatal** is grade 5 (CTCAE: death related to the adverse event); **serious** follows the
  reporter's flag (ICH E2A); an event whose flag is unknown (``None``) is not counted as serious and
  the participants with such an event are counted apart (``serious_unknown``);
- "Other, specify" events are grouped by their term (``<SOC> - Other, specify``), not by the free
  text.

References
----------
.. [1] National Cancer Institute. Common Terminology Criteria for Adverse Events (CTCAE) v5.0, 2017.
.. [2] ICH E3 (1995). Structure and content of clinical study reports, s.12.2 (adverse events).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from oligotrial.errors import AnalysisError

__all__ = ["adverse_event_summary"]

GRADES = (1, 2, 3, 4, 5)


def _pct(n: int, total: int) -> float | None:
    return 100.0 * n / total if total else None


def _count(n: int, total: int) -> dict:
    return {"n": n, "pct": _pct(n, total)}


def _arm_of(arms: Mapping[str, Sequence[str]]) -> dict[str, str]:
    arm_of: dict[str, str] = {}
    for arm, ids in arms.items():
        for pid in ids:
            if pid in arm_of:
                raise AnalysisError(
                    f"participant {pid!r}: in arm {arm_of[pid]!r} and arm {arm!r}; expected one arm",
                    field=f"arms.{arm}",
                )
            arm_of[pid] = arm
    return arm_of


def _check_event(i: int, event: Mapping, arm_of: Mapping[str, str]) -> tuple[str, str, int, bool | None]:
    for key in ("participant", "term", "grade"):
        if key not in event:
            raise AnalysisError(f"events[{i}]: expected a {key!r}", field=f"events[{i}].{key}")
    pid, term, grade = event["participant"], event["term"], event["grade"]
    if pid not in arm_of:
        raise AnalysisError(
            f"events[{i}].participant {pid!r}: expected a participant of one of the arms",
            field=f"events[{i}].participant",
        )
    if not isinstance(term, str) or not term.strip():
        raise AnalysisError(f"events[{i}].term {term!r}: expected a CTCAE term", field=f"events[{i}].term")
    if isinstance(grade, bool) or grade not in GRADES:
        raise AnalysisError(f"events[{i}].grade {grade!r}: expected a CTCAE grade 1-5", field=f"events[{i}].grade")
    serious = event.get("serious")
    if serious is not None and not isinstance(serious, bool):
        raise AnalysisError(
            f"events[{i}].serious {serious!r}: expected true, false or null (unknown)", field=f"events[{i}].serious"
        )
    return pid, term.strip(), grade, serious


def adverse_event_summary(arms: Mapping[str, Sequence[str]], events: Sequence[Mapping]) -> dict:
    """Summarise adverse events by arm and by CTCAE term.

    Parameters
    ----------
    arms
        arm -> the participant ids of its safety set (each participant in one arm).
    events
        one mapping per adverse event with ``participant``, ``term`` (CTCAE v5.0), ``grade`` (1-5)
        and ``serious`` (bool, or ``None`` / absent when unknown) -- the fields of the record's
        ``AdverseEvent`` plus the participant id.

    Returns
    -------
    dict
        ``arms``: arm -> ``{participants, any, grade_3_plus, serious, serious_unknown, fatal,
        worst_grade}``, each count ``{n, pct}`` of participants (``worst_grade``: ``grade_1`` ..
        ``grade_5`` -> ``{n, pct}`` by each participant's worst grade over all terms);
        ``terms``: one row per term, ``{term, arms: arm -> {grade_1 .. grade_5, any, grade_3_plus}}``
        (each ``{n, pct}``, a participant counted once at their worst grade of the term), sorted by
        participants with the term over all arms (most first), then by term;
        ``method``: how participants are counted.
    """
    if not arms:
        raise AnalysisError("arms {}: expected at least one arm", field="arms")
    arm_of = _arm_of(arms)
    worst_by_term: dict[str, dict[str, int]] = {}  # term -> participant -> worst grade
    worst_any: dict[str, int] = {}
    serious: set[str] = set()
    serious_unknown: set[str] = set()
    for i, event in enumerate(events):
        pid, term, grade, is_serious = _check_event(i, event, arm_of)
        row = worst_by_term.setdefault(term, {})
        row[pid] = max(row.get(pid, 0), grade)
        worst_any[pid] = max(worst_any.get(pid, 0), grade)
        if is_serious:
            serious.add(pid)
        elif is_serious is None:
            serious_unknown.add(pid)
    serious_unknown -= serious  # known serious through another event: counted as serious

    out_arms = {}
    for arm, ids in arms.items():
        total = len(ids)
        members = set(ids)
        worst = [worst_any[p] for p in members if p in worst_any]
        out_arms[arm] = {
            "participants": total,
            "any": _count(len(worst), total),
            "grade_3_plus": _count(sum(g >= 3 for g in worst), total),
            "serious": _count(len(serious & members), total),
            "serious_unknown": _count(len(serious_unknown & members), total),
            "fatal": _count(sum(g == 5 for g in worst), total),
            "worst_grade": {f"grade_{g}": _count(worst.count(g), total) for g in GRADES},
        }

    rows = []
    for term, per_participant in worst_by_term.items():
        cells = {}
        for arm, ids in arms.items():
            total = len(ids)
            grades = [g for p, g in per_participant.items() if arm_of[p] == arm]
            cells[arm] = {f"grade_{g}": _count(grades.count(g), total) for g in GRADES}
            cells[arm]["any"] = _count(len(grades), total)
            cells[arm]["grade_3_plus"] = _count(sum(g >= 3 for g in grades), total)
        rows.append({"term": term, "arms": cells, "_total": len(per_participant)})
    rows.sort(key=lambda r: (-r["_total"], r["term"]))
    for r in rows:
        del r["_total"]
    return {
        "arms": out_arms,
        "terms": rows,
        "method": "participants counted once per row at their worst CTCAE v5.0 grade; percentages of "
        "the arm's safety set; fatal = grade 5; serious as flagged (unknown counted apart)",
    }
