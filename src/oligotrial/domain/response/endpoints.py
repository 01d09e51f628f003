"""Per-patient endpoint derivation: time-to-event and response endpoints. Pure logic, no I/O.

Event and censoring rules (admiral ``derive_param_tte`` / admiralonco ``adtte`` conventions;
FDA guidance "Clinical Trial Endpoints for the Approval of Cancer Drugs and Biologics", 2018,
Appendix 3), written once in :func:`time_to_event`:

- the **earliest** qualifying event on or after the origin wins;
- without an event the patient is censored at the **last adequate assessment** (a time point
  with a response other than NE) on or after the origin, or at the origin when there is none;
- a **new anticancer therapy** (NACT) before the event censors at the last adequate assessment
  before it; events after it are not used. Metastasis-directed therapy given by the protocol
  is not NACT unless a rule says so;
- optional **missed-visit rule**: an event after ``min_missed_visits`` or more missed visits
  (gap > min_missed_visits x interval since the last adequate assessment) is censored there.

Every result carries the reason for its event or censoring. Durations are ``date - origin`` in
days (no +1; admiral's ``derive_vars_duration`` adds one day by default, so add it when
comparing to ADaM AVAL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from oligotrial.domain.record.patient import Patient
from oligotrial.domain.response import recist as r11

Date = dt.date

ADEQUATE = frozenset({"CR", "PR", "SD", "NON-CR/NON-PD", "PD", "iCR", "iPR", "iSD", "NON-iCR/NON-iUPD", "iUPD", "iCPD"})


@dataclass(frozen=True)
class Candidate:
    date: Date
    reason: str


@dataclass(frozen=True)
class MissedVisit:
    """FDA 2018 Appendix 3: censor an event after ``min_missed_visits`` missed visits."""

    visit_interval_days: int
    min_missed_visits: int = 2


@dataclass(frozen=True)
class TimeToEvent:
    endpoint: str
    event: bool
    date: Date
    days: int
    reason: str
    lesion: str | None = None

    def to_dict(self) -> dict:
        out = {
            "endpoint": self.endpoint,
            "kind": "time_to_event",
            "event": self.event,
            "date": self.date.isoformat(),
            "days": self.days,
            "reason": self.reason,
        }
        if self.lesion is not None:
            out["lesion"] = self.lesion
        return out


@dataclass(frozen=True)
class ResponseEndpoint:
    endpoint: str
    value: bool | None
    best_overall_response: str | None
    reason: str

    def to_dict(self) -> dict:
        return {
            "endpoint": self.endpoint,
            "kind": "proportion",
            "value": self.value,
            "best_overall_response": self.best_overall_response,
            "reason": self.reason,
        }


def time_to_event(
    endpoint: str,
    origin: Date,
    *,
    events: Sequence[Candidate],
    assessments: Sequence[tuple[Date, str]],
    new_therapy: Candidate | None = None,
    missed_visit: MissedVisit | None = None,
    last_contact: Date | Candidate | None = None,
    censor_at_last_contact: bool = False,
) -> TimeToEvent:
    """Derive one time-to-event endpoint by the rules in the module docstring.

    ``assessments`` are (date, response) pairs; ``censor_at_last_contact`` censors at
    ``last_contact`` (see :func:`last_known_alive`; a :class:`Candidate` names its source)
    instead of the last adequate assessment (overall survival, TTNT); with no contact on or
    after the origin the time is censored at the origin.
    """
    cutoff = new_therapy.date if new_therapy is not None else None
    usable = [c for c in events if c.date >= origin and (cutoff is None or c.date < cutoff)]
    adequate = sorted(d for d, r in assessments if r in ADEQUATE and d >= origin and (cutoff is None or d < cutoff))
    event = min(usable, key=lambda c: c.date) if usable else None

    def censor(reason: str, before: Date | None = None) -> TimeToEvent:
        if censor_at_last_contact and before is None:
            lc: Date | None
            if isinstance(last_contact, Candidate):
                lc, what = last_contact.date, last_contact.reason
            else:
                lc, what = last_contact, "the last contact"
            if lc is None or lc < origin:
                lc, what = origin, "the origin (no contact recorded after it)"
            d = lc if cutoff is None else min(lc, cutoff)
            return TimeToEvent(endpoint, False, d, (d - origin).days, reason + f"; censored at {d}: {what}")
        prior = [d for d in adequate if before is None or d <= before]
        if prior:
            d = prior[-1]
            return TimeToEvent(
                endpoint, False, d, (d - origin).days, reason + f"; censored at the last adequate assessment {d}"
            )
        return TimeToEvent(endpoint, False, origin, 0, reason + "; no adequate assessment: censored at the origin")

    if event is None:
        if new_therapy is not None and any(c.date >= new_therapy.date for c in events):
            return censor(f"new anticancer therapy {new_therapy.date} ({new_therapy.reason}) before any event")
        if new_therapy is not None:
            return censor(f"no event; new anticancer therapy {new_therapy.date} ({new_therapy.reason})")
        return censor("no event")
    if missed_visit is not None:
        prior = [d for d in adequate if d < event.date]
        last = prior[-1] if prior else origin
        gap = (event.date - last).days
        if gap > missed_visit.min_missed_visits * missed_visit.visit_interval_days:
            return censor(
                f"{event.reason} on {event.date} after >= {missed_visit.min_missed_visits} missed visits "
                f"({gap} d since {last}, interval {missed_visit.visit_interval_days} d; FDA 2018 App. 3)",
                before=last,
            )
    return TimeToEvent(endpoint, True, event.date, (event.date - origin).days, event.reason)


# ---------------------------------------------------------------------------------------------
# record-derived inputs
# ---------------------------------------------------------------------------------------------


def deaths(patient: Patient) -> list[Candidate]:
    d = patient.death_date()
    return [Candidate(d, "death")] if d is not None else []


def recorded_progressions(patient: Patient) -> list[Candidate]:
    return [
        Candidate(e.date, "progression recorded in events[]" + (f" ({e.detail})" if e.detail else ""))
        for e in patient.events or ()
        if e.kind == "progression"
    ]


def next_line_starts(patient: Patient, origin: Date) -> list[Candidate]:
    """Systemic therapy started after the origin (a new line), from systemic_therapy[] and
    events[] ``next_line_start``. A line already running at the origin is not a new line."""
    out = [
        Candidate(t.start, f"systemic therapy line {t.line} ({', '.join(t.agents)}) started")
        for t in patient.systemic_therapy or ()
        if t.start > origin
    ]
    out += [
        Candidate(e.date, "next line of systemic therapy started (events[])")
        for e in patient.events or ()
        if e.kind == "next_line_start" and e.date > origin
    ]
    return sorted(out, key=lambda c: c.date)


def mdt_dates(patient: Patient, origin: Date) -> list[Candidate]:
    out = [
        Candidate(rt.start, f"radiotherapy {rt.technique or ''} to {', '.join(rt.lesions or []) or rt.region}")
        for rt in patient.radiotherapy or ()
        if rt.start > origin
    ]
    out += [
        Candidate(e.date, "metastasis-directed therapy (events[])")
        for e in patient.events or ()
        if e.kind == "metastasis_directed_therapy" and e.date > origin
    ]
    return sorted(out, key=lambda c: c.date)


def first_pd(responses: Sequence[tuple[Date, str]], origin: Date, after: Date | None = None) -> Candidate | None:
    for d, r in sorted(responses):
        if d >= origin and (after is None or d > after) and r in ("PD", "iCPD"):
            return Candidate(d, f"{'RECIST 1.1 progression' if r == 'PD' else 'iRECIST confirmed progression'}")
    return None


#: events[] kinds that are not a contact: a death is an event (never a censoring date), a loss to
#: follow-up or a withdrawal is a declaration that the participant could not be (or may no longer
#: be) followed ("no contact after three attempts"), not a date they were seen
NOT_CONTACT_EVENTS = frozenset({"death", "lost_to_follow_up", "withdrawal"})


def contacts(patient: Patient) -> list[Candidate]:
    """Every date on which the record shows the participant seen or reported alive, with its
    source: tumour assessments; adverse events (onset and resolution); quality-of-life forms;
    labs; performance status; vital signs; transfusions; radiotherapy (first and last fraction);
    systemic therapy lines started (and a line's recorded progression); local therapies; the
    events progression, next-line start and metastasis-directed therapy. Not: death (an event),
    loss to follow-up or withdrawal (declarations, not contacts), the record's ``as_of`` (the date
    it is judged at, not a visit), attestations and biomarker dates (judgements and samples).
    See docs/endpoints.md, "Last contact"."""
    out: list[Candidate] = []

    def add(d: Date | None, what: str) -> None:
        if d is not None:
            out.append(Candidate(d, what))

    for a in patient.assessments or ():
        add(a.date, "tumour assessment")
    for ae in patient.adverse_events or ():
        add(ae.date, f"adverse event {ae.term} onset")
        add(ae.resolved_on, f"adverse event {ae.term} resolved")
    for q in patient.quality_of_life or ():
        add(q.date, f"quality of life {q.instrument}")
    for lab in patient.labs or ():
        add(lab.date, f"lab {lab.test}")
    for ps in patient.performance or ():
        add(ps.date, f"performance status {ps.scale}")
    for v in patient.vitals or ():
        add(v.date, "vital signs")
    for t in patient.transfusions or ():
        add(t.date, "transfusion")
    for rt in patient.radiotherapy or ():  # first and last fraction, named alike: how many days a
        add(rt.start, "radiotherapy fraction")  # course lasted can tell a blinded reader the arm
        add(rt.end, "radiotherapy fraction")
    for st in patient.systemic_therapy or ():
        add(st.start, f"systemic therapy line {st.line} started")
        add(st.progression_date, f"progression on systemic therapy line {st.line}")
    for lt in patient.local_therapies or ():
        add(lt.date, f"local therapy {lt.kind}")
    for e in patient.events or ():
        if e.kind not in NOT_CONTACT_EVENTS:
            add(e.date, f"{e.kind.replace('_', ' ')} (events[])")
    return out


def last_known_alive(patient: Patient, also: Sequence[Candidate] = ()) -> Candidate | None:
    """The last contact: the latest of :func:`contacts` and ``also`` (what lies outside the record:
    consent, enrolment, randomization, visits done), never after a death; None without any. On
    equal dates the first source listed is named."""
    found = [*contacts(patient), *also]
    death = patient.death_date()
    if death is not None:
        found = [c for c in found if c.date <= death]
    if not found:
        return None
    last = max(c.date for c in found)
    return next(c for c in found if c.date == last)


def last_contact(patient: Patient, also: Sequence[Candidate] = ()) -> Date | None:
    """The date of :func:`last_known_alive` (None without any contact)."""
    c = last_known_alive(patient, also)
    return None if c is None else c.date


# ---------------------------------------------------------------------------------------------
# lesion-level local control
# ---------------------------------------------------------------------------------------------


def local_control(
    endpoint: str, patient: Patient, lesion_id: str, treated_on: Date, *, progression_pct: float, progression_mm: float
) -> TimeToEvent:
    """Local control of one treated lesion: progression of that lesion when its size is at least
    ``progression_pct`` % and ``progression_mm`` mm above its own nadir (from the last
    measurement on or before treatment; the per-lesion RECIST 1.1 s.4.3.1 thresholds as STOP-2
    inclusion 7(1) states them), or the reader's ``unequivocal_progression``. Censored at the last
    assessment that measured the lesion; death censors (a competing event, reported)."""
    lesion = r11.lesion_of(patient, lesion_id)
    seq = []
    for tp in r11.timeline(patient):
        f = tp.findings.get(lesion_id)
        if f is None:
            continue
        seq.append((tp.date, r11.target_size(lesion, f), f.state))
    before = [s for s in seq if s[0] <= treated_on and s[1] is not None]
    nadir: Decimal | None = before[-1][1] if before else None
    last_seen = treated_on
    pct = Decimal(str(progression_pct)) / 100
    for d, size, state in seq:
        if d <= treated_on:
            continue
        if state == "unequivocal_progression":
            return TimeToEvent(
                endpoint,
                True,
                d,
                (d - treated_on).days,
                "local progression: reader's unequivocal progression",
                lesion_id,
            )
        if size is None:
            continue
        last_seen = d
        if nadir is not None and size >= nadir * (1 + pct) and size - nadir >= Decimal(str(progression_mm)):
            return TimeToEvent(
                endpoint,
                True,
                d,
                (d - treated_on).days,
                f"local progression: {size} mm >= {progression_pct:g} % and {progression_mm:g} mm over "
                f"the lesion nadir {nadir} mm",
                lesion_id,
            )
        nadir = size if nadir is None else min(nadir, size)
    reason = "no local progression" if nadir is not None else "no measurement on or before treatment: no reference"
    death = patient.death_date()
    if death is not None:
        reason += f"; death {death} censors (competing event)"
    return TimeToEvent(
        endpoint,
        False,
        last_seen,
        (last_seen - treated_on).days,
        reason + f"; censored at the last measurement {last_seen}",
        lesion_id,
    )


@dataclass
class EndpointReport:
    patient: str
    trial: str
    origin: Date
    results: list[TimeToEvent | ResponseEndpoint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
