"""The participant list, the participant page (a timeline of what happened to them), the
follow-up entry forms and corrections, and an entry's audit history (an htmx fragment, or a
page of its own without script).

The page also records the radiotherapy course (checked against the allocated arm by
:func:`oligotrial.service.enrolment.record_radiotherapy`, refused beside each field unless an
override reason makes it a protocol deviation), answers the assessment form's live lesion table
(an htmx fragment from :func:`oligotrial.service.lesion_response.preview_assessment`: sum,
change from baseline and nadir, RECIST 1.1 response; nothing stored) and draws the spider plot
(:func:`oligotrial.service.lesion_response.spider`). The forms of the other entry kinds are
built from the record's own models (:func:`.forms.fields_of`).

The participant as a role sees them is :func:`oligotrial.service.enrolment.get_participant`,
the view the REST API returns: the arm is in it only for a role allowed to see it. An entry is
recorded or corrected through :mod:`oligotrial.service.followup`; a refused one saves nothing
and the form comes back with the service's message beside the field it names.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Query
from starlette.responses import Response

from oligotrial.adapters.web.pages import forms
from oligotrial.adapters.web.pages.base import Page, SignedIn, form_of, redirect, render
from oligotrial.adapters.web.pages.charts import spider_svg
from oligotrial.adapters.web.pages.views import attempt, may, router
from oligotrial.domain.protocol.schema import Protocol
from oligotrial.domain.trial.blinding import sees_arms
from oligotrial.domain.trial.workflow import STATES, TERMINAL, allowed_from
from oligotrial.errors import (
    AssessmentError,
    BlindingError,
    DoseError,
    RecordError,
    WorkflowError,
)
from oligotrial.service import (
    audit,
    enrolment,
    followup,
    lesion_response,
    queries,
    randomization,
)
from oligotrial.service.access import authorize_entry
from oligotrial.service.masking import arm_neutral

Pid = Annotated[str, "participant id"]


@router.get("/trials/{trial}/participants")
def participants(
    page: SignedIn,
    trial: str,
    state: Annotated[str, Query(max_length=40)] = "",
    q: Annotated[str, Query(max_length=128)] = "",
    site: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The participants the user may see: of one ``state`` and one ``site``, and whose own id
    contains ``q`` (any case), where given."""
    protocol = page.ctx.load_protocol(trial)
    rows = enrolment.list_participants(page.ctx, page.actor, protocol.id)
    needle = q.strip().casefold()
    shown = [
        r
        for r in rows
        if (not state or r["state"] == state)
        and (not site or (r["site"] or "") == site)
        and needle in r["external_id"].casefold()
    ]
    return render(
        page,
        page.request,
        "participants.html",
        trial=protocol,
        rows=shown,
        total=len(rows),
        state=state,
        q=q,
        site=site,
        states=arm_neutral(protocol, page.role(protocol.id) or "").states([*STATES, *sorted(TERMINAL - set(STATES))]),
        sites=sorted({r["site"] for r in rows if r["site"]}),
    )


def may_record(page: Page, protocol: Protocol, kind: str) -> bool:
    """Whether the user may record (and correct) an entry of ``kind``: the service's own check
    (:func:`oligotrial.service.access.authorize_entry`: a trial that masks its outcome assessors
    takes tumour assessments from them alone)."""
    try:
        authorize_entry(page.actor, protocol, kind)
    except BlindingError:
        return False
    return True


def _spider(page: Page, protocol: Protocol, pid: str, external_id: str) -> tuple[dict[str, Any], str]:
    """The spider plot's data (:func:`oligotrial.service.lesion_response.spider`) and its SVG."""
    try:
        data = lesion_response.spider(page.ctx, page.actor, protocol.id, pid)
    except (RecordError, AssessmentError) as exc:  # a stored record the engine cannot assess
        data = {"baseline": None, "series": [], "responses": {}, "note": exc.message}
    title = f"Change from baseline of each target lesion of {external_id}, per cent, by RECIST 1.1"
    return data, spider_svg(data, title)


