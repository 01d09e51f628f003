"""The screening worklist: candidates not yet enrolled with their last verdict, a screening's
criteria in the order a clinician works through them, and a clinician's attestation recorded on
the stored record and screened again.

Everything here goes through :mod:`oligotrial.service.enrolment` (the services the REST API
calls): the role check, the site check, the audited record correction
(:func:`~oligotrial.service.enrolment.correct_record`, ``PUT .../record``) and the screening
(:func:`~oligotrial.service.enrolment.screen`). An attestation is a clinician's judgement
recorded as such (who, when, the answer; shared/formats/patient-record.md ``attestations``):
the software never supplies the answer.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from oligotrial.domain.eligibility.screening import verdict_excludes
from oligotrial.domain.record.patient import parse_patient
from oligotrial.domain.trial import workflow
from oligotrial.errors import RecordError
from oligotrial.service import enrolment
from oligotrial.service.access import authorize, site_visible, visible_participant
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import Actor

#: the states of a candidate before enrolment: registered, screened, consented
PRE_ENROLMENT = ("registered", "screened", "consented")
#: how a criterion stands for the trial verdict, in the order the page lists them: undecided
#: first (what the clinician can still act on), then those that exclude, then the rest
STANDING_ORDER = ("undecided", "excludes", "passes", "not_applicable")
MAX_BY = 200
MAX_NOTE = 500


def _bad(field: str, value: Any, expected: str) -> RecordError:
    return RecordError(
        f"{field} {value!r}: expected {expected}",
        field=field,
        errors=[{"path": field, "value": value, "expected": expected}],
    )


def worklist(ctx: ServiceContext, actor: Actor, trial: str) -> list[dict[str, Any]]:
    """The candidates of ``trial`` the actor may see (a site-limited role: its site's) in a state
    before enrolment (:data:`PRE_ENROLMENT`), oldest registration first, each with the verdict
    of their last screening (None: not screened) and how many criteria are undecided or
    exclude."""
    return _worklist(_visible(ctx, actor, trial))


def worklist_and_log(ctx: ServiceContext, actor: Actor, trial: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """:func:`worklist` and :func:`screening_log` from one read of the trial's participants (the
    worklist page shows both)."""
    people = _visible(ctx, actor, trial)
    return _worklist(people), _log(people)


def _visible(ctx: ServiceContext, actor: Actor, trial: str) -> list[Any]:
    """The trial's participants ``actor`` may see (a role that views; a site-limited role: its
    site's)."""
    protocol = ctx.load_protocol(trial)
    authorize(actor, protocol.id, "view")
    with ctx.uow() as uow:
        rows = uow.participants.list_participants(protocol.id)
    return [p for p in rows if site_visible(actor, protocol.id, p.site)]


def _worklist(people: list[Any]) -> list[dict[str, Any]]:
    out = []
    for p in people:
        if p.state not in PRE_ENROLMENT:
            continue
        s = p.screening or {}
        crit = criteria(s)
        out.append(
            {
                "id": p.id,
                "external_id": p.external_id,
                "site": p.site,
                "state": p.state,
                "created_at": p.created_at,
                "verdict": s.get("verdict"),
                "screened_on": s.get("as_of"),
                "undecided": sum(c["standing"] == "undecided" for c in crit),
                "excluding": sum(c["standing"] == "excludes" for c in crit),
            }
        )
    return sorted(out, key=lambda r: r["created_at"])


def standing(c: dict[str, Any]) -> str:
    """How a stored criterion result (``oligotrial.screening/1``) stands for the trial verdict:
    ``undecided`` (``unknown``), ``excludes`` (an inclusion not met or an exclusion met:
    :func:`oligotrial.domain.eligibility.screening.excludes`), ``not_applicable``, else
    ``passes``."""
    verdict = c.get("verdict")
    if verdict == "unknown":
        return "undecided"
    if verdict == "not_applicable":
        return "not_applicable"
    return "excludes" if verdict_excludes(verdict, c.get("kind")) else "passes"


def attestation_keys_missing(c: dict[str, Any]) -> list[str]:
    """The attestation keys a criterion waits for (its ``missing`` entries ``attestation KEY``,
    written by the ``attested`` leaf)."""
    return [m.removeprefix("attestation ") for m in c.get("missing") or () if m.startswith("attestation ")]


