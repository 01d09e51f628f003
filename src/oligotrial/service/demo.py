"""``oligotrial demo``: a whole trial run end to end through the service layer.

A seeded synthetic cohort (:mod:`oligotrial.service.demo_cohort`) is assessed for eligibility,
consented, enrolled, randomized from a generated list, treated (radiotherapy checked against the
allocated arm), followed (visits in their windows, some missed; scans with per-lesion
measurements; adverse events; quality of life; next-line therapies; deaths; losses to follow-up;
withdrawals) up to a data cut. Every step is the same service call the API makes, so every step is
checked by the same rules and written to the audit trail.

The calendar is simulated: each participant's life is a generator that yields the date of its
next action, and the runner always resumes the participant whose next action is earliest, with
the injected clock set to that date. The audit trail is therefore in calendar order, and no entry
is ever dated after "today". The calendar is fixed (it starts two weeks after the protocol
version's effective date and ends at :data:`DATA_CUT`, before the day this was written), so the
same seed gives the same trial.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oligotrial.domain.protocol.schedule_schema import parse_schedule
from oligotrial.domain.protocol.schema import Protocol
from oligotrial.domain.radiotherapy import course_dates
from oligotrial.domain.record.followup import TERMS
from oligotrial.errors import DoseError, OligotrialError
from oligotrial.service import enrolment, followup, randomization
from oligotrial.service.consort import arm_has_radiotherapy
from oligotrial.service.context import ServiceContext
from oligotrial.service.demo_cohort import (
    AE_TERMS,
    GRADE_P,
    GRADES,
    Candidate,
    Scenario,
    draw_course,
    lesion_size,
    make_candidates,
    qol_answers,
)
from oligotrial.service.ports import Actor

#: the last day of every demo calendar (fixed: a demo is reproducible whatever day it runs)
DATA_CUT = dt.date(2026, 11, 15)


class DemoClock:
    """The service clock of a demo: set to each action's date, 09:00 UTC, moving a microsecond per
    call so that audit times are strictly increasing."""

    def __init__(self, day: dt.date) -> None:
        self.now = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(microseconds=1)
        return self.now

    def set(self, day: dt.date) -> None:
        target = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)
        self.now = max(self.now, target)


@dataclass
class DemoResult:
    trial: str
    data_cut: dt.date
    candidates: int
    randomized: int
    by_arm: dict[str, int] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)  # service refusals the demo met (should be none)


def calendar(protocol: Protocol) -> tuple[dt.date, int]:
    """(first screening day, accrual days) of a demo of ``protocol``: accrual over the first 55 %
    of the time between the version's effective date (plus two weeks) and the data cut."""
    first = protocol.effective_date + dt.timedelta(days=14) if protocol.effective_date else dt.date(2025, 1, 6)
    span = (DATA_CUT - first).days
    if span < 120:
        raise OligotrialError(
            f"trial {protocol.id}: version effective {protocol.effective_date} leaves {span} days "
            f"before the demo's data cut {DATA_CUT}; expected at least 120",
            field="trial",
        )
    return first, int(span * 0.55)


def _regimen_course(protocol: Protocol, arm_id: str) -> dict[str, Any] | None:
    """A course inside the arm's first registered regimen (its typical one when marked), or None
    for an arm without radiotherapy (or only palliative radiotherapy as needed)."""
    if not arm_has_radiotherapy(protocol, arm_id):
        return None
    rt = next(a for a in protocol.arms if a.id == arm_id).radiotherapy
    if rt is None:
        return None
    regimens = [
        r
        for r in rt.regimens
        if getattr(r, "total_dose_gy", None) is not None
        and getattr(r.total_dose_gy, "min", None) is not None
        and not getattr(r, "sites", None)
    ]
    if not regimens:
        return None
    r = next((x for x in regimens if getattr(x, "typical", False)), regimens[0])
    fractions, total = r.fractions, r.total_dose_gy
    # a regimen the demo can draw from states both bounds (the five protocols' do)
    assert fractions is not None and fractions.min is not None and fractions.max is not None, r
    assert total is not None and total.min is not None and total.max is not None, r
    fx_lo, fx_hi = int(fractions.min), int(fractions.max)
    fx = fx_lo if fx_lo == fx_hi else round((fx_lo + fx_hi) / 2)
    dose = float(total.min) if total.min == total.max else float(round((total.min + total.max) / 2, 1))
    techniques = list(getattr(r, "techniques", None) or [])
    tech = "SBRT" if "SBRT" in techniques else (techniques[0] if techniques else "conventional")
    timing = getattr(r, "fraction_dates", None)
    return {"dose_gy": dose, "fractions": fx, "technique": tech, "per_week": timing.max_per_week if timing else 5}


