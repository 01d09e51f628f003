"""Issue 25 item 1 through the pages (SQLite): "The arm-word check warns the writer at entry; the
warning is shown to the writer only and stored nowhere a blinded role reads", and "a data manager
who sees the arm may release one after review". The coordinator types a visit note and an AE
"Other, specify" naming the arm; the page warns them; the statistician's participant and audit
pages show "withheld: written by an unblinded role"; the data manager's page lists what is
withheld and releases it."""

from __future__ import annotations

from trialops_e2e import PASSWORD, RT_FOR_ARM, TRIAL

#: the last fraction at the earliest date each course allows (one fraction a day)
LAST_FRACTION = {"palliative": "2026-03-10", "sabr": "2026-03-14"}
from web_demo import csrf_of, sign_in

WITHHELD = "withheld: written by an unblinded role"
SPECIFY = "cough after the SABR fraction"
NOTE = "seen the day of the 8 Gy single fraction"


def _treated(api) -> str:
    pid = api.enrolled(1)
    base = f"/api/v1/trials/{TRIAL}/participants/{pid}"
    assert api.call("POST", f"{base}/randomize", "coordinator", json={}).status_code == 200
    arm = api.call("GET", base, "coordinator").json()["allocation"]["arm"]
    api.clock.set("2026-03-10")
    r = api.call("POST", f"{base}/radiotherapy", "treating_oncologist",
                 json={"start": "2026-03-10", "end": LAST_FRACTION[arm], **RT_FOR_ARM[arm]})
    assert r.status_code == 200, r.text
    api.clock.set("2026-05-01")
    return pid


def test_the_writer_is_warned_blinded_pages_show_withheld_and_the_data_manager_releases(sqlite_api):
    api, c = sqlite_api, sqlite_api.client
    pid = _treated(api)
    url = f"/trials/{TRIAL}/participants/{pid}"
    sign_in(c, "coordinator", PASSWORD)
    token = csrf_of(c.get(url).text)
    r = c.post(f"{url}/record/adverse_event", data={
        "csrf": token, "date": "2026-04-02", "term": "Respiratory, thoracic and mediastinal disorders - Other, specify",
        "grade": "2", "specify": SPECIFY}, follow_redirects=False)
    assert r.status_code == 303 and "warned=1" in r.headers["location"], r.text[:500]
    entry = int(r.headers["location"].split("saved=")[1].split("&")[0])
    page = c.get(r.headers["location"])
    assert "Your text may name an arm" in page.text and SPECIFY in page.text
    r = c.post(f"{url}/visits/rt_toxicity_4w", data={"csrf": token, "date": "2026-04-20",
                                                     "out_of_window_reason": NOTE}, follow_redirects=False)
    assert r.status_code == 303 and "warned=1" in r.headers["location"]
    plain = c.post(f"{url}/record/adverse_event", data={"csrf": token, "date": "2026-04-03", "term": "Fatigue",
                                                        "grade": "1"}, follow_redirects=False)
    assert plain.status_code == 303 and "warned" not in plain.headers["location"]  # nothing to warn about

    sign_in(c, "statistician", PASSWORD)
    page = c.get(url).text
    assert SPECIFY not in page and NOTE not in page and page.count(WITHHELD) >= 2
    assert "Your text may name an arm" not in c.get(f"{url}?warned=0").text
    audit_page = c.get(f"/trials/{TRIAL}/audit").text
    assert SPECIFY not in audit_page and NOTE not in audit_page and WITHHELD in audit_page

    sign_in(c, "data_manager", PASSWORD)
    page = c.get(url).text
    assert "withheld from blinded roles: specify" in page and SPECIFY in page
    token = csrf_of(page)
    bad = c.post(f"{url}/entries/{entry}/release", data={"csrf": token, "field": "specify", "reason": ""})
    assert bad.status_code == 422 and "reason" in bad.text
    ok = c.post(f"{url}/entries/{entry}/release", data={"csrf": token, "field": "specify",
                                                         "reason": "reviewed with the site"}, follow_redirects=False)
    assert ok.status_code == 303
    assert "withheld from blinded roles: specify" not in c.get(url).text

    sign_in(c, "statistician", PASSWORD)
    page = c.get(url).text
    assert SPECIFY in page and NOTE not in page  # the released text only
