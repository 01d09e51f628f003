"""The participant page's consent correction (issue 25 item 4: "the consent date is correctable
... audited with old and new, and a corrected date may not fall after anything that needs
consent"), through the same service as ``PUT .../participants/{pid}/consent``: refused beside its
field with nothing stored, corrected with a reason, not offered to a role that may not record
consent (and refused if posted)."""

from __future__ import annotations

from trialops_e2e import PASSWORD, TRIAL
from web_demo import csrf_of, sign_in

API = f"/api/v1/trials/{TRIAL}/participants"


def _enrolled(api) -> str:
    """Consented 2026-03-01, enrolled 2026-03-05 (the study calendar's first day)."""
    return api.enrolled(1)


def test_the_consent_is_corrected_from_the_participant_page_with_a_reason(sqlite_api):
    api = sqlite_api
    pid = _enrolled(api)
    api.clock.set("2026-03-09")
    c = api.client
    sign_in(c, "coordinator", PASSWORD)
    url = f"/trials/{TRIAL}/participants/{pid}"
    page = c.get(url)
    assert 'id="correct-consent-form"' in page.text and 'value="2026-03-01"' in page.text
    token = csrf_of(page.text)
    r = c.post(f"{url}/step/correct_consent", data={"csrf": token, "date": "2026-03-06", "form_version": "v3",
                                                    "reason": "per the signed form"})
    assert r.status_code == 422 and 'id="err-cc-date"' in r.text and "enrolment (2026-03-05)" in r.text
    r = c.post(f"{url}/step/correct_consent", data={"csrf": token, "date": "2026-03-02", "form_version": "v3",
                                                    "reason": ""})
    assert r.status_code == 422 and 'id="err-cc-reason"' in r.text
    assert api.call("GET", f"{API}/{pid}", "coordinator").json()["consent"]["date"] == "2026-03-01"
    r = c.post(f"{url}/step/correct_consent", data={"csrf": token, "date": "2026-03-02", "form_version": "v3",
                                                    "reason": "per the signed form"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{url}#correct_consent"
    consent = api.call("GET", f"{API}/{pid}", "coordinator").json()["consent"]
    assert (consent["date"], consent["form_version"], consent["corrected"]["reason"]) == (
        "2026-03-02", "v3", "per the signed form")
    trail = api.call("GET", f"/api/v1/trials/{TRIAL}/audit", "coordinator", params={"limit": 1000}).json()
    assert trail[-1]["action"] == "participant.consent_correct"
    assert trail[-1]["old"]["date"] == "2026-03-01" and trail[-1]["new"]["date"] == "2026-03-02"


def test_a_role_that_may_not_record_consent_gets_no_correction_form_and_is_refused(sqlite_api):
    api = sqlite_api
    pid = _enrolled(api)
    c = api.client
    sign_in(c, "data_manager", PASSWORD)
    url = f"/trials/{TRIAL}/participants/{pid}"
    page = c.get(url)
    assert page.status_code == 200 and 'id="correct-consent-form"' not in page.text
    r = c.post(f"{url}/step/correct_consent", data={"csrf": csrf_of(page.text), "date": "2026-03-02",
                                                    "form_version": "v3", "reason": "per the signed form"})
    assert r.status_code == 403
    assert api.call("GET", f"{API}/{pid}", "coordinator").json()["consent"]["date"] == "2026-03-01"
