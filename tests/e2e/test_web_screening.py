"""The screening worklist pages on the STOP-2 demo database (the real screener): a record pasted
without one attestation is registered and screened, its undecided criterion listed first with what
would decide it; the clinician's attestation (who, when, answer) is recorded on the stored record,
audited, and the verdict changes on the page; a record that is not JSON or not valid comes back
beside the text area naming the field, nothing stored; a role that may not register sees no form
and is refused; an uploaded file is registered; consent and enrolment from the same page; a
blinded role's screening page of a randomized participant names no arm."""

from __future__ import annotations

import copy
import datetime as dt
import html
import json
import re
from importlib import resources

import pytest

from oligotrial.domain.trial.blinding import find_arm_information
from oligotrial.protocols import load_protocol
from oligotrial.service import audit, enrolment, users
from oligotrial.service.demo_cohort import shift_dates
from page_crawl import page_strings
from web_demo import build, csrf_of, sign_in

STOP2 = load_protocol("STOP-2")
ARM_IDS, LABELS = [a.id for a in STOP2.arms], [a.label for a in STOP2.arms]
KEY = "life_expectancy_6_months"
ELIGIBLE = json.loads(resources.files("oligotrial.examples").joinpath("stop2_eligible.json").read_text())


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = build(tmp_path_factory.mktemp("webscreening"), patients=4, seed=3)
    yield d
    d.container.dispose()


def _client(demo, role):
    from fastapi.testclient import TestClient

    from oligotrial.adapters.web.app import create_app

    client = TestClient(create_app(demo.container), raise_server_exceptions=False)
    assert sign_in(client, *demo.accounts[role]).url.path == "/trials"
    return client


def _actor(demo, role="coordinator"):
    ctx = demo.container.ctx
    return users.actor_for(ctx, users.authenticate(ctx, *demo.accounts[role]).id)


def _record(demo, rid: str, without: str | None = KEY) -> dict:
    """The STOP-2 eligible example written today (its dates moved), as ``rid``, without the
    attestation ``without``."""
    today = demo.container.ctx.today()
    rec = shift_dates(copy.deepcopy(ELIGIBLE), (today - dt.date.fromisoformat(ELIGIBLE["as_of"])).days)
    rec["id"] = rid
    rec["attestations"] = [a for a in rec["attestations"] if a["key"] != without]
    return rec


def _stored(demo) -> tuple[int, int]:
    """How many participants and audit entries the trial holds."""
    actor = _actor(demo)
    return (len(enrolment.list_participants(demo.container.ctx, actor, demo.trial)),
            len(audit.trail(demo.container.ctx, actor, demo.trial)))


def _criteria_rows(html: str) -> list[tuple[str, str]]:
    """(criterion id, standing) of each row of the criteria table, in order."""
    return re.findall(r'<tr id="crit-([^"]+)" class="standing-([a-z_]+)"', html)


def _paste(c, demo, record_text: str, **extra):
    page = c.get(f"/trials/{demo.trial}/screening")
    return c.post(f"/trials/{demo.trial}/screening", data={"csrf": csrf_of(page.text), "record": record_text, **extra},
                  follow_redirects=False)


def test_a_pasted_record_is_screened_and_its_undecided_criterion_says_what_would_decide_it(demo):
    c = _client(demo, "coordinator")
    r = _paste(c, demo, json.dumps(_record(demo, "SCR-PASTE")))
    assert r.status_code == 303 and r.headers["location"].startswith(f"/trials/{demo.trial}/screening/")
    page = c.get(r.headers["location"])
    assert page.status_code == 200
    assert re.search(r'id="trial-verdict">needs review<', page.text)
    rows = _criteria_rows(page.text)
    assert rows[0] == ("STOP2-IN-06", "undecided") and len(rows) == len(STOP2.criteria)
    assert [s for _, s in rows] == sorted((s for _, s in rows), key=["undecided", "excludes", "passes",
                                                                       "not_applicable"].index)
    row = re.search(r'<tr id="crit-STOP2-IN-06".*?</tr>', page.text, re.DOTALL).group(0)
    assert "attestation life_expectancy_6_months" in row  # what would decide it
    assert "Is the life expectancy at least 6 months?" in row  # the reason: whose attestation, the question
    source = next(c.source_text for c in STOP2.criteria if c.id == "STOP2-IN-06")
    assert html.escape(source, quote=True) in row  # the registry text it traces to
    assert f'href="#attest-{KEY}"' in row and f'id="attest-{KEY}"' in page.text
    # the worklist lists the candidate with the verdict and one undecided criterion
    wl = c.get(f"/trials/{demo.trial}/screening").text
    line = re.search(r"<tr><td><a href=\"[^\"]+\">SCR-PASTE</a>.*?</tr>", wl, re.DOTALL).group(0)
    assert "needs review" in line and '<td class="num">1</td>' in line