def _participant_page(
    page: Page,
    trial: str,
    pid: str,
    status: int = 200,
    *,
    kind: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    saved: int | None = None,
    visit: str | None = None,
    step: str | None = None,
    warned: bool = False,
) -> Response:
    protocol = page.ctx.load_protocol(trial)
    view = enrolment.get_participant(page.ctx, page.actor, protocol.id, pid)
    role = page.role(protocol.id)
    can_record = {kind: may_record(page, protocol, kind) for kind in forms.KIND_LABELS}
    lesions = [le.get("id") for le in (view["record"] or {}).get("lesions", []) if isinstance(le, dict)]
    single = followup.single_group(protocol)
    can_rt = (
        may(page, protocol.id, "radiotherapy")
        and not view["radiotherapy"]
        and view["state"] in allowed_from("radiotherapy", single_group=single)
    )
    spider, spider_chart = _spider(page, protocol, view["id"], view["external_id"])
    # break the glass: offered to a role that may unblind, for a randomized participant whose arm
    # this page does not already show (an open role sees it; nothing to unblind)
    may_unblind = (
        may(page, protocol.id, "unblind")
        and bool(view.get("allocation"))
        and not (view["allocation"] or {}).get("arm_label")
    )
    may_query_view = queries.may(page.actor, protocol.id, "view")
    unresolved = (
        [
            q
            for q in queries.list_queries(page.ctx, page.actor, protocol.id, participant=view["id"])
            if q["status"] != "closed"
        ]
        if may_query_view
        else []
    )
    # the data queries not yet closed, by entry (None: on the registered record), shown beside it
    open_queries: dict[Any, list[dict[str, Any]]] = {}
    for q in unresolved:
        open_queries.setdefault(q["entry"], []).append(q)
    return render(
        page,
        page.request,
        "participant.html",
        status,
        trial=protocol,
        p=view,
        role=role,
        may_unblind=may_unblind,
        may_query_view=may_query_view,
        open_queries=open_queries,
        unresolved_queries=len(unresolved),
        may_query_raise=queries.may(page.actor, protocol.id, "raise"),
        can_record=can_record,
        may_audit=may(page, protocol.id, "audit_view"),
        form_kind=kind,
        values=values or {},
        errors=errors or {},
        saved=saved,
        lesions=lesions,
        warned=warned,
        can_visit=may(page, protocol.id, "follow_up"),
        visit_code=visit,
        step_done=step,
        may_correct_consent=may(page, protocol.id, "consent") and bool(view["consent"]),
        steps=[
            st for st in STEPS if may(page, protocol.id, st) and view["state"] in allowed_from(st, single_group=single)
        ],
        factors=protocol.stratification.factors if protocol.stratification else [],
        choices=forms.CHOICES,
        finding_rows=range(forms.FINDING_ROWS),
        kind_labels=forms.KIND_LABELS,
        can_rt=can_rt,
        model_kinds=forms.MODEL_KINDS,
        form_titles=forms.FORM_TITLES,
        kind_fields={k: forms.fields_of(k) for k in forms.MODEL_KINDS},
        spider=spider,
        spider_chart=spider_chart,
        spider_plot=any(len(s["points"]) > 1 for s in spider["series"]),
    )


