"""Endpoint derivation for one patient: every endpoint of the protocol's ``endpoint_rules``. Pure.

The protocol says *how* each endpoint is derived (:mod:`oligotrial.domain.protocol.endpoint_schema`:
the derivation kind, which events count, what censors, the response criteria); this module applies
those rules to one patient record with the engines of :mod:`.endpoints` (time to event, deaths,
next lines, last contact, local control), :mod:`.recist` and :mod:`.irecist`. The origin is given
(randomization; enrolment in a single-arm trial) or, for a record file read on its own, the first
radiotherapy course on or after the baseline; response is assessed against the last scan on or
before the origin (:func:`response_baseline`); the participant's own arm decides which systemic
therapy is protocol-directed (:func:`new_anticancer_therapy`). docs/endpoints.md has the rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from oligotrial.domain.protocol.endpoint_schema import EndpointRule, EndpointRules, parse_endpoint_rules
from oligotrial.domain.protocol.schema import DiseaseStateSpec, Protocol, SystemicSpec
from oligotrial.domain.record.patient import Patient, SystemicTherapy
from oligotrial.domain.response import endpoints as ep
from oligotrial.domain.response import irecist
from oligotrial.domain.response import recist as r11
from oligotrial.domain.response.counting import evaluate_disease_state
from oligotrial.errors import AssessmentError

#: time-point responses by criteria (``recist1.1`` or ``irecist``), assessed once per patient
Responses = Callable[[str], list[tuple[dt.date, str]]]


def _origin(patient: Patient, start: dt.date | None) -> tuple[dt.date, str]:
    if start is not None:
        return start, "origin given (--start)"
    points = r11.timeline(patient)
    base = points[0].date if points else None
    courses = sorted(rt.start for rt in patient.radiotherapy or () if base is None or rt.start >= base)
    if courses:
        return (
            courses[0],
            f"origin: first radiotherapy course on/after the baseline ({courses[0]}); give --start for the randomization date",
        )
    raise AssessmentError(
        f"patient {patient.id}: no origin for endpoints: expected --start (randomization or "
        "treatment start) or a radiotherapy course in the record",
        field="start",
    )


def response_baseline(patient: Patient, origin: dt.date) -> dt.date | None:
    """The reference scan for response: the last assessment on or before the origin, so that the
    lesions present when the participant entered the trial are never new (RECIST 1.1 s.3.1:
    baseline as close as possible to the start of treatment). None when no scan precedes it."""
    before = [p.date for p in r11.timeline(patient) if p.date <= origin]
    return before[-1] if before else None


def _matches(line: SystemicTherapy, spec: SystemicSpec) -> str | None:
    """How a systemic therapy line matches an arm's protocol therapy (agents or classes the arm
    names), or None."""
    agents = sorted(set(line.agents) & {a.lower() for a in spec.agents})
    if agents:
        return f"agent {', '.join(agents)}"
    classes = sorted(set(line.classes) & {c.lower() for c in spec.classes})
    if classes:
        return f"class {', '.join(classes)}"
    return None


def new_anticancer_therapy(
    patient: Patient, protocol: Protocol, origin: dt.date, arm: str | None, notes: list[str], *, reveal_arm: bool = True
) -> list[ep.Candidate]:
    """Systemic therapy started after the origin that is *new* anticancer therapy: protocol-directed
    therapy of the participant's arm (the SOC arms' second-line therapy, the SBRT arm's
    maintenance, as each arm's ``systemic`` block names it) never is. Without the arm (a record
    file screened on its own), a line that some arm directs is treated as that arm's protocol
    therapy, and the note says so. A next line recorded as an event, without agents, cannot be
    placed and counts as new."""
    arms = [a for a in protocol.arms if a.systemic is not None]
    by_start: dict[dt.date, SystemicTherapy] = {}
    for t in patient.systemic_therapy or ():
        if t.start > origin:
            by_start.setdefault(t.start, t)
    out: list[ep.Candidate] = []
    for c in ep.next_line_starts(patient, origin):
        line = by_start.get(c.date)
        if line is not None and "systemic therapy line" in c.reason:
            if arm is not None:
                spec = next((a.systemic for a in arms if a.id == arm), None)
                how = _matches(line, spec) if spec is not None else None
                if how:
                    who = f"arm {arm}" if reveal_arm else "the allocated arm"
                    notes.append(
                        f"line {line.line} ({', '.join(line.agents)}) from {c.date} is protocol therapy of "
                        f"{who} ({how}): it does not censor"
                    )
                    continue
            else:
                placed = [(a.id, _matches(line, a.systemic)) for a in arms if a.systemic is not None]
                placed = [(a, how) for a, how in placed if how]
                if placed:
                    notes.append(
                        f"line {line.line} ({', '.join(line.agents)}) from {c.date} is treated as protocol "
                        f"therapy of arm {placed[0][0]} ({placed[0][1]}), the arm that directs it: no arm "
                        "was given, so the record cannot place it; it does not censor"
                    )
                    continue
        out.append(c)
    return out


def derive_endpoints(
    patient: Patient,
    protocol: Protocol,
    *,
    start: dt.date | None = None,
    arm: str | None = None,
    origin_kind: str | None = None,
    reveal_arm: bool = True,
    contacts: Iterable[ep.Candidate] | None = None,
) -> dict[str, Any]:
    """Every endpoint in the protocol's ``endpoint_rules`` for one patient.

    ``start`` is the origin (randomization; enrolment in a single-arm trial); ``arm`` the
    allocated arm, which decides what is protocol-directed therapy (see
    :func:`new_anticancer_therapy`). Response is assessed against the last scan on or before the
    origin (:func:`response_baseline`). The output names ``origin``, ``origin_kind`` and
    ``response_baseline``; ``reveal_arm=False`` keeps the arm out of it (blinded roles).
    ``contacts`` are the dates outside the record at which the participant was seen (consent,
    enrolment, randomization, visits done): with the record's own (:func:`ep.contacts`) and the
    origin they give the last contact that censors overall survival and time to next treatment."""
    rules = parse_endpoint_rules(protocol.endpoint_rules, trial=protocol.id)
    if arm is not None and arm not in {a.id for a in protocol.arms}:
        raise AssessmentError(
            f"arm {arm!r}: expected one of {[a.id for a in protocol.arms]} for {protocol.id}", field="arm"
        )
    origin, origin_note = _origin(patient, start)
    notes = [origin_note]
    baseline = response_baseline(patient, origin)
    if baseline is None:
        notes.append(
            f"no assessment on or before the origin {origin}: no response baseline, so no response "
            "and no RECIST progression can be derived (recorded progression and death still count)"
        )
    results: list[dict[str, Any]] = []
    cache: dict[str, list[tuple[dt.date, str]]] = {}

    def responses(criteria: str) -> list[tuple[dt.date, str]]:
        if criteria not in cache:
            cache[criteria] = []
            if baseline is not None:
                try:
                    if criteria == "irecist":
                        cache[criteria] = irecist.assess(patient, baseline=baseline).responses()
                    else:
                        cache[criteria] = r11.assess(patient, baseline=baseline).responses()
                except AssessmentError as exc:
                    notes.append(f"no {criteria} responses: {exc.message}")
        return cache[criteria]

    nact = new_anticancer_therapy(patient, protocol, origin, arm, notes, reveal_arm=reveal_arm)
    nact_all = ep.next_line_starts(patient, origin)
    alive = ep.last_known_alive(patient, [ep.Candidate(origin, origin_kind or rules.origin), *(contacts or ())])
    if alive is not None:
        alive = ep.Candidate(
            alive.date, f"the last contact ({alive.reason}), the last date the participant was seen or reported alive"
        )
    for rule in rules.endpoints:
        results.append(
            _one(
                patient,
                rule,
                origin,
                responses,
                nact,
                nact_all,
                notes,
                baseline,
                alive,
                response_options(rules),
                disease_state=protocol.disease_state,
            )
        )
    response = _response_summary(rules, origin, responses, nact)
    out = {
        "format": "oligotrial.endpoints/1",
        "patient": patient.id,
        "trial": protocol.id,
        "origin": origin.isoformat(),
        "origin_kind": origin_kind or rules.origin,
        "response_baseline": baseline.isoformat() if baseline else None,
        "response": response,
        "endpoints": results,
        "notes": notes,
    }
    if arm is not None and reveal_arm:
        out["arm"] = arm
    return out


def response_options(rules: EndpointRules) -> r11.RecistOptions:
    """The RECIST 1.1 options of the protocol's best overall response: its ``response_confirmation``
    intervals (confirmation, SD minimum from the origin), RECIST 1.1 defaults without one."""
    conf = getattr(rules, "response_confirmation", None)
    if conf is None:
        return r11.RecistOptions()
    return replace(r11.RecistOptions(), confirm_min_days=conf.confirm_min_days, sd_min_days=conf.sd_min_days)


def best_response(
    responses: list[tuple[dt.date, str]],
    *,
    criteria: str,
    start: dt.date,
    confirm: bool,
    until: dt.date | None,
    options: r11.RecistOptions,
) -> r11.BestResponse:
    """Best overall response (RECIST 1.1 s.4.4.3; iRECIST: Seymour 2017) from the time-point
    responses on or after ``start`` and before ``until`` (new anticancer therapy: RECIST 1.1
    s.4.4.3 counts responses "until disease progression/recurrence" on the study's own treatment),
    confirmed (``confirm``) or not."""
    if criteria == "irecist":
        return irecist.best_overall_response(
            [r for r in responses if until is None or r[0] < until],
            start=start,
            confirm=confirm,
            options=irecist.IrecistOptions(recist=options),
        )
    return r11.best_overall_response(responses, start=start, confirm=confirm, until=until, options=options)


def _response_summary(
    rules: EndpointRules, origin: dt.date, responses: Responses, nact: list[ep.Candidate]
) -> dict[str, Any]:
    """Best overall response per participant, with objective response (CR or PR) and disease
    control (CR, PR, SD or NON-CR/NON-PD), by the protocol's response criteria and confirmation
    rule (its ORR/DCR rule where it has one; RECIST 1.1 unconfirmed otherwise), up to any new
    anticancer therapy (RECIST 1.1 s.4.6; iRECIST: Seymour 2017)."""
    rule = next((r for r in rules.endpoints if r.kind in ("orr", "dcr")), None)
    criteria = rule.criteria if rule else next((r.criteria for r in rules.endpoints if r.kind == "pfs"), "recist1.1")
    confirm = bool(rule and rule.confirm_response)
    resp = responses(criteria)
    until = nact[0].date if nact else None
    bor = best_response(
        resp, criteria=criteria, start=origin, confirm=confirm, until=until, options=response_options(rules)
    )
    if criteria == "irecist":
        cr_pr, control = ("iCR", "iPR"), ("iCR", "iPR", "iSD", "NON-iCR/NON-iUPD")
    else:
        cr_pr, control = ("CR", "PR"), ("CR", "PR", "SD", "NON-CR/NON-PD")
    best = bor.response
    return {
        "criteria": "iRECIST" if criteria == "irecist" else "RECIST 1.1",
        "confirmed": confirm,
        "best_overall_response": best,
        "date": bor.date.isoformat() if bor.date else None,
        "objective_response": None if best is None else best in cr_pr,
        "disease_control": None if best is None else best in control,
        "reason": "no post-origin assessment: unknown"
        if best is None
        else f"best overall response {best}" + (f" up to new anticancer therapy on {until}" if until else ""),
    }


def _one(
    patient: Patient,
    rule: EndpointRule,
    origin: dt.date,
    responses: Responses,
    new_therapy: list[ep.Candidate],
    nact_all: list[ep.Candidate],
    notes: list[str],
    baseline: dt.date | None,
    alive: ep.Candidate | None = None,
    ropts: r11.RecistOptions | None = None,
    *,
    disease_state: DiseaseStateSpec | None = None,
) -> dict[str, Any]:
    resp = responses(rule.criteria)
    deaths = ep.deaths(patient) if rule.death_is_event else []
    nact = None
    if rule.censor_at_new_anticancer_therapy and new_therapy:
        nact = new_therapy[0]
    if rule.metastasis_directed_therapy_censors:
        mdt = ep.mdt_dates(patient, origin)
        if mdt and (nact is None or mdt[0].date < nact.date):
            nact = mdt[0]
    missed = (
        ep.MissedVisit(rule.missed_visit.visit_interval_days, rule.missed_visit.min_missed_visits)
        if rule.missed_visit
        else None
    )
    base = {"endpoint": rule.id, "name": rule.name, "source_text": rule.source_text}
    if rule.kind in ("orr", "dcr"):
        bor = best_response(
            resp,
            criteria=rule.criteria,
            start=origin,
            confirm=rule.confirm_response,
            until=nact.date if nact else None,
            options=ropts or r11.RecistOptions(),
        )
        if rule.criteria == "irecist":
            good = ("iCR", "iPR") if rule.kind == "orr" else ("iCR", "iPR", "iSD", "NON-iCR/NON-iUPD")
        else:
            good = ("CR", "PR") if rule.kind == "orr" else ("CR", "PR", "SD", "NON-CR/NON-PD")
        value = None if bor.response is None else bor.response in good
        reason = (
            "no post-origin assessment: unknown"
            if bor.response is None
            else f"best overall response {bor.response}" + (" (confirmed)" if bor.confirmed else "")
        )
        return {**base, **ep.ResponseEndpoint(rule.id, value, bor.response, reason).to_dict()}
    if rule.kind == "os":
        tte = ep.time_to_event(
            rule.id,
            origin,
            events=ep.deaths(patient),
            assessments=resp,
            last_contact=alive,
            censor_at_last_contact=True,
        )
        return {**base, **tte.to_dict()}
    if rule.kind == "ttnt":
        events = list(nact_all[:1]) + deaths
        end = alive
        death = patient.death_date()
        if death is not None and not rule.death_is_event and death >= origin:
            # follow-up for the next treatment is complete to the death: censored there (the rule's
            # "death and last contact censor"); the death is not a contact
            end = ep.Candidate(death, "the death, not an event of this endpoint (follow-up is complete to it)")
        tte = ep.time_to_event(
            rule.id, origin, events=events, assessments=resp, last_contact=end, censor_at_last_contact=True
        )
        return {**base, **tte.to_dict()}
    if rule.kind == "pfs":
        if rule.criteria == "irecist":
            d = irecist.ipfs_date([r for r in resp if r[0] >= origin])
            pd = ep.Candidate(d, "iRECIST progression: first iUPD of the block confirmed as iCPD") if d else None
        else:
            pd = ep.first_pd(resp, origin)
        events = deaths + ([pd] if pd else [])
        if rule.recorded_progression_is_event:
            events += ep.recorded_progressions(patient)
        tte = ep.time_to_event(rule.id, origin, events=events, assessments=resp, new_therapy=nact, missed_visit=missed)
        return {**base, **tte.to_dict()}
    if rule.kind == "pfs_next_line":
        return {**base, **_pfs_next_line(patient, rule, origin, resp, nact_all, deaths, missed, notes).to_dict()}
    if rule.kind == "polymetastatic_pfs":
        events = list(deaths)
        poly = _polymetastatic(patient, origin, rule.polymetastatic_threshold_lesions or 5, baseline)
        if poly:
            events.append(poly)
        tte = ep.time_to_event(rule.id, origin, events=events, assessments=resp, new_therapy=nact, missed_visit=missed)
        return {**base, **tte.to_dict()}
    if rule.kind == "local_control" and rule.lesions == "residual":
        return {**base, **_residual_control(patient, rule, origin, disease_state)}
    if rule.kind == "local_control":
        per = []
        for rt in patient.radiotherapy or ():
            if rt.start < origin:
                continue
            for lid in rt.lesions or ():
                per.append(
                    ep.local_control(
                        rule.id,
                        patient,
                        lid,
                        rt.start,
                        progression_pct=rule.lesion_progression_pct or 20,
                        progression_mm=rule.lesion_progression_mm or 5,
                    ).to_dict()
                )
        return {
            **base,
            "kind": "per_lesion",
            "lesions": per,
            "reason": "no lesion treated on or after the origin" if not per else f"{len(per)} treated lesion(s)",
        }
    raise AssessmentError(f"endpoint kind {rule.kind!r}: not derivable", field="kind")  # pragma: no cover


def _residual_control(
    patient: Patient, rule: EndpointRule, origin: dt.date, spec: DiseaseStateSpec | None
) -> dict[str, Any]:
    """Control of the residual disease in every arm: each lesion of the protocol's disease state
    (mode ``residual``: present and not in complete metabolic response) on the last scan on or
    before the origin, followed from the origin by the per-lesion rule of
    :func:`oligotrial.domain.response.endpoints.local_control` (its nadir from the last measurement
    on or before the origin). The lesions do not depend on the arm, so the arm without
    radiotherapy has values too. A lesion the scan cannot classify (e.g. no PET-CT) is listed
    under ``undetermined`` with what would decide it, never counted as controlled."""
    if spec is None:
        raise AssessmentError(
            f"endpoint {rule.id}: lesions 'residual' needs the protocol's disease_state", field="lesions"
        )
    ds = evaluate_disease_state(patient.model_copy(update={"as_of": origin}), spec)
    if ds.judged_scan is None:
        return {
            "kind": "per_lesion",
            "lesion_set": "residual",
            "lesions": [],
            "undetermined": [],
            "reason": f"no scan on or before the origin {origin}: the residual lesions are not known",
        }
    per = [
        ep.local_control(
            rule.id,
            patient,
            lid,
            origin,
            progression_pct=rule.lesion_progression_pct or 20,
            progression_mm=rule.lesion_progression_mm or 5,
        ).to_dict()
        for lid in ds.counted
    ]
    why = "; ".join(ds.missing) or "not classified"
    undetermined = [
        {"lesion": lid, "reason": f"not known whether it was residual at {ds.judged_scan}: needs {why}"}
        for lid in ds.uncertain
    ]
    reason = (
        f"{len(per)} residual lesion(s) on the scan of {ds.judged_scan} (on or before the origin {origin}), "
        "followed from the origin in every arm"
    )
    if undetermined:
        reason += f"; {len(undetermined)} lesion(s) undetermined"
    return {
        "kind": "per_lesion",
        "lesion_set": "residual",
        "lesions": per,
        "undetermined": undetermined,
        "reason": reason,
    }


def _pfs_next_line(
    patient: Patient,
    rule: EndpointRule,
    origin: dt.date,
    resp: list[tuple[dt.date, str]],
    nact_all: list[ep.Candidate],
    deaths: list[ep.Candidate],
    missed: ep.MissedVisit | None,
    notes: list[str],
) -> ep.TimeToEvent:
    """PFS-NEST: from the origin to progression on the next line of systemic therapy, or death.
    Progression before the next line (oligoprogression treated by MDT on the same therapy) is
    not an event; progression is RECIST 1.1 PD against the last assessment on or before the
    next-line start (re-baselined), a recorded progression after it, or that line's
    ``progression_date``. A further line after the next one censors."""
    if not nact_all:
        tte = ep.time_to_event(rule.id, origin, events=deaths, assessments=resp, missed_visit=missed)
        return tte if tte.event else replace(tte, reason="no next line of systemic therapy started; " + tte.reason)
    nxt = nact_all[0]
    events = list(deaths)
    points = [p for p in r11.timeline(patient) if p.date <= nxt.date]
    after_resp: list[tuple[dt.date, str]] = []
    if points:
        try:
            after_resp = r11.assess(patient, baseline=points[-1].date).responses()
        except AssessmentError as exc:
            notes.append(f"PFS-NEST: cannot re-baseline at {points[-1].date}: {exc.message}")
    pd = ep.first_pd(after_resp, nxt.date)
    if pd:
        events.append(ep.Candidate(pd.date, f"progression on the next line (RECIST 1.1 vs {points[-1].date})"))
    if rule.recorded_progression_is_event:
        events += [c for c in ep.recorded_progressions(patient) if c.date > nxt.date]
    for t in patient.systemic_therapy or ():
        if t.start == nxt.date and t.progression_date:
            events.append(ep.Candidate(t.progression_date, f"progression on line {t.line} (systemic_therapy[])"))
    further = [c for c in nact_all if c.date > nxt.date]
    assessments = resp + [r for r in after_resp if r[0] > nxt.date]
    return ep.time_to_event(
        rule.id,
        origin,
        events=events,
        assessments=assessments,
        new_therapy=further[0] if (further and rule.censor_at_new_anticancer_therapy) else None,
        missed_visit=missed,
    )


def _polymetastatic(patient: Patient, origin: dt.date, threshold: int, baseline: dt.date | None) -> ep.Candidate | None:
    """First assessment after the origin at which more than ``threshold`` lesions are present
    (lesions of the response baseline not gone plus counted new lesions)."""
    if baseline is None:
        return None
    try:
        res = r11.assess(patient, baseline=baseline)
    except AssessmentError:
        return None
    points = {p.date: p for p in r11.timeline(patient)}
    base_ids = [*res.targets, *res.non_targets]
    for tp in res.timepoints:
        if tp.date < origin:
            continue
        p = points[tp.date]
        present = [
            lid for lid in base_ids if r11.gone(r11.lesion_of(patient, lid), p.findings.get(lid), target=True) is False
        ]
        count = len(present) + len(tp.new_lesion_ids)
        if count > threshold:
            return ep.Candidate(tp.date, f"polymetastatic progression: {count} lesions > {threshold}")
    return None