def test_the_registry_text_of_each_criterion_is_on_the_page(demo):
    c = _client(demo, "coordinator")
    r = _paste(c, demo, json.dumps(_record(demo, "SCR-TEXT")))
    page = c.get(r.headers["location"]).text
    text = html.unescape(page)
    for crit in STOP2.criteria:
        assert crit.source_text in text, crit.id


def test_an_attestation_changes_the_verdict_and_is_stored_with_who_when_and_the_answer_and_audited(demo):
    c = _client(demo, "coordinator")
    loc = _paste(c, demo, json.dumps(_record(demo, "SCR-ATTEST"))).headers["location"]
    pid = loc.rsplit("/", 1)[1]
    page = c.get(loc)
    form = re.search(rf'<section class="attestation[^"]*" id="attest-{KEY}".*?</section>', page.text, re.DOTALL).group(0)
    username = demo.accounts["coordinator"][0]
    today = demo.container.ctx.today().isoformat()
    assert f'value="{username}"' in form and f'value="{today}"' in form  # who and when, editable defaults
    assert "checked" not in form  # the answer is never preset: the clinician gives it
    r = c.post(f"{loc}/attest/{KEY}", data={"csrf": csrf_of(page.text), "value": "yes", "by": "Dr Rivera",
                                            "date": today, "note": "seen in clinic",
                                            "reason": "life expectancy assessed at the visit"})
    assert r.status_code == 200
    result = re.search(r'id="attest-result".*?</div>', r.text, re.DOTALL).group(0)
    assert re.search(r"was <strong>needs review</strong>, now <strong>eligible</strong>", result)
    assert "STOP2-IN-06: was unknown (undecided), now met (passes)" in result
    assert re.search(r'id="trial-verdict">eligible<', r.text)
    view = enrolment.get_participant(demo.container.ctx, _actor(demo), demo.trial, pid)
    assert {"key": KEY, "value": True, "by": "Dr Rivera", "date": today, "note": "seen in clinic"} \
        in view["record"]["attestations"]
    assert view["screening"]["verdict"] == "eligible"
    trail = [e for e in audit.trail(demo.container.ctx, _actor(demo), demo.trial) if e["entity_id"] == pid]
    assert [e["action"] for e in trail][-2:] == ["participant.correct", "participant.screen"]
    correct = trail[-2]
    assert correct["reason"] == "life expectancy assessed at the visit" and correct["actor"] == username
    assert KEY in json.dumps(correct["new"]) and KEY not in json.dumps(correct["old"])
    # the page lists the recorded answer with who and when
    assert f"Recorded: yes (Dr Rivera, {today}: seen in clinic)" in r.text


def test_a_refused_attestation_is_shown_beside_its_field_and_nothing_changes(demo):
    c = _client(demo, "coordinator")
    loc = _paste(c, demo, json.dumps(_record(demo, "SCR-NOANSWER"))).headers["location"]
    page = c.get(loc)
    before = _stored(demo)
    r = c.post(f"{loc}/attest/{KEY}", data={"csrf": csrf_of(page.text), "by": "Dr Rivera",
                                            "date": demo.container.ctx.today().isoformat(), "reason": "visit"})
    assert r.status_code == 422
    assert re.search(rf'id="err-a-{KEY}-value" role="alert">value: the clinician&#39;s answer: yes or no', r.text)
    assert _stored(demo) == before


@pytest.mark.parametrize(("text", "field", "expected"), [
    ("{not json", "record", "a patient record as JSON"),
    ("", "record", "a patient record (oligotrial.patient/1) as JSON"),
    ("[1, 2]", "record", "a patient record object"),
    (None, "sex", "&#39;female&#39;, &#39;male&#39;"),
    (None, "labs[0].value", "valid number"),
])
def test_a_record_that_is_not_json_or_not_valid_is_refused_beside_the_text_area_and_nothing_is_stored(
        demo, text, field, expected):
    c = _client(demo, "coordinator")
    if text is None:
        rec = _record(demo, "SCR-BAD")
        rec["sex"], rec["labs"][0]["value"] = "x", "abc"
        text = json.dumps(rec)
    before = _stored(demo)
    r = _paste(c, demo, text)
    assert r.status_code == 422
    box = re.search(r'<div class="error" id="err-record" role="alert">.*?</div>', r.text, re.DOTALL).group(0)
    assert f"<code>{field}</code>" in box and expected in box, box
    assert 'aria-describedby="err-record"' in r.text
    kept = re.search(r'<textarea id="f-record"[^>]*>(.*?)</textarea>', r.text, re.DOTALL).group(1)
    assert html.unescape(kept) == text  # the text area keeps what was pasted
    assert _stored(demo) == before


