"""A demo database in which the roles that know the arm typed arm words into every free-text
field (issue 25 item 1's acceptance: "the blinding crawl, run as every masked role of STOP-2 and
NCT06592612 on a demo database where coordinators typed arm words into every free-text field,
finds nothing that differs by arm"), and a crawl of what a role can read: every page reachable
from ``/`` (links, htmx fragments, GET forms, downloads) and the REST API's participant,
endpoint, query, audit, export and report answers.

Each typed text starts with :data:`MARKER` and names the participant's own arm the ways people
write it (its id, its label, its dose and fractionation), so a leak is found whatever part of
the page shows it. The texts go through the services, as the pages and the API send them, by the
coordinator, the treating oncologist and the data manager:

- a visit declared missed, with its reason;
- an adverse event's note; an "Other, specify" adverse event's description;
- a correction's reason (and the corrected note), a retraction's reason;
- an event's detail (metastasis-directed therapy); a new therapy line's stop reason;
- a data query's question (the data manager) and its answer (the coordinator);
- the registered record corrected after randomization (a condition's detail).
"""

from __future__ import annotations

import csv
import io
import time
from collections import deque
from urllib.parse import urldefrag, urljoin

from oligotrial.errors import OligotrialError
from oligotrial.service import enrolment, followup, queries
from oligotrial.service.ports import Actor
from page_crawl import PageReader as _Page
from page_crawl import path_shape as _shape

#: what every typed text starts with: found anywhere a blinded role reads, it is a leak
MARKER = "ZQXTYPED"
WITHHELD = "withheld: written by an unblinded role"


def arm_phrase(protocol, arm_id: str) -> str:
    """How a site writes the arm in a note: its id, its label, its radiotherapy and dose."""
    arm = next(a for a in protocol.arms if a.id == arm_id)
    rt = getattr(arm, "radiotherapy", None)
    if rt is None:
        dose = "no radiotherapy"
    else:
        reg = rt.regimens[0]
        lo = getattr(getattr(reg, "total_dose_gy", None), "min", None) or 8
        fx = getattr(getattr(reg, "fractions", None), "min", None) or 1
        dose = f"{rt.name}, {lo:g} Gy in {fx:g} fractions"
    return f"{arm.id} / {arm.label} / {dose}"


def _typed(field: str, phrase: str) -> str:
    return f"{MARKER} {field}: seen after the {phrase}"


def type_arm_words(demo) -> dict[str, list[str]]:
    """Type arm words into every free-text field of every randomized participant of ``demo``
    (a :class:`web_demo.WebDemo`) as the roles that know the arm; the texts typed, by
    participant id. Steps the participant's state refuses (a death, a withdrawal) are skipped."""
    ctx, trial = demo.container.ctx, demo.trial
    protocol = ctx.load_protocol(trial)

    def actor(role: str) -> Actor:
        return Actor(demo.accounts[role][0], {trial: role})

    coord, treat, dm = actor("coordinator"), actor("treating_oncologist"), actor("data_manager")
    today = ctx.today().isoformat()
    typed: dict[str, list[str]] = {}
    for row in enrolment.list_participants(ctx, coord, trial):
        view = enrolment.get_participant(ctx, coord, trial, row["id"])
        arm = (view.get("allocation") or {}).get("arm")
        if arm is None:
            continue
        phrase = arm_phrase(protocol, arm)
        texts: list[str] = []

        def attempt(fn, *args, typed_text: str, **kw):
            try:
                out = fn(*args, **kw)
            except OligotrialError:
                return None
            texts.append(typed_text)  # noqa: B023 -- attempt() is called within its own iteration only
            return out

        pid = row["id"]
        t = _typed("AE note", phrase)
        ae = attempt(followup.record_entry, ctx, coord, trial, pid, "adverse_event",
                     {"date": today, "term": "Fatigue", "grade": 1, "note": t}, typed_text=t)
        t = _typed("Other, specify", phrase)
        attempt(followup.record_entry, ctx, coord, trial, pid, "adverse_event",
                {"date": today, "term": "Respiratory, thoracic and mediastinal disorders - Other, specify",
                 "grade": 1, "specify": t}, typed_text=t)
        t = _typed("event detail", phrase)
        attempt(followup.record_entry, ctx, treat, trial, pid, "event",
                {"date": today, "kind": "metastasis_directed_therapy", "detail": t}, typed_text=t)
        t = _typed("stop reason", phrase)
        attempt(followup.record_entry, ctx, coord, trial, pid, "therapy",
                {"line": 9, "agents": ["docetaxel"], "classes": ["chemotherapy"], "start": today, "stop": today,
                 "stop_reason": t}, typed_text=t)
        if ae is not None:
            t, n = _typed("correction reason", phrase), _typed("corrected note", phrase)
            attempt(followup.correct_entry, ctx, dm, trial, pid, ae["id"],
                    {"date": today, "term": "Fatigue", "grade": 2, "note": n}, t, typed_text=t)
            texts.append(n)
            t = _typed("query question", phrase)
            q = attempt(queries.raise_query, ctx, dm, trial, pid, entry=ae["id"], field="grade", text=t,
                        typed_text=t)
            if q is not None:
                t = _typed("query answer", phrase)
                attempt(queries.answer_query, ctx, coord, trial, q["id"], t, typed_text=t)
        t = _typed("retraction reason", phrase)
        extra = attempt(followup.record_entry, ctx, coord, trial, pid, "adverse_event",
                        {"date": today, "term": "Nausea", "grade": 1}, typed_text="")
        if extra is not None:
            attempt(followup.retract_entry, ctx, coord, trial, pid, extra["id"], t, typed_text=t)
        waiting = [v for v in view["visits"] if v["actual"] is None and v["status"] != "missed"
                   and v["earliest"] <= today]
        if waiting:
            t = _typed("missed visit reason", phrase)
            attempt(enrolment.record_visit, ctx, coord, trial, pid, waiting[0]["code"],
                    {"missed": True, "reason": t}, typed_text=t)
        record = view["record"]
        t = _typed("record condition detail", phrase)
        conds = [c for c in record.get("conditions") or [] if c.get("name") != "gilbert_syndrome"]
        attempt(enrolment.correct_record, ctx, coord, trial, pid,
                {"record": {**record, "conditions": [*conds, {"name": "gilbert_syndrome", "detail": t}]},
                 "reason": "history completed"}, typed_text=t)
        typed[pid] = sorted(set(texts) - {""})
    return typed