class Demo:
    """One demo run of ``trial`` on ``ctx`` (a fresh database) with ``clock`` as its clock."""

    def __init__(
        self,
        ctx: ServiceContext,
        clock: DemoClock,
        trial: str,
        *,
        patients: int = 200,
        seed: int = 1,
        scenario: Scenario | None = None,
        progress: Callable[[int], None] | None = None,
        list_seed: int | None = None,
    ) -> None:
        self.ctx, self.clock, self.seed = ctx, clock, seed
        # the randomization list's own seed: secret in `oligotrial demo` (drawn at random, so that
        # nobody rebuilds the concealed list from the public demo seed); tests pass none and get
        # the demo seed, for a reproducible trial
        self.list_seed = seed if list_seed is None else list_seed
        self.protocol = ctx.load_protocol(trial)
        self.trial = self.protocol.id
        self.single = followup.single_group(self.protocol)
        self.scenario = scenario or Scenario()
        self.n = patients
        self.progress = progress or (lambda _n: None)
        t = self.trial
        self.coord = Actor("demo-coordinator", {t: "coordinator"})
        self.radonc = Actor("demo-radiation-oncologist", {t: "treating_oncologist"})
        self.dm = Actor("demo-data-manager", {t: "data_manager"})
        self.assessor = Actor("demo-outcome-assessor", {t: "outcome_assessor"})
        arms = self.protocol.arms
        self.control = next(
            (a.id for a in arms if a.type in ("active_comparator", "placebo_comparator", "no_intervention")), None
        )
        self.experimental = {a.id for a in arms if a.type in ("experimental", "single_arm")}
        spec = parse_schedule(self.protocol.schedule, blinded_roles=self.protocol.masking.blinded_roles)
        self.visits = list(spec.visits) if spec is not None else []
        self.result: DemoResult | None = None

    # ---- the run ----------------------------------------------------------------------------

    def run(self) -> DemoResult:
        first, accrual = calendar(self.protocol)
        self.clock.set(first - dt.timedelta(days=1))
        result = DemoResult(self.trial, DATA_CUT, self.n, 0)
        if not self.single:
            randomization.generate_list(self.ctx, self.trial, seed=self.list_seed, size_per_stratum=max(2 * self.n, 12))
        candidates = make_candidates(self.trial, self.n, self.seed, first, accrual)
        queue: list[tuple[dt.date, int, Iterator[dt.date]]] = []
        for i, cand in enumerate(candidates):
            rng = np.random.default_rng([self.seed, 2, i])
            gen = self._life(cand, rng, result)
            heapq.heappush(queue, (cand.screened_on, i, gen))
        done = 0
        while queue:
            day, i, gen = heapq.heappop(queue)
            if day > DATA_CUT:
                continue
            self.clock.set(day)
            try:
                nxt = next(gen)
            except StopIteration:
                done += 1
                self.progress(done)
                continue
            heapq.heappush(queue, (max(nxt, day), i, gen))
        self.clock.set(DATA_CUT)
        self.result = result
        return result

    def _call(self, result: DemoResult, what: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """A service call; a refusal is kept (it would be a bug of the demo's data) and the
        participant's life stops there."""
        try:
            return fn(self.ctx, *args, **kw)
        except OligotrialError as exc:
            result.refusals.append(f"{what}: {exc}")
            raise _Stop from exc

    def _life(self, cand: Candidate, rng: np.random.Generator, result: DemoResult) -> Iterator[dt.date]:
        try:
            yield from self._steps(cand, rng, result)
        except _Stop:
            return

    def _steps(self, cand: Candidate, rng: np.random.Generator, result: DemoResult) -> Iterator[dt.date]:
        t, s = self.trial, cand.screened_on
        pid = self._call(result, "register", enrolment.register, self.coord, t, cand.record)["id"]
        view = self._call(result, "screen", enrolment.screen, self.coord, t, pid, on=s.isoformat())
        verdict = view["screening"]["verdict"]
        if verdict != "eligible":
            reason = "not eligible" if verdict == "ineligible" else "other"
            note = None if verdict == "ineligible" else "eligibility not confirmed: a clinician's judgement is missing"
            self._call(result, "close", enrolment.close_screening, self.coord, t, pid, {"reason": reason, "note": note})
            return
        yield s + dt.timedelta(days=2)
        if cand.declines:
            self._call(
                result,
                "decline",
                enrolment.close_screening,
                self.coord,
                t,
                pid,
                {"reason": "declined", "note": "declined to take part after the information visit"},
            )
            return
        consent_day = s + dt.timedelta(days=2)
        self._call(
            result,
            "consent",
            enrolment.consent,
            self.coord,
            t,
            pid,
            {"date": consent_day.isoformat(), "form_version": "v1.0"},
        )
        yield s + dt.timedelta(days=3)
        self._call(result, "enrol", enrolment.enrol, self.coord, t, pid, {})
        eq, c30 = qol_answers(rng, 0.75)
        base_day = s + dt.timedelta(days=3)
        self._entry(result, pid, "qol", {"date": base_day.isoformat(), "instrument": "EQ-5D-5L", "responses": eq})
        self._entry(result, pid, "qol", {"date": base_day.isoformat(), "instrument": "EORTC QLQ-C30", "responses": c30})
        if self.single:
            arm, origin = self.protocol.arms[0].id, base_day
        else:
            yield s + dt.timedelta(days=4)
            self._call(result, "randomize", randomization.randomize, self.coord, t, pid, {})
            allocated = randomization.arm_of(self.ctx, t, pid)
            assert allocated is not None, pid  # randomize() above allocated the participant
            arm, origin = allocated, s + dt.timedelta(days=4)
        result.randomized += 1
        result.by_arm[arm] = result.by_arm.get(arm, 0) + 1
        course = draw_course(rng, arm in self.experimental, self.scenario)
        yield from self._follow(pid, arm, origin, cand, course, rng, result)

    def _entry(self, result: DemoResult, pid: str, kind: str, data: dict[str, Any], actor: Actor | None = None) -> None:
        self._call(result, kind, followup.record_entry, actor or self.dm, self.trial, pid, kind, data)

    def _follow(
        self,
        pid: str,
        arm: str,
        origin: dt.date,
        cand: Candidate,
        course: Any,
        rng: np.random.Generator,
        result: DemoResult,
    ) -> Iterator[dt.date]:
        t = self.trial
        day = lambda d: origin + dt.timedelta(days=round(d))
        stop_at = min(course.death, course.lost or 1e9, course.withdrawn or 1e9)
        rt_course = _regimen_course(self.protocol, arm)
        rt_start = None
        if rt_course is not None and not course.skips_rt and stop_at > 10:
            rt_start = day(7)
            yield rt_start
            fx = rt_course["fractions"]
            # as many fractions a week as the regimen allows, from the first
            end = rt_start + dt.timedelta(days=course_dates.min_span_days(fx, rt_course.pop("per_week")))
            if end > rt_start:
                yield end
            ids = [x["id"] for x in cand.record.get("lesions", [])]
            course_data = {**rt_course, "start": rt_start.isoformat(), "end": end.isoformat()}
            try:  # every site (up to five); an arm that treats one lesion conventionally: the first
                enrolment.record_radiotherapy(self.ctx, self.radonc, t, pid, {**course_data, "lesions": ids[:5]})
            except DoseError:
                self._call(
                    result,
                    "radiotherapy",
                    enrolment.record_radiotherapy,
                    self.radonc,
                    t,
                    pid,
                    {**course_data, "lesions": ids[:1]},
                )
        anchors = {
            "randomization": origin,
            "enrolment": origin,
            "radiotherapy_start": rt_start,
            "radiotherapy_end": rt_start,
        }
        baseline = _baseline_sizes(cand.record)
        treated = rt_start is not None
        plan = []
        for v in self.visits:
            a = anchors.get(v.anchor)
            if a is None:
                continue
            target = a + dt.timedelta(days=v.day)
            jitter = int(rng.integers(-min(v.window_before_days, 5), min(v.window_after_days, 5) + 1))
            plan.append((target + dt.timedelta(days=jitter), v))
        plan.sort(key=lambda x: x[0])
        events = []  # (day offset, kind)
        if course.next_line:
            events.append((course.progression + 21, "next_line"))
        aes = [(float(rng.uniform(10, 120)), "ae") for _ in range(int(rng.poisson(1.6 if treated else 1.0)))]
        events += aes
        if course.lost is not None and course.lost < min(course.death, course.withdrawn or 1e9):
            events.append((course.lost, "lost"))
        elif course.withdrawn is not None and course.withdrawn < course.death:
            events.append((course.withdrawn, "withdrawn"))
        else:
            events.append((course.death, "death"))
        timeline = [((d - origin).days, "visit", v) for d, v in plan] + [(d, k, None) for d, k in events]
        timeline.sort(key=lambda x: (x[0], x[1] != "visit"))
        new_seen: set[str] = set()
        for offset, kind, visit in timeline:
            when = day(offset)
            if when > DATA_CUT:
                return
            if kind == "visit" and offset >= stop_at:
                continue
            if kind == "ae" and offset >= stop_at:
                continue
            yield when
            if kind == "visit":
                self._visit(
                    result, pid, visit, when, offset, course, baseline, treated, new_seen, rng, arm in self.experimental
                )
            elif kind == "ae":
                terms = AE_TERMS.get(self.trial, AE_TERMS["default"])
                grade = int(rng.choice(GRADES, p=GRADE_P))
                term = terms[int(rng.integers(len(terms)))]
                grade = grade if grade in TERMS[term] else max(TERMS[term])
                self._entry(
                    result,
                    pid,
                    "adverse_event",
                    {
                        "date": when.isoformat(),
                        "term": term,
                        "grade": grade,
                        "serious": grade >= 3 and bool(rng.random() < 0.5),
                        "attribution_radiotherapy": "probable" if treated else "unlikely",
                    },
                )
            elif kind == "next_line":
                self._entry(
                    result,
                    pid,
                    "event",
                    {"date": when.isoformat(), "kind": "next_line_start", "detail": "second-line systemic therapy"},
                )
            elif kind == "lost":
                self._entry(
                    result,
                    pid,
                    "event",
                    {
                        "date": when.isoformat(),
                        "kind": "lost_to_follow_up",
                        "detail": "no contact after three attempts",
                    },
                )
                return
            elif kind == "withdrawn":
                self._entry(
                    result,
                    pid,
                    "event",
                    {
                        "date": when.isoformat(),
                        "kind": "withdrawal",
                        "scope": "follow_up",
                        "detail": "withdrew consent to further follow-up",
                    },
                )
                return
            elif kind == "death":
                self._entry(
                    result,
                    pid,
                    "event",
                    {
                        "date": when.isoformat(),
                        "kind": "death",
                        "detail": "disease progression" if offset > course.progression else "other cause",
                    },
                )
                return

    def _visit(
        self,
        result: DemoResult,
        pid: str,
        visit: Any,
        when: dt.date,
        offset: float,
        course: Any,
        baseline: dict[str, tuple[str, float]],
        treated: bool,
        new_seen: set[str],
        rng: np.random.Generator,
        experimental: bool,
    ) -> None:
        t = self.trial
        if rng.random() < 0.05:
            self._call(
                result,
                "visit",
                enrolment.record_visit,
                self.coord,
                t,
                pid,
                visit.code,
                {"missed": True, "reason": "participant unwell, could not attend"},
            )
            return
        self._call(result, "visit", enrolment.record_visit, self.coord, t, pid, visit.code, {"date": when.isoformat()})
        forms = set(visit.forms)
        if "assessment" in forms or "imaging" in forms:
            findings = []
            for lesion, (key, mm) in baseline.items():
                shrink = (0.5 if experimental else 0.2) if treated else 0.0
                findings.append({"lesion": lesion, key: lesion_size(mm, offset, course, shrink)})
            wanted = []
            if offset >= course.progression:
                wanted += ["NEW1"] + ([f"NEW{i}" for i in range(2, 7)] if course.polymetastatic else [])
            if offset >= course.progression2:
                wanted += ["NEW7", "NEW8"]
            for lesion in wanted:
                if lesion not in new_seen:
                    findings.append({"lesion": lesion, "new": True, "diameter_mm": 12.0})
                    new_seen.add(lesion)
            self._entry(
                result,
                pid,
                "assessment",
                {"date": when.isoformat(), "modality": "CT", "findings": findings},
                actor=self.assessor,
            )
        if "qol" in forms:
            health = 0.75 - (0.25 if offset >= course.progression else 0.0) + (0.05 if treated else 0.0)
            eq, c30 = qol_answers(rng, health)
            self._entry(result, pid, "qol", {"date": when.isoformat(), "instrument": "EQ-5D-5L", "responses": eq})
            self._entry(result, pid, "qol", {"date": when.isoformat(), "instrument": "EORTC QLQ-C30", "responses": c30})


class _Stop(Exception):
    """A participant's life stops (a service refused a step)."""


def _baseline_sizes(record: dict[str, Any]) -> dict[str, tuple[str, float]]:
    """The measured lesions of the record's last scan: lesion -> (measure key, mm)."""
    scans = sorted(record.get("assessments") or [], key=lambda a: a["date"])
    out: dict[str, tuple[str, float]] = {}
    known = {x["id"] for x in record.get("lesions") or []}
    for scan in scans:
        for f in scan.get("findings", []):
            for key in ("diameter_mm", "short_axis_mm"):
                if key in f and (f["lesion"] in known or f.get("new")):
                    out[f["lesion"]] = (key, float(f[key]))
    return out