def test_a_role_that_may_not_register_sees_the_worklist_without_the_form_and_is_refused(demo):
    c = _client(demo, "statistician")
    page = c.get(f"/trials/{demo.trial}/screening")
    assert page.status_code == 200 and 'id="worklist"' in page.text  # the candidates pasted by other tests
    assert 'id="register-form"' not in page.text and 'id="example-form"' not in page.text
    before = _stored(demo)
    r = c.post(f"/trials/{demo.trial}/screening", data={"csrf": csrf_of(page.text),
                                                         "record": json.dumps(_record(demo, "SCR-STAT"))})
    assert r.status_code == 403 and "register" in r.text
    assert _stored(demo) == before
    # no attestation form either, and a posted one is refused
    coord = _client(demo, "coordinator")
    loc = _paste(coord, demo, json.dumps(_record(demo, "SCR-STAT2"))).headers["location"]
    page = c.get(loc)
    assert page.status_code == 200 and "attest-form" not in page.text and 'id="consent-form"' not in page.text
    before = _stored(demo)
    r = c.post(f"{loc}/attest/{KEY}", data={"csrf": csrf_of(page.text), "value": "yes", "by": "x",
                                            "date": demo.container.ctx.today().isoformat(), "reason": "abc"})
    assert r.status_code == 403 and _stored(demo) == before
    # a role that may not view the trial gets no worklist
    admin = _client(demo, "admin")
    assert admin.get(f"/trials/{demo.trial}/screening").status_code == 403


def test_an_uploaded_json_file_is_registered_and_screened(demo):
    c = _client(demo, "enrolling_oncologist")
    page = c.get(f"/trials/{demo.trial}/screening")
    assert 'enctype="multipart/form-data"' in page.text
    body = json.dumps(_record(demo, "SCR-UPLOAD", without=None)).encode()
    r = c.post(f"/trials/{demo.trial}/screening", data={"csrf": csrf_of(page.text), "record": ""},
               files={"file": ("patient.json", body, "application/json")}, follow_redirects=False)
    assert r.status_code == 303, r.text
    shown = c.get(r.headers["location"]).text
    assert "Screening SCR-UPLOAD" in shown and re.search(r'id="trial-verdict">eligible<', shown)
    bad = c.post(f"/trials/{demo.trial}/screening", data={"csrf": csrf_of(page.text)},
                 files={"file": ("broken.json", b"{", "application/json")})
    assert bad.status_code == 422 and "file &#39;broken.json&#39;, line 1 column 2" in bad.text


def test_a_shipped_example_is_loaded_into_the_form_with_its_dates_moved_to_today(demo):
    c = _client(demo, "coordinator")
    page = c.get(f"/trials/{demo.trial}/screening", params={"example": "stop2_eligible.json", "moved": "on"})
    assert page.status_code == 200 and "stop2_eligible.json" in page.text
    text = html.unescape(re.search(r'<textarea id="f-record"[^>]*>(.*?)</textarea>', page.text, re.DOTALL).group(1))
    assert json.loads(text)["as_of"] == demo.container.ctx.today().isoformat()
    as_shipped = c.get(f"/trials/{demo.trial}/screening", params={"example": "stop2_eligible.json"})
    text = html.unescape(re.search(r'<textarea id="f-record"[^>]*>(.*?)</textarea>', as_shipped.text, re.DOTALL).group(1))
    assert json.loads(text)["as_of"] == ELIGIBLE["as_of"]
    assert c.get(f"/trials/{demo.trial}/screening", params={"example": "../secrets.json"}).status_code == 404