@router.get("/trials/{trial}/participants/{pid}")
def participant(
    page: SignedIn,
    trial: str,
    pid: Pid,
    saved: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    warned: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    # warned: the text just saved may name an arm (the arm-word warning, for its writer only: it
    # travels in the redirect and is stored nowhere)
    return _participant_page(page, trial, pid, saved=saved, warned=bool(warned))


@router.post("/trials/{trial}/participants/{pid}/record/{kind}")
async def record_entry(page: SignedIn, trial: str, pid: Pid, kind: str) -> Response:
    form = await form_of(page)
    if kind not in forms.FORM_KINDS:
        raise RecordError(f"kind {kind[:40]!r}: expected one of {', '.join(forms.FORM_KINDS)}", field="kind")
    data = forms.data_from(kind, form)
    protocol = page.ctx.load_protocol(trial)
    try:
        out = followup.record_entry(page.ctx, page.actor, protocol.id, pid, kind, data)
    except (RecordError, WorkflowError) as exc:
        errors = forms.fold_errors(kind, forms.field_errors(getattr(exc, "errors", None), exc.message, exc.field))
        return _participant_page(
            page, protocol.id, pid, 422, kind=kind, values={k: str(v) for k, v in form.items()}, errors=errors
        )
    warned = "&warned=1" if out.get("warnings") else ""
    return redirect(f"/trials/{protocol.id}/participants/{pid}?saved={out['id']}{warned}#entry-{out['id']}")


@router.post("/trials/{trial}/participants/{pid}/radiotherapy")
async def record_radiotherapy(page: SignedIn, trial: str, pid: Pid) -> Response:
    """The course delivered, through :func:`oligotrial.service.enrolment.record_radiotherapy` (as
    the REST route): checked against the allocated arm; a course that does not fit is refused
    with each problem beside its field (:func:`oligotrial.service.radiotherapy.refusal`, which
    names no arm and no range to a blinded role) and recorded only with an override reason, as a
    protocol deviation."""
    form = await form_of(page)
    values = {k: str(v).strip() for k, v in form.items()}
    protocol = page.ctx.load_protocol(trial)
    view = enrolment.get_participant(page.ctx, page.actor, protocol.id, pid)
    lesions = [le.get("id") for le in (view["record"] or {}).get("lesions", []) if isinstance(le, dict)]
    try:
        enrolment.record_radiotherapy(page.ctx, page.actor, protocol.id, pid, forms.radiotherapy(form, lesions))
    except (RecordError, WorkflowError, DoseError) as exc:
        errors = forms.joined_errors(getattr(exc, "errors", None), exc.message, exc.field)
        blinded = not sees_arms(protocol, page.role(protocol.id) or "")
        if isinstance(exc, DoseError) and exc.code == "rt_outside_arm" and not blinded:
            errors.setdefault(
                "override_reason",
                "the course does not fit the allocated arm (each problem is shown "
                "beside its field); to record it as a protocol deviation, give "
                "the reason here (at least 10 characters)",
            )
        return _participant_page(page, protocol.id, pid, 422, values=values, errors=errors, step="radiotherapy")
    return redirect(f"/trials/{protocol.id}/participants/{pid}#radiotherapy")


@router.post("/trials/{trial}/participants/{pid}/assessment-preview")
async def assessment_preview(page: SignedIn, trial: str, pid: Pid) -> Response:
    """The live lesion table (an htmx fragment): the sum of diameters, the change from baseline
    and from the nadir, and the RECIST 1.1 response of the assessment as typed, computed by
    :func:`oligotrial.service.lesion_response.preview_assessment`; nothing is stored."""
    form = await form_of(page)
    protocol = page.ctx.load_protocol(trial)
    data = forms.assessment(form)
    out, problem = None, None
    if not data.get("date") or not data["findings"]:
        problem = "Type the imaging date and a diameter to see the sum and the response."
    else:
        try:
            out = lesion_response.preview_assessment(page.ctx, page.actor, protocol.id, pid, data)
        except (RecordError, AssessmentError, WorkflowError) as exc:
            problem = exc.message
    return render(page, page.request, "lesion_preview.html", out=out, problem=problem)


#: the workflow steps the participant page offers, each to the roles the service allows and in
#: the state the workflow takes it from
STEPS = ("consent", "enrol", "randomize")


@router.post("/trials/{trial}/participants/{pid}/step/{step}")
async def workflow_step(page: SignedIn, trial: str, pid: Pid, step: str) -> Response:
    """Consent (or its correction, with a reason), enrol (against an ineligible verdict only with
    a reason) or randomize (only after the user confirms: an allocation cannot be undone). What randomization shows afterwards is
    the participant page, so the arm appears only for a role allowed to see it."""
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
        elif step == "correct_consent":
            enrolment.correct_consent(
                page.ctx,
                page.actor,
                protocol.id,
                pid,
                {k: values.get(k, "") for k in ("date", "form_version", "reason")},
            )
        elif step == "randomize":
            if values.get("confirm") != "on":
                raise RecordError(
                    "confirm: expected the box ticked: the allocation is final and cannot be undone", field="confirm"
                )
            strata = {k.removeprefix("strata."): v for k, v in values.items() if k.startswith("strata.") and v}
            randomization.randomize(page.ctx, page.actor, protocol.id, pid, strata)
        else:
            raise RecordError(f"step {step[:40]!r}: expected one of {', '.join(STEPS)}, correct_consent", field="step")
    except (RecordError, WorkflowError) as exc:
        errors = forms.field_errors(getattr(exc, "errors", None), exc.message, exc.field)
        return _participant_page(page, protocol.id, pid, 422, values=values, errors=errors, step=step)
    return redirect(f"/trials/{protocol.id}/participants/{pid}#{step}")


@router.post("/trials/{trial}/participants/{pid}/visits/{code}")
async def record_visit(page: SignedIn, trial: str, pid: Pid, code: str) -> Response:
    """A visit done on a date (outside its window only with a reason: the service asks for one
    instead of refusing), or declared missed with a reason."""
    form = await form_of(page)
    values = {k: str(v).strip() for k, v in form.items()}
    if values.get("missed") == "on":
        data: dict[str, Any] = {"missed": True, "reason": values.get("reason", "")}
    else:
        data = {k: values[k] for k in ("date", "out_of_window_reason") if values.get(k)}
    protocol = page.ctx.load_protocol(trial)
    try:
        out = enrolment.record_visit(page.ctx, page.actor, protocol.id, pid, code, data)
    except (RecordError, WorkflowError) as exc:
        errors = forms.field_errors(getattr(exc, "errors", None), exc.message, exc.field)
        return _participant_page(page, protocol.id, pid, 422, values=values, errors=errors, visit=code)
    warned = "?warned=1" if out.get("warnings") else ""
    return redirect(f"/trials/{protocol.id}/participants/{pid}{warned}#visit-{code}")


def _entry(view: dict[str, Any], entry_id: int) -> dict[str, Any]:
    e = next((x for x in view["entries"] if x["id"] == entry_id), None)
    if e is None:
        raise WorkflowError(
            f"entry {entry_id}: not found for participant {view['id']}", code="not_found", field="entry"
        )
    return e


def _correct_page(
    page: Page,
    trial: str,
    pid: str,
    entry_id: int,
    status: int = 200,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    protocol = page.ctx.load_protocol(trial)
    view = enrolment.get_participant(page.ctx, page.actor, protocol.id, pid)
    e = _entry(view, entry_id)
    if values is None:
        values = (
            forms.values_of(e["kind"], e["data"])
            if e["kind"] in forms.FORM_KINDS
            else {"data": json.dumps(e["data"], indent=1)}
        )
    lesions = [le.get("id") for le in (view["record"] or {}).get("lesions", []) if isinstance(le, dict)]
    return render(
        page,
        page.request,
        "correct.html",
        status,
        trial=protocol,
        p=view,
        e=e,
        values=values,
        errors=errors or {},
        choices=forms.CHOICES,
        finding_rows=range(forms.FINDING_ROWS),
        lesions=lesions,
        form_kind=e["kind"],
        kind_labels=forms.KIND_LABELS,
        model_kinds=forms.MODEL_KINDS,
        fields=forms.fields_of(e["kind"]) if e["kind"] in forms.MODEL_KINDS else [],
    )


@router.get("/trials/{trial}/participants/{pid}/entries/{entry_id}/correct")
def correct_form(page: SignedIn, trial: str, pid: Pid, entry_id: int) -> Response:
    return _correct_page(page, trial, pid, entry_id)


@router.post("/trials/{trial}/participants/{pid}/entries/{entry_id}/correct")
async def correct_entry(page: SignedIn, trial: str, pid: Pid, entry_id: int) -> Response:
    form = await form_of(page)
    protocol = page.ctx.load_protocol(trial)
    view = enrolment.get_participant(page.ctx, page.actor, protocol.id, pid)
    e = _entry(view, entry_id)
    values = {k: str(v) for k, v in form.items()}
    try:
        if e["kind"] in forms.FORM_KINDS:
            data: Any = forms.data_from(e["kind"], form)
        else:
            try:
                data = json.loads(values.get("data") or "")
            except ValueError as exc:
                raise RecordError(f"data: expected the entry as JSON ({exc.msg})", field="data") from None
        out = followup.correct_entry(page.ctx, page.actor, protocol.id, pid, entry_id, data, values.get("reason", ""))
    except (RecordError, WorkflowError) as exc:
        errors = forms.fold_errors(e["kind"], forms.field_errors(getattr(exc, "errors", None), exc.message, exc.field))
        return _correct_page(page, protocol.id, pid, entry_id, 422, values=values, errors=errors)
    warned = "&warned=1" if out.get("warnings") else ""
    return redirect(f"/trials/{protocol.id}/participants/{pid}?saved={entry_id}{warned}#entry-{entry_id}")


@router.post("/trials/{trial}/participants/{pid}/entries/{entry_id}/release")
async def release_text(page: SignedIn, trial: str, pid: Pid, entry_id: int) -> Response:
    """Release one free text of an entry to the blinded roles after review: the REST route's
    :func:`oligotrial.service.followup.release_text` (a data manager who sees the arm; audited)."""
    form = await form_of(page)
    values = {k: str(v).strip() for k, v in form.items()}
    protocol = page.ctx.load_protocol(trial)
    try:
        followup.release_text(
            page.ctx, page.actor, protocol.id, pid, entry_id, values.get("field"), values.get("reason", "")
        )
    except (RecordError, WorkflowError) as exc:
        errors = {f"release-{entry_id}": exc.message}
        return _participant_page(page, protocol.id, pid, 422, values=values, errors=errors)
    return redirect(f"/trials/{protocol.id}/participants/{pid}#entry-{entry_id}")


@router.post("/trials/{trial}/participants/{pid}/visits/{code}/release")
async def release_visit_note(page: SignedIn, trial: str, pid: Pid, code: str) -> Response:
    """Release a visit's note to the blinded roles after review (the REST route's
    :func:`oligotrial.service.followup.release_visit_note`)."""
    form = await form_of(page)
    protocol = page.ctx.load_protocol(trial)
    try:
        followup.release_visit_note(page.ctx, page.actor, protocol.id, pid, code, str(form.get("reason") or ""))
    except (RecordError, WorkflowError) as exc:
        return _participant_page(page, protocol.id, pid, 422, errors={f"release-visit-{code}": exc.message})
    return redirect(f"/trials/{protocol.id}/participants/{pid}#visit-{code}")


@router.get("/trials/{trial}/participants/{pid}/entries/{entry_id}/history")
def entry_history(page: SignedIn, trial: str, pid: Pid, entry_id: int) -> Response:
    """The entry's audit history: its audit entries for a role that may read the trail, otherwise
    who recorded and last changed it, when and why (from the entry itself)."""
    protocol = page.ctx.load_protocol(trial)
    view = enrolment.get_participant(page.ctx, page.actor, protocol.id, pid)
    e = _entry(view, entry_id)
    trail, why = attempt(audit.trail, page.ctx, page.actor, protocol.id)
    rows = None if trail is None else [r for r in trail if r["entity_id"] == f"{view['id']}/{entry_id}"]
    fragment = page.request.headers.get("HX-Request") == "true"
    return render(
        page,
        page.request,
        "history_fragment.html" if fragment else "history.html",
        trial=protocol,
        p=view,
        e=e,
        rows=rows,
        why=why,
        kind_labels=forms.KIND_LABELS,
    )
