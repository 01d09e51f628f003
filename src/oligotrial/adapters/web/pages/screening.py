"""The screening worklist: candidates not yet enrolled with their last verdict; a patient record
pasted, uploaded or taken from the shipped examples, registered and screened; a screening's
criteria (verdict, registry text, reason, what is missing) with the clinician attestations the
protocol asks for; then consent and enrolment from the same page.

Registering and screening are :func:`oligotrial.service.enrolment.register` and
:func:`~oligotrial.service.enrolment.screen`, as ``POST /api/v1/trials/{trial}/participants``
and ``.../screen`` call them; an attestation is
:func:`oligotrial.service.screening_worklist.attest` (the record correction of
``PUT .../record``, then a screening). A refused input saves nothing and comes back beside the
field it names. Screening happens before randomization: no page here shows an arm.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Annotated, Any

from fastapi import Query
from starlette.datastructures import UploadFile
from starlette.responses import Response

from oligotrial.adapters.web.pages import forms
from oligotrial.adapters.web.pages.base import Page, SignedIn, form_of, redirect, render
from oligotrial.adapters.web.pages.views import may, router
from oligotrial.domain.protocol.schema import Protocol
from oligotrial.domain.trial.workflow import allowed_from
from oligotrial.errors import BlindingError, OligotrialError, RecordError
from oligotrial.service import enrolment
from oligotrial.service import screening_worklist as worklist_service
from oligotrial.service.demo_cohort import EXAMPLE_NAME, shift_dates

Pid = Annotated[str, "participant id"]
#: the largest record accepted from the form or an uploaded file
MAX_RECORD_BYTES = 1_000_000
#: the steps offered after screening, each to the roles the service allows in the state the
#: workflow takes it from (randomization is on the participant page)
STEPS = ("consent", "enrol")


def _bad(field: str, value: Any, expected: str) -> RecordError:
    return RecordError(
        f"{field} {value!r}: expected {expected}",
        field=field,
        errors=[{"path": field, "value": value, "expected": expected}],
    )


def examples(trial: str | None = None) -> list[str]:
    """The example records shipped with oligotrial (``oligotrial/examples/*.json``), those of
    ``trial`` first."""
    own = EXAMPLE_NAME.get(trial or "", "") + "_"
    return sorted(
        (p.name for p in resources.files("oligotrial.examples").iterdir() if p.name.endswith(".json")),
        key=lambda n: (not n.startswith(own), n),
    )


def _example(name: str, today: Any, move: bool) -> str:
    if name not in examples():
        raise OligotrialError(
            f"example {name[:60]!r}: expected one of {', '.join(examples())}", code="not_found", field="example"
        )
    record = json.loads(resources.files("oligotrial.examples").joinpath(name).read_text(encoding="utf-8"))
    if move and isinstance(record.get("as_of"), str):
        import datetime as dt

        record = shift_dates(record, (today - dt.date.fromisoformat(record["as_of"])).days)
    return json.dumps(record, indent=1, ensure_ascii=False)


def _may_screen(page: Page, trial: str) -> bool:
    return may(page, trial, "register") and may(page, trial, "screen")


def _worklist_page(
    page: Page,
    trial: str,
    status: int = 200,
    *,
    values: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
    example: str = "",
    moved: bool = True,
    close: tuple[str, str, dict[str, str], dict[str, str]] | None = None,
) -> Response:
    """The worklist; ``close``: (``close`` or ``reopen``, participant id, values, errors) of a
    refused closing or reopening, shown on its row."""
    protocol = page.ctx.load_protocol(trial)
    rows, log = worklist_service.worklist_and_log(page.ctx, page.actor, protocol.id)
    which, pid, close_values, close_errors = close or ("", "", {}, {})
    return render(
        page,
        page.request,
        "screening.html",
        status,
        trial=protocol,
        rows=rows,
        log=log,
        may_screen=_may_screen(page, protocol.id),
        values=values or {},
        errors=errors or [],
        examples=examples(protocol.id),
        example=example,
        moved=moved,
        site=page.actor.site_in(protocol.id),
        may_close=may(page, protocol.id, "close_screening"),
        close_reasons=enrolment.NOT_ENROLLED_REASONS,
        close_pid=pid if which == "close" else None,
        reopen_pid=pid if which == "reopen" else None,
        close_values=close_values,
        close_errors=close_errors,
    )


@router.get("/trials/{trial}/screening-log.csv")
def screening_log_csv(page: SignedIn, trial: str) -> Response:
    """The screening log (:func:`oligotrial.service.screening_worklist.screening_log`) as CSV:
    one row per candidate ever registered that the user may see; every cell safe to open in a
    spreadsheet."""
    from oligotrial.service.endpoints import csv_lines

    protocol = page.ctx.load_protocol(trial)
    log = worklist_service.screening_log(page.ctx, page.actor, protocol.id)
    cols = worklist_service.LOG_COLUMNS
    rows = ({c: worklist_service.spreadsheet_safe(row[c]) for c in cols} for row in log["rows"])
    return Response(
        "".join(csv_lines(rows, cols)),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{protocol.id}-screening-log.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/trials/{trial}/screening")
def screening_worklist(
    page: SignedIn,
    trial: str,
    example: Annotated[str, Query(max_length=80)] = "",
    moved: Annotated[str, Query(max_length=3)] = "",
) -> Response:
    """The worklist; with ``example``, the form holds that shipped record (its dates moved so
    that it was written today when ``moved``)."""
    values = {}
    protocol = page.ctx.load_protocol(trial)
    if example and _may_screen(page, protocol.id):
        values["record"] = _example(example, page.ctx.today(), moved == "on")
    return _worklist_page(page, protocol.id, values=values, example=example, moved=not example or moved == "on")


def _record_of(form: dict[str, Any]) -> tuple[Any, str]:
    """The posted record (an uploaded file before the text area) as decoded JSON, and its text."""
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = upload.file.read(MAX_RECORD_BYTES + 1)
        where = f"file {upload.filename[:80]!r}"
    else:
        text = form.get("record")
        raw = (text if isinstance(text, str) else "").encode("utf-8")
        where = "record"
    if len(raw) > MAX_RECORD_BYTES:
        raise _bad("record", f"{len(raw)} bytes", f"a record of at most {MAX_RECORD_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("record", where, "a JSON file in UTF-8") from None
    if not text.strip():
        raise _bad("record", "", "a patient record (oligotrial.patient/1) as JSON: paste it or upload a .json file")
    try:
        return json.loads(text), text
    except ValueError as exc:
        raise _bad(
            "record",
            f"{'' if where == 'record' else where + ', '}line {exc.lineno} column {exc.colno}",
            f"a patient record as JSON ({exc.msg})",
        ) from None


def _shown(value: Any, limit: int = 160) -> str | None:
    """A refused value as the page shows it (JSON for anything not text), cut at ``limit``."""
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def _errors_of(exc: OligotrialError) -> list[dict[str, Any]]:
    """The service's errors, each with the field path, the value and what was expected."""
    errors = getattr(exc, "errors", None) or []
    if errors:
        return [
            {
                "path": str(e.get("path")),
                "value": _shown(e.get("value")),
                "expected": str(e.get("expected")).removeprefix("expected "),
            }
            for e in errors
        ]
    return [{"path": exc.field or "record", "value": None, "expected": exc.message}]


@router.post("/trials/{trial}/screening")
async def register_and_screen(page: SignedIn, trial: str) -> Response:
    """Register the posted record (at ``site``, if given) and screen it; then its screening page."""
    form = await form_of(page)
    protocol = page.ctx.load_protocol(trial)
    site = form.get("site").strip() if isinstance(form.get("site"), str) else ""
    text = form.get("record") if isinstance(form.get("record"), str) else ""
    try:
        record, text = _record_of(form)
        view = enrolment.register(page.ctx, page.actor, protocol.id, record, site or None)
    except BlindingError:
        raise
    except OligotrialError as exc:
        return _worklist_page(
            page, protocol.id, 422, values={"record": text[:MAX_RECORD_BYTES], "site": site}, errors=_errors_of(exc)
        )
    enrolment.screen(page.ctx, page.actor, protocol.id, view["id"])
    return redirect(f"/trials/{protocol.id}/screening/{view['id']}")


def _attestations(protocol: Protocol, record: dict[str, Any], needed: set[str]) -> list[dict[str, Any]]:
    """Each attestation key of the protocol with its question, whom it asks, the record's
    attestations of it (newest last) and whether an undecided criterion waits for it."""
    recorded = [a for a in record.get("attestations") or [] if isinstance(a, dict)]
    return sorted(
        (
            {
                "key": k.key,
                "question": k.question,
                "asked_of": k.by,
                "needed": k.key in needed,
                "recorded": [a for a in recorded if a.get("key") == k.key],
            }
            for k in protocol.attestation_keys
        ),
        key=lambda a: not a["needed"],
    )


def _detail_page(
    page: Page,
    trial: str,
    pid: str,
    status: int = 200,
    *,
    attest_key: str | None = None,
    step: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    result: dict[str, Any] | None = None,
) -> Response:
    protocol = page.ctx.load_protocol(trial)
    view = enrolment.get_participant(page.ctx, page.actor, protocol.id, pid)
    crit = worklist_service.criteria(view["screening"])
    needed = {k for c in crit for k in c["attestations_missing"]}
    can_attest = (
        may(page, protocol.id, "correct_record")
        and may(page, protocol.id, "screen")
        and view["state"] in allowed_from("screen")
    )
    return render(
        page,
        page.request,
        "screening_participant.html",
        status,
        trial=protocol,
        p=view,
        screening=view["screening"],
        criteria=crit,
        attestations=_attestations(protocol, view["record"], needed),
        can_attest=can_attest,
        today=page.ctx.today().isoformat(),
        me=page.actor.username,
        attest_key=attest_key,
        step_done=step,
        values=values or {},
        errors=errors or {},
        result=result,
        steps=[s for s in STEPS if may(page, protocol.id, s) and view["state"] in allowed_from(s)],
        may_participant=may(page, protocol.id, "view"),
    )


@router.get("/trials/{trial}/screening/{pid}")
def screening_participant(page: SignedIn, trial: str, pid: Pid) -> Response:
    return _detail_page(page, trial, pid)


@router.post("/trials/{trial}/screening/{pid}/attest/{key}")
async def attest(page: SignedIn, trial: str, pid: Pid, key: str) -> Response:
    """A clinician's attestation (answer, who, when, a note) recorded with a reason, then screened
    again; the page shows the verdicts that changed."""
    form = await form_of(page)
    values = {k: str(v).strip() for k, v in form.items()}
    protocol = page.ctx.load_protocol(trial)
    data = {
        "key": key,
        "value": values.get("value"),
        "by": values.get("by", ""),
        "date": values.get("date", ""),
        "note": values.get("note") or None,
        "reason": values.get("reason", ""),
    }
    try:
        result = worklist_service.attest(page.ctx, page.actor, protocol.id, pid, data)
    except BlindingError:
        raise
    except OligotrialError as exc:
        errors = forms.field_errors(getattr(exc, "errors", None), exc.message, exc.field)
        return _detail_page(page, protocol.id, pid, 422, attest_key=key, values=values, errors=errors)
    return _detail_page(page, protocol.id, pid, result=result)


@router.post("/trials/{trial}/screening/{pid}/step/{step}")
async def screening_step(page: SignedIn, trial: str, pid: Pid, step: str) -> Response:
    """Consent or enrolment (against a verdict other than eligible only with a reason), as the
    participant page takes them; back to this page."""
    form = await form_of(page)
    values = {k: str(v).strip() for k, v in form.items()}
    protocol = page.ctx.load_protocol(trial)
    try:
        if step == "consent":
            enrolment.consent(
                page.ctx, page.actor, protocol.id, pid, {k: values.get(k, "") for k in ("date", "form_version")}
            )
        elif step == "enrol":
            reason = values.get("override_reason")
            enrolment.enrol(page.ctx, page.actor, protocol.id, pid, {"override": {"reason": reason}} if reason else {})
        else:
            raise _bad("step", step[:40], f"one of {', '.join(STEPS)}")
    except BlindingError:
        raise
    except OligotrialError as exc:
        errors = forms.field_errors(getattr(exc, "errors", None), exc.message, exc.field)
        if "override.reason" in errors:  # the workflow's name for the form's override_reason
            errors["override_reason"] = errors.pop("override.reason")
        return _detail_page(page, protocol.id, pid, 422, step=step, values=values, errors=errors)
    return redirect(f"/trials/{protocol.id}/screening/{pid}#{step}")


@router.post("/trials/{trial}/screening/{pid}/close")
async def close_screening(page: SignedIn, trial: str, pid: Pid) -> Response:
    """Close a candidate's screening from their worklist row (declined, not eligible or other,
    with a note), as ``POST .../close-screening`` does; back to the worklist, where the
    candidate is listed under the closed screenings. A refusal comes back on the row."""
    form = await form_of(page)
    values = {k: str(v).strip() for k, v in form.items()}
    protocol = page.ctx.load_protocol(trial)
    data = {"reason": values.get("reason", ""), "note": values.get("note") or None}
    try:
        enrolment.close_screening(page.ctx, page.actor, protocol.id, pid, data)
    except BlindingError:
        raise
    except OligotrialError as exc:
        if exc.code == "not_found":
            raise
        errors = forms.field_errors(getattr(exc, "errors", None), exc.message, exc.field)
        return _worklist_page(page, protocol.id, 422, close=("close", pid, values, errors))
    return redirect(f"/trials/{protocol.id}/screening#closed-{pid}")


@router.post("/trials/{trial}/screening/{pid}/reopen")
async def reopen_screening(page: SignedIn, trial: str, pid: Pid) -> Response:
    """Reopen a closed screening with a reason, as ``POST .../reopen-screening`` does; back to the
    worklist, where the candidate is listed again."""
    form = await form_of(page)
    values = {k: str(v).strip() for k, v in form.items()}
    protocol = page.ctx.load_protocol(trial)
    try:
        enrolment.reopen_screening(page.ctx, page.actor, protocol.id, pid, {"reason": values.get("reason", "")})
    except BlindingError:
        raise
    except OligotrialError as exc:
        if exc.code == "not_found":
            raise
        errors = forms.field_errors(getattr(exc, "errors", None), exc.message, exc.field)
        return _worklist_page(page, protocol.id, 422, close=("reopen", pid, values, errors))
    return redirect(f"/trials/{protocol.id}/screening#worklist")