def test_consent_and_enrolment_from_the_screening_page(demo):
    c = _client(demo, "coordinator")
    loc = _paste(c, demo, json.dumps(_record(demo, "SCR-ENROL", without=None))).headers["location"]
    pid = loc.rsplit("/", 1)[1]
    page = c.get(loc)
    assert 'id="consent-form"' in page.text and 'id="enrol-form"' not in page.text  # enrol after consent
    r = c.post(f"{loc}/step/consent", data={"csrf": csrf_of(page.text), "date": "", "form_version": "v3"})
    assert r.status_code == 422 and 'id="err-c-date"' in r.text  # refused beside the date
    r = c.post(f"{loc}/step/consent", data={"csrf": csrf_of(page.text), "form_version": "v3",
                                            "date": demo.container.ctx.today().isoformat()}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{loc}#consent"
    page = c.get(loc)
    assert "form version v3" in page.text and 'id="enrol-form"' in page.text and 'id="consent-form"' not in page.text
    assert "attest-form" not in page.text  # consented: attestations are recorded while screening
    r = c.post(f"{loc}/step/enrol", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    page = c.get(loc)
    assert "Enrolled" in page.text and f'href="/trials/{demo.trial}/participants/{pid}"' in page.text
    assert enrolment.get_participant(demo.container.ctx, _actor(demo), demo.trial, pid)["state"] == "enrolled"
    wl = c.get(f"/trials/{demo.trial}/screening").text
    assert "SCR-ENROL" not in wl  # enrolled: off the worklist


def test_enrolment_against_an_undecided_verdict_needs_a_reason_beside_its_field(demo):
    c = _client(demo, "coordinator")
    loc = _paste(c, demo, json.dumps(_record(demo, "SCR-OVERRIDE"))).headers["location"]
    page = c.get(loc)
    c.post(f"{loc}/step/consent", data={"csrf": csrf_of(page.text), "form_version": "v3",
                                        "date": demo.container.ctx.today().isoformat()})
    page = c.get(loc)
    assert "enrolment needs a documented reason" in page.text
    r = c.post(f"{loc}/step/enrol", data={"csrf": csrf_of(page.text), "override_reason": "short"})
    assert r.status_code == 422 and 'id="err-e-override_reason"' in r.text


def test_a_blinded_role_sees_no_arm_on_the_screening_page_of_a_randomized_participant(demo):
    c = _client(demo, "enrolling_oncologist")
    ctx = demo.container.ctx
    treated = [p for p in enrolment.list_participants(ctx, _actor(demo), demo.trial) if p["state"] == "treated"]
    assert treated
    page = c.get(f"/trials/{demo.trial}/screening/{treated[0]['id']}")
    assert page.status_code == 200
    assert find_arm_information(page_strings(page.text), ARM_IDS, LABELS) == []
    coord = _client(demo, "coordinator").get(f"/trials/{demo.trial}/participants/{treated[0]['id']}")
    assert find_arm_information(page_strings(coord.text), ARM_IDS, LABELS)  # the scan would find an arm where one is shown


def test_every_screening_form_needs_the_session_token(demo):
    c = _client(demo, "coordinator")
    loc = _paste(c, demo, json.dumps(_record(demo, "SCR-CSRF"))).headers["location"]
    before = _stored(demo)
    record = json.dumps(_record(demo, "SCR-CSRF2"))
    assert c.post(f"/trials/{demo.trial}/screening", data={"record": record}).status_code == 403
    assert c.post(f"{loc}/attest/{KEY}", data={"value": "yes", "by": "x", "reason": "abc",
                                               "date": demo.container.ctx.today().isoformat()}).status_code == 403
    assert c.post(f"{loc}/step/consent", data={"csrf": "forged", "form_version": "v1",
                                               "date": demo.container.ctx.today().isoformat()}).status_code == 403
    assert _stored(demo) == before


def test_the_worklist_links_the_screening_log_whose_csv_lists_every_candidate_safely(demo):
    import csv
    import io

    from oligotrial.service import screening_worklist as sw

    c = _client(demo, "coordinator")
    assert _paste(c, demo, json.dumps(_record(demo, "=1+2"))).status_code == 303  # an id a spreadsheet would run
    page = c.get(f"/trials/{demo.trial}/screening").text
    assert f'href="/trials/{demo.trial}/screening-log.csv"' in page and "Screening log" in page
    r = c.get(f"/trials/{demo.trial}/screening-log.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"] and r.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    log = sw.screening_log(demo.container.ctx, _actor(demo), demo.trial)
    assert tuple(rows[0]) == sw.LOG_COLUMNS and len(rows) == log["total"] == _stored(demo)[0]
    assert [x["participant"] for x in rows if x["participant"].startswith("'")] == ["'=1+2"]
    assert {x["verdict"] for x in rows} <= {"eligible", "ineligible", "needs_review", "not screened"}
    # the blinded enrolling oncologist gets the same log: it ends at enrolment, no arm in it
    blinded = _client(demo, "enrolling_oncologist").get(f"/trials/{demo.trial}/screening-log.csv")
    assert blinded.status_code == 200
    assert find_arm_information(list(csv.reader(io.StringIO(blinded.text))), ARM_IDS, LABELS) == []


def test_a_candidate_is_closed_from_their_worklist_row_shown_with_why_and_reopened(demo):
    """Issue 25 item 5 on the worklist page: "the same on the worklist page (on each row)"; "A
    closed candidate leaves the worklist; its participant view (page ...) shows the reason and
    note; it appears in the screening log with its reason"; reopened, it is back."""
    import csv
    import io

    c = _client(demo, "coordinator")
    pid = _paste(c, demo, json.dumps(_record(demo, "SCR-CLOSE"))).headers["location"].rsplit("/", 1)[1]
    page = c.get(f"/trials/{demo.trial}/screening").text
    assert f'id="close-{pid}"' in page and f'action="/trials/{demo.trial}/screening/{pid}/close"' in page
    r = c.post(f"/trials/{demo.trial}/screening/{pid}/close", data={"csrf": csrf_of(page), "reason": "Declined",
                                                                    "note": "prefers no trial"})
    assert r.status_code == 422 and f'id="err-close-{pid}"' in r.text and "not eligible, declined, other" in r.text
    assert enrolment.get_participant(demo.container.ctx, _actor(demo), demo.trial, pid)["state"] == "screened"
    r = c.post(f"/trials/{demo.trial}/screening/{pid}/close", data={"csrf": csrf_of(page), "reason": "declined",
                                                                    "note": "prefers no trial"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/trials/{demo.trial}/screening#closed-{pid}"
    page = c.get(f"/trials/{demo.trial}/screening").text
    worklist, closed = page.split('id="closed-h"', 1)
    assert "SCR-CLOSE" not in worklist.split('id="log-h"')[0]  # off the worklist
    row = re.search(rf'<tr id="closed-{pid}">(.*?)</tr>', closed, re.DOTALL).group(1)
    assert "SCR-CLOSE" in row and "<td>declined</td>" in row and "<td>prefers no trial</td>" in row
    for url in (f"/trials/{demo.trial}/participants/{pid}", f"/trials/{demo.trial}/screening/{pid}"):
        text = c.get(url).text
        closure = re.search(r'<p class="notice" id="closure"[^>]*>(.*?)</p>', text, re.DOTALL).group(1)
        assert "<strong>declined</strong>" in closure and "prefers no trial" in closure, url
    rows = list(csv.DictReader(io.StringIO(c.get(f"/trials/{demo.trial}/screening-log.csv").text)))
    mine = next(x for x in rows if x["participant"] == "SCR-CLOSE")
    assert (mine["state"], mine["closed_reason"], mine["closed_note"]) == ("screening_closed", "declined",
                                                                         "prefers no trial")
    # a role that may not close or reopen sees no form and is refused
    stat = _client(demo, "statistician")
    spage = stat.get(f"/trials/{demo.trial}/screening").text
    assert "close-form" not in spage and "reopen-form" not in spage and f'id="closed-{pid}"' in spage
    before = _stored(demo)
    r = stat.post(f"/trials/{demo.trial}/screening/{pid}/reopen", data={"csrf": csrf_of(spage),
                                                                        "reason": "entered in error"})
    assert r.status_code == 403 and _stored(demo) == before
    # reopened with a reason (refused without one, beside its row)
    r = c.post(f"/trials/{demo.trial}/screening/{pid}/reopen", data={"csrf": csrf_of(page), "reason": ""})
    assert r.status_code == 422 and f'id="err-reopen-{pid}"' in r.text and _stored(demo) == before
    r = c.post(f"/trials/{demo.trial}/screening/{pid}/reopen", data={"csrf": csrf_of(page),
                                                                     "reason": "called back: wishes to take part"},
               follow_redirects=False)
    assert r.status_code == 303
    page = c.get(f"/trials/{demo.trial}/screening").text
    assert f'id="close-{pid}"' in page and f'id="closed-{pid}"' not in page
    assert 'id="closure"' not in c.get(f"/trials/{demo.trial}/participants/{pid}").text
