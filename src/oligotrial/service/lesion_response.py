"""A participant's tumour response as data entry shows it: the live lesion table of an assessment
being typed (sum of diameters, change from baseline and from the nadir, the RECIST 1.1
response), and the per-lesion change from baseline over time (the spider plot).

Both run the response engine the endpoints use (:func:`oligotrial.service.assessment.assess_patient`,
:mod:`oligotrial.domain.response.recist`) on the participant's record with the entries in
force, against the response baseline the endpoints use (the last scan on or before the origin,
:func:`oligotrial.service.assessment.response_baseline`). Nothing is stored: a preview checks
the typed assessment exactly as recording it would (:func:`oligotrial.domain.record.entries.parse_entry`
and the merged record), and answers with its error instead of a response when it is not valid.

References
----------
Eisenhauer EA et al. New response evaluation criteria in solid tumours: revised RECIST guideline
(version 1.1). Eur J Cancer 2009;45:228-47 (s.4.3.1: sum of diameters, PR at least 30 % below the
baseline sum, PD at least 20 % and 5 mm above the nadir).
Spider plot (per-lesion change from baseline over time): e.g. Litière S et al., Lancet Oncol
2019;20:e489 (RECIST working group); a plotting convention, not a criterion.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from oligotrial.domain.protocol.schema import Protocol
from oligotrial.domain.record import entries as rec
from oligotrial.domain.record.patient import Patient
from oligotrial.domain.response import recist as r11
from oligotrial.errors import AssessmentError
from oligotrial.service import followup
from oligotrial.service.access import authorize, authorize_entry, visible_participant
from oligotrial.service.assessment import assess_patient, response_baseline
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import Actor


def _f(x: Decimal | None) -> float | None:
    return None if x is None else float(x)


def _pct(new: Decimal | None, ref: Decimal | None) -> float | None:
    """Per-cent change of ``new`` from ``ref`` (None when either is unknown or ``ref`` is 0)."""
    if new is None or ref is None or ref == 0:
        return None
    return round(float((new - ref) / ref * 100), 1)


def _record_and_origin(ctx: ServiceContext, actor: Actor, protocol: Protocol, pid: str) -> tuple[dict, dt.date | None]:
    with ctx.uow() as uow:
        p = visible_participant(uow, actor, protocol.id, pid)
        stored = uow.participants.entries(p.id)
    origin, _kind = followup.origin_of(p, single_group=followup.single_group(protocol))
    return followup.participant_record(p, stored), origin


def _baseline(patient: Patient, origin: dt.date | None) -> dt.date | None:
    return response_baseline(patient, origin) if origin is not None else None


def preview_assessment(ctx: ServiceContext, actor: Actor, trial: str, pid: str, data: Any) -> dict[str, Any]:
    """The response the typed assessment ``data`` would give, without storing it.

    Returns ``date``, ``baseline`` (its date), ``is_baseline`` (the typed scan is the reference
    itself), ``targets``, ``sizes_mm`` (each target at the typed scan), ``sum_mm``,
    ``baseline_sum_mm``, ``change_from_baseline_pct``, ``nadir_mm`` (the smallest sum before
    it), ``change_from_nadir_mm`` and ``_pct``, ``target``, ``non_target``, ``new_lesions``,
    ``overall`` and ``reasons``. A :class:`RecordError` names a field that is not valid (as
    recording would); an :class:`AssessmentError` says why no response can be derived."""
    protocol = ctx.load_protocol(trial)
    authorize_entry(actor, protocol, "assessment")
    clean = rec.parse_entry("assessment", data, not_after=ctx.today())
    record, origin = _record_and_origin(ctx, actor, protocol, pid)
    merged = rec.merge(record, [("assessment", clean)])
    patient = rec.validate_merged(merged, today=ctx.today(), focus=rec.entry_path(merged, "assessment"))
    on = dt.date.fromisoformat(clean["date"])
    baseline = _baseline(patient, origin)  # None: the first scan is the reference
    if baseline is not None and on < baseline:
        raise AssessmentError(
            f"date {on.isoformat()}: before the response baseline {baseline.isoformat()} (the last "
            "scan on or before the origin): no response is measured for it",
            field="date",
        )
    res = assess_patient(patient, baseline=baseline).result
    assert isinstance(res, r11.RecistResult)  # RECIST 1.1, the default criteria
    out: dict[str, Any] = {
        "date": on.isoformat(),
        "baseline": res.baseline.isoformat(),
        "is_baseline": on == res.baseline,
        "targets": list(res.targets),
        "non_targets": list(res.non_targets),
        "baseline_sum_mm": _f(res.baseline_sum_mm),
        "notes": list(res.notes),
    }
    if on == res.baseline:
        base = next(p for p in r11.timeline(patient) if p.date == on)
        sizes = {
            t: r11.target_size(r11.lesion_of(patient, t, base.findings.get(t)), base.findings.get(t))
            for t in res.targets
        }
        return {
            **out,
            "sizes_mm": {k: _f(v) for k, v in sizes.items()},
            "sum_mm": _f(res.baseline_sum_mm),
            "change_from_baseline_pct": None,
            "nadir_mm": None,
            "change_from_nadir_mm": None,
            "change_from_nadir_pct": None,
            "target": None,
            "non_target": None,
            "new_lesions": False,
            "overall": None,
            "reasons": ["the reference scan (baseline): responses are measured against it"],
        }
    tp = next(t for t in res.timepoints if t.date == on)
    return {
        **out,
        "sizes_mm": {k: _f(v) for k, v in tp.sizes.items()},
        "sum_mm": _f(tp.target_sum_mm),
        "change_from_baseline_pct": None
        if tp.change_from_baseline_pct is None
        else round(tp.change_from_baseline_pct, 1),
        "nadir_mm": _f(tp.nadir_before_mm),
        "change_from_nadir_mm": _f(tp.change_from_nadir_mm),
        "change_from_nadir_pct": _pct(tp.target_sum_mm, tp.nadir_before_mm),
        "target": tp.target,
        "non_target": tp.non_target,
        "new_lesions": tp.new_lesions,
        "overall": tp.overall,
        "reasons": list(tp.reasons),
    }


def spider(ctx: ServiceContext, actor: Actor, trial: str, pid: str) -> dict[str, Any]:
    """Each target lesion's change from baseline (per cent) at every scan, and the sum's.

    Returns ``baseline`` (date), ``series`` (one per target, then ``"sum"``: ``{"id", "points":
    [{"date", "size_mm", "change_pct"}]}``, the baseline point at 0 %), ``responses`` (date ->
    overall response) and ``note`` (why there is no plot, or None)."""
    protocol = ctx.load_protocol(trial)
    authorize(actor, protocol.id, "view")
    record, origin = _record_and_origin(ctx, actor, protocol, pid)
    empty: dict[str, Any] = {"baseline": None, "series": [], "responses": {}}
    try:
        patient = rec.validate_merged(record, today=ctx.today())
        baseline = _baseline(patient, origin)
        res = assess_patient(patient, baseline=baseline).result
        assert isinstance(res, r11.RecistResult)  # RECIST 1.1, the default criteria
    except AssessmentError as exc:
        return {**empty, "note": exc.message}
    if not res.targets:
        return {**empty, "baseline": res.baseline.isoformat(), "note": "no target lesion at baseline: nothing to plot"}
    base = next(p for p in r11.timeline(patient) if p.date == res.baseline)
    lesions = {t: r11.lesion_of(patient, t, base.findings.get(t)) for t in res.targets}
    base_sizes = {t: r11.target_size(lesions[t], base.findings.get(t)) for t in res.targets}
    series = []
    for t in res.targets:
        pts = [{"date": res.baseline.isoformat(), "size_mm": _f(base_sizes[t]), "change_pct": 0.0}]
        for tp in res.timepoints:
            size = tp.sizes.get(t)
            if size is not None:
                pts.append({"date": tp.date.isoformat(), "size_mm": _f(size), "change_pct": _pct(size, base_sizes[t])})
        series.append({"id": t, "points": pts})
    total = [{"date": res.baseline.isoformat(), "size_mm": _f(res.baseline_sum_mm), "change_pct": 0.0}]
    total += [
        {
            "date": tp.date.isoformat(),
            "size_mm": _f(tp.target_sum_mm),
            "change_pct": _pct(tp.target_sum_mm, res.baseline_sum_mm),
        }
        for tp in res.timepoints
        if tp.target_sum_mm is not None
    ]
    series.append({"id": "sum", "points": total})
    note = None if res.timepoints else "only the baseline scan so far"
    return {
        "baseline": res.baseline.isoformat(),
        "series": series,
        "responses": {tp.date.isoformat(): tp.overall for tp in res.timepoints},
        "note": note,
    }