# ---- reading what a role can read --------------------------------------------------------------

def crawl_pages(client, budget_s: float = 40.0, per_shape: int = 12) -> list[tuple[str, int, str]]:
    """Every page and download reachable from ``/`` (bounded per shape of path and in time):
    (url, status, the text a reader sees: a page's strings, a download's body)."""
    seen, shapes, out = set(), {}, []
    queue = deque(["/"])
    start = time.monotonic()
    while queue and time.monotonic() - start < budget_s:
        url = queue.popleft()
        path, frag = urldefrag(url)
        url = path + ("#hx" if frag == "hx" else "")
        if url in seen or not path.startswith("/") or path.startswith(("/static/", "/api/", "/docs", "/openapi")):
            continue
        shape = _shape(path) + ("#hx" if frag == "hx" else "")
        if shapes.get(shape, 0) >= per_shape:
            continue
        seen.add(url)
        shapes[shape] = shapes.get(shape, 0) + 1
        r = client.get(path, headers={"HX-Request": "true"} if frag == "hx" else {})
        ctype = r.headers.get("content-type", "")
        if ctype.startswith(("application/json", "text/csv")):
            out.append((path, r.status_code, r.text))
            continue
        page = _Page()
        page.feed(r.text)
        out.append((path, r.status_code, "\n".join(page.strings)))
        for link in page.links:
            queue.append(urljoin(path, link))
    return out


def read_api(client, username: str, password: str, trial: str, pids: list[str]) -> list[tuple[str, int, str]]:
    """The REST API's answers a role may read about ``pids``: each participant and their
    endpoints, the trial's queries and each query, the audit trail, the exports and the report
    (a refusal is an answer too: its text is read as well)."""
    tok = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert tok.status_code == 200, tok.text
    h = {"Authorization": f"Bearer {tok.json()['access_token']}"}
    base = f"/api/v1/trials/{trial}"
    urls = [f"{base}/participants", f"{base}/queries", f"{base}/audit", f"{base}/exports/adtte.csv",
            f"{base}/exports/adrs.csv", f"{base}/report", f"{base}/visits"]
    for pid in pids:
        urls += [f"{base}/participants/{pid}", f"{base}/participants/{pid}/endpoints"]
    out = []
    for u in urls:
        r = client.get(u, headers=h)
        out.append((u, r.status_code, r.text))
    listed = client.get(f"{base}/queries", headers=h)
    if listed.status_code == 200:
        for q in listed.json():
            r = client.get(f"{base}/queries/{q['id']}", headers=h)
            out.append((f"{base}/queries/{q['id']}", r.status_code, r.text))
    return out


def cells(text: str) -> list[str]:
    """A download's cells (CSV), for a scan of each value on its own."""
    return [c for row in csv.reader(io.StringIO(text)) for c in row]