def criteria(screening: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A stored screening's criteria, each with its ``standing`` and the attestation keys it
    waits for, ordered by :data:`STANDING_ORDER` (the protocol's order within each)."""
    rows = ((screening or {}).get("result") or {}).get("criteria") or []
    out = [{**c, "standing": standing(c), "attestations_missing": attestation_keys_missing(c)} for c in rows]
    return sorted(out, key=lambda c: STANDING_ORDER.index(c["standing"]))


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The criteria whose verdict differs between two screenings (``before`` None: not screened),
    each as ``{id, kind, was, now, was_standing, now_standing}``."""
    old = {c["id"]: c for c in criteria(before)}
    out = []
    for c in criteria(after):
        o = old.get(c["id"])
        if o is None or o.get("verdict") != c.get("verdict"):
            out.append(
                {
                    "id": c["id"],
                    "kind": c["kind"],
                    "was": None if o is None else o["verdict"],
                    "now": c["verdict"],
                    "was_standing": None if o is None else o["standing"],
                    "now_standing": c["standing"],
                }
            )
    return out


def _answer(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("yes", "no"):
        return value == "yes"
    raise _bad("value", value, "the clinician's answer: yes or no")


def attest(ctx: ServiceContext, actor: Actor, trial: str, pid: str, data: dict[str, Any]) -> dict[str, Any]:
    """Record a clinician's attestation on the participant's stored record and screen again.

    ``data``: ``key`` (one of the protocol's ``attestation_keys``), ``value`` (yes/no or a
    boolean: the clinician's answer), ``by`` (who attests), ``date`` (ISO 8601, not after
    today), optional ``note``, and ``reason`` (for the record correction). Earlier attestations
    of the same key leave the record (the newest recorded answer is the one that counts; the
    audit entry of the correction keeps the record as it was), the new one is appended, the
    record is replaced as :func:`~oligotrial.service.enrolment.correct_record` does (role
    ``correct_record``, audited with the reason) and screened as
    :func:`~oligotrial.service.enrolment.screen` does (role ``screen``, the protocol version
    current today), both in one transaction on the record read under the participant's row
    lock. Only while the workflow still screens (registered or screened); nothing is written
    when any input is refused or either step fails.

    Returns ``{"attestation", "before", "after", "changes", "participant"}``: the screenings
    before and after, and the criteria whose verdict changed (:func:`changes`)."""
    protocol = ctx.load_protocol(trial)
    authorize(actor, protocol.id, "correct_record")
    role = authorize(actor, protocol.id, "screen")
    if not isinstance(data, dict):
        raise _bad("attestation", type(data).__name__, "an object with key, value, by, date and reason")
    keys = [k.key for k in protocol.attestation_keys]
    key = data.get("key")
    if key not in keys:
        raise _bad("key", key, f"an attestation key of {protocol.short_name}: one of {', '.join(keys)}")
    value = _answer(data.get("value"))
    by = data.get("by")
    if not isinstance(by, str) or not 1 <= len(by.strip()) <= MAX_BY:
        raise _bad("by", by, f"the attesting clinician's name, 1-{MAX_BY} characters")
    raw_date = data.get("date")
    try:
        day = dt.date.fromisoformat(str(raw_date))
    except ValueError:
        raise _bad("date", raw_date, "an ISO 8601 date (YYYY-MM-DD)") from None
    if day > ctx.today():
        raise _bad("date", day.isoformat(), f"the date the clinician attested, not after today ({ctx.today()})")
    note = data.get("note")
    note = note.strip() if isinstance(note, str) else note
    if note is not None and note != "" and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise _bad("note", note, f"text of at most {MAX_NOTE} characters")
    reason = data.get("reason")
    if not isinstance(reason, str) or len(reason.strip()) < 3:
        raise _bad("reason", reason, "a reason for the change to the record, at least 3 characters")

    attestation = {"key": key, "value": value, "by": by.strip(), "date": day.isoformat()}
    if note:
        attestation["note"] = note
    current = enrolment.current_protocol(ctx, protocol.id)
    # one transaction, on the record as it is under the participant's row lock: the correction
    # and the new screening are stored together or not at all, and a correction made meanwhile
    # by someone else is kept (this attestation is added to it, never written over it)
    with ctx.uow() as uow:
        p = visible_participant(uow, actor, protocol.id, pid, for_update=True)
        workflow.check_step(p, "screen")
        before = copy.deepcopy(p.screening)
        record = copy.deepcopy(p.record)
        record["attestations"] = [a for a in record.get("attestations") or [] if a.get("key") != key] + [attestation]
        enrolment.correct_record_in(
            uow, ctx, actor, protocol, p, record, parse_patient(record, today=ctx.today()), reason.strip()
        )
        enrolment.screen_in(uow, ctx, actor, current, p, as_of=ctx.today())
        uow.commit()
    after = enrolment.participant_view(ctx, current, role, p, [], [])
    return {
        "attestation": attestation,
        "before": before,
        "after": after["screening"],
        "changes": changes(before, after["screening"]),
        "participant": after,
    }


# ---- the screening log ------------------------------------------------------------------------

#: the screening log's columns, one row per candidate ever registered (CONSORT 2010 item 13a and
#: its flow diagram: those assessed for eligibility and the reasons for exclusion; ICH E6(R3)
#: Appendix C keeps a subject screening log among the essential records)
LOG_COLUMNS = (
    "participant",
    "site",
    "registered_on",
    "state",
    "screened_on",
    "protocol_version",
    "verdict",
    "excluding_criteria",
    "undecided_criteria",
    "consented_on",
    "enrolled_on",
    "enrolled_against_verdict",
    "closed_reason",
    "closed_note",
    "closed_on",
)


def screening_log(ctx: ServiceContext, actor: Actor, trial: str) -> dict[str, Any]:
    """Every candidate of ``trial`` the actor may see (a site-limited role: its site's), in the
    order registered, with the last screening's verdict and the criteria that exclude or are
    undecided (by id), consent and enrolment dates; and the totals a CONSORT flow diagram reads:
    candidates by verdict and the excluding criteria by how many candidates each excludes (with
    its registry text). Never an arm: the log ends at enrolment.

    A candidate whose screening is closed (:func:`~oligotrial.service.enrolment.close_screening`)
    has its reason, note and date (``closed_*``; empty otherwise), is counted in ``by_closure``
    by reason and listed in ``closed`` (id, participant, site, reason, note, date, by).

    Returns ``{"rows", "by_verdict", "excluding", "total", "by_closure", "closed"}``; ``rows``
    follow :data:`LOG_COLUMNS`."""
    return _log(_visible(ctx, actor, trial))


def _log(people: list[Any]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    by_verdict: dict[str, int] = {}
    reasons: dict[str, dict[str, Any]] = {}
    by_closure: dict[str, int] = {}
    closed: list[dict[str, Any]] = []
    for p in sorted(people, key=lambda q: q.created_at):
        closure = p.closure if p.state == "screening_closed" and p.closure else {}
        if closure:
            by_closure[closure["reason"]] = by_closure.get(closure["reason"], 0) + 1
            closed.append(
                {
                    "id": p.id,
                    "participant": p.external_id,
                    "site": p.site,
                    "reason": closure["reason"],
                    "note": closure.get("note"),
                    "date": closure.get("date"),
                    "by": closure.get("by"),
                }
            )
        s = p.screening or {}
        crit = criteria(s)
        excluding = [c for c in crit if c["standing"] == "excludes"]
        verdict = s.get("verdict") or "not screened"
        by_verdict[verdict] = by_verdict.get(verdict, 0) + 1
        for c in excluding:
            r = reasons.setdefault(
                c["id"], {"id": c["id"], "kind": c["kind"], "text": c.get("source_text") or "", "count": 0}
            )
            r["count"] += 1
        enrolled = p.enrolment or {}
        rows.append(
            {
                "participant": p.external_id,
                "site": p.site or "",
                "registered_on": (p.created_at or "")[:10],
                "state": p.state,
                "screened_on": s.get("as_of") or "",
                "protocol_version": s.get("protocol_version") or "",
                "verdict": verdict,
                "excluding_criteria": ";".join(c["id"] for c in excluding),
                "undecided_criteria": ";".join(c["id"] for c in crit if c["standing"] == "undecided"),
                "consented_on": (p.consent or {}).get("date") or "",
                "enrolled_on": str(enrolled.get("at") or "")[:10],
                "enrolled_against_verdict": "" if not enrolled else ("yes" if enrolled.get("override") else "no"),
                "closed_reason": closure.get("reason") or "",
                "closed_note": closure.get("note") or "",
                "closed_on": closure.get("date") or "",
            }
        )
    excluding_counts = sorted(reasons.values(), key=lambda r: (-r["count"], r["id"]))
    return {
        "rows": rows,
        "by_verdict": by_verdict,
        "excluding": excluding_counts,
        "total": len(rows),
        "by_closure": dict(sorted(by_closure.items())),
        "closed": closed,
    }


def spreadsheet_safe(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula: text starting with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return gets a leading apostrophe (OWASP "CSV Injection");
    a participant's own id is typed by people."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
