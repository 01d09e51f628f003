"""Consent dates and closed screenings through the REST API (issue 25 items 4 and 5), on SQLite and
PostgreSQL: a consent dated after today is a 422 naming the field; "PUT .../participants/{pid}/consent
{"date", "form_version", "reason"}" corrects it, audited with old and new; "POST
.../close-screening with {"reason": "declined" | "not eligible" | "other", "note": "..."}",
"reason is exactly one of the three strings, anything else 422"; "GET .../participants/{pid}"
shows the reason and note; "POST .../reopen-screening {"reason": "..."}" reopens it; a role that
may not is refused (403)."""

from __future__ import annotations

from trialops_e2e import RECORD, TRIAL

BASE = f"/api/v1/trials/{TRIAL}/participants"


def _screened(api, n: int) -> str:
    r = api.call("POST", BASE, "coordinator", json={**RECORD, "id": f"P-{n:04d}"})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert api.call("POST", f"{BASE}/{pid}/screen", "coordinator", json={}).status_code == 200
    return pid


def _audit(api) -> list[dict]:
    r = api.call("GET", f"/api/v1/trials/{TRIAL}/audit", "coordinator", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_future_consent_is_422_and_a_consent_is_corrected_with_a_reason(api):
    pid = _screened(api, 1)  # today (the server's clock): 2026-03-05
    r = api.call("POST", f"{BASE}/{pid}/consent", "coordinator", json={"date": "2026-03-06", "form_version": "v2"})
    assert r.status_code == 422 and "date" in r.text and "2026-03-05" in r.text
    assert api.call("GET", f"{BASE}/{pid}", "coordinator").json()["consent"] is None
    r = api.call("PUT", f"{BASE}/{pid}/consent", "coordinator",
                 json={"date": "2026-03-04", "form_version": "v2", "reason": "per the signed form"})
    assert r.status_code == 409 and "no consent recorded" in r.text  # nothing to correct yet
    assert api.call("POST", f"{BASE}/{pid}/consent", "coordinator",
                    json={"date": "2026-03-04", "form_version": "v1"}).status_code == 200
    for body in ({"date": "2026-03-03", "form_version": "v2"},  # no reason
                 {"date": "2026-03-06", "form_version": "v2", "reason": "per the signed form"},  # future
                 {"date": "2026-03-03", "form_version": "v2", "reason": "per the signed form", "by": "x"}):
        r = api.call("PUT", f"{BASE}/{pid}/consent", "coordinator", json=body)
        assert r.status_code == 422, (body, r.text)
    r = api.call("PUT", f"{BASE}/{pid}/consent", "data_manager",
                 json={"date": "2026-03-03", "form_version": "v2", "reason": "per the signed form"})
    assert r.status_code == 403
    r = api.call("PUT", f"{BASE}/{pid}/consent", "enrolling_oncologist",
                 json={"date": "2026-03-03", "form_version": "v2", "reason": "per the signed form"})
    assert r.status_code == 200, r.text
    assert r.json()["consent"]["date"] == "2026-03-03"
    last = _audit(api)[-1]
    assert last["action"] == "participant.consent_correct" and last["reason"] == "per the signed form"
    assert last["old"] == {"date": "2026-03-04", "form_version": "v1"}
    assert last["new"] == {"date": "2026-03-03", "form_version": "v2"}


def test_a_corrected_consent_after_enrolment_is_422(api):
    pid = api.enrolled(1)  # consent 2026-03-01, enrolled 2026-03-05
    r = api.call("PUT", f"{BASE}/{pid}/consent", "coordinator",
                 json={"date": "2026-03-05", "form_version": "v2", "reason": "per the signed form"})
    assert r.status_code == 200, r.text
    api.clock.set("2026-03-08")
    r = api.call("PUT", f"{BASE}/{pid}/consent", "coordinator",
                 json={"date": "2026-03-06", "form_version": "v2", "reason": "per the signed form"})
    assert r.status_code == 422 and "enrolment (2026-03-05)" in r.text
    assert api.call("GET", f"{BASE}/{pid}", "coordinator").json()["consent"]["date"] == "2026-03-05"


def test_closing_a_screening_takes_exactly_one_of_three_reasons_and_shows_it(api):
    pid = _screened(api, 1)
    for bad in ({"reason": "Declined"}, {"reason": "bored"}, {"reason": "not_eligible"}, {"reason": None}, {},
                {"reason": "declined", "note": ""}, {"reason": "declined", "extra": 1}):
        r = api.call("POST", f"{BASE}/{pid}/close-screening", "coordinator", json=bad)
        assert r.status_code == 422, (bad, r.text)
    assert api.call("GET", f"{BASE}/{pid}", "coordinator").json()["state"] == "screened"
    r = api.call("POST", f"{BASE}/{pid}/close-screening", "data_manager", json={"reason": "declined"})
    assert r.status_code == 403
    r = api.call("POST", f"{BASE}/{pid}/close-screening", "coordinator",
                 json={"reason": "declined", "note": "prefers no trial"})
    assert r.status_code == 200, r.text
    view = api.call("GET", f"{BASE}/{pid}", "coordinator").json()
    assert view["state"] == "screening_closed"
    assert view["closure"]["reason"] == "declined" and view["closure"]["note"] == "prefers no trial"
    assert _audit(api)[-1]["action"] == "participant.not_enrolled"
    # closed: no consent, no second closure
    r = api.call("POST", f"{BASE}/{pid}/consent", "coordinator", json={"date": "2026-03-04", "form_version": "v2"})
    assert r.status_code == 409
    r = api.call("POST", f"{BASE}/{pid}/reopen-screening", "statistician", json={"reason": "entered in error"})
    assert r.status_code == 403
    r = api.call("POST", f"{BASE}/{pid}/reopen-screening", "coordinator", json={})
    assert r.status_code == 422
    r = api.call("POST", f"{BASE}/{pid}/reopen-screening", "enrolling_oncologist",
                 json={"reason": "called back: wishes to take part"})
    assert r.status_code == 200, r.text
    view = api.call("GET", f"{BASE}/{pid}", "coordinator").json()
    assert view["state"] == "screened" and view["closure"] is None
    assert _audit(api)[-1]["action"] == "participant.screening_reopened"
    r = api.call("POST", f"{BASE}/{pid}/close-screening", "coordinator", json={"reason": "not eligible"})
    assert r.status_code == 200 and r.json()["closure"]["note"] is None
