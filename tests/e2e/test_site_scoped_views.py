"""Issue 26 item 3: "The audit trail is not scoped by site. A site-limited coordinator reads other
sites' participants there (full registered record, randomization, radiotherapy course, which
shows the arm, query text), page and API alike. Every view a site-limited role has is filtered
by its sites." Acceptance: "a site-A coordinator's every view (audit page and API included)
holds no site-B participant". On SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient

from oligotrial.service import users
from trialops_e2e import PASSWORD, RECORD, RT_FOR_ARM, TRIAL
from web_demo import sign_in

BASE = f"/api/v1/trials/{TRIAL}"
B_OWN_ID = "BEIJING-SECRET-0001"
B_NOTE = "beijing-only free text 7f3c"


def _participant(api, own_id: str, site: str) -> str:
    r = api.call("POST", f"{BASE}/participants?site={site}", "coordinator", json={**RECORD, "id": own_id})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    for path, body in (("screen", {}), ("consent", {"date": "2026-03-01", "form_version": "v2"}), ("enrol", {})):
        assert api.call("POST", f"{BASE}/participants/{pid}/{path}", "coordinator", json=body).status_code == 200
    r = api.call("POST", f"{BASE}/participants/{pid}/randomize", "coordinator", json={})
    assert r.status_code == 200, r.text
    arm = api.call("GET", f"{BASE}/participants/{pid}", "coordinator").json()["allocation"]["arm"]
    rt = {**RT_FOR_ARM[arm], "start": "2026-03-10", "end": "2026-03-10" if arm == "palliative" else "2026-03-14"}
    r = api.call("POST", f"{BASE}/participants/{pid}/radiotherapy", "treating_oncologist", json=rt)
    assert r.status_code == 200, r.text
    return pid


def _paged_audit(api, user: str) -> list[str]:
    texts, url = [], f"{BASE}/audit?limit=3"
    while url:
        r = api.call("GET", url, user)
        assert r.status_code == 200, r.text
        texts.append(r.text)
        link = r.headers.get("Link")
        url = link[1:link.index(">")] if link else None
    return texts


def test_a_site_coordinator_sees_no_other_sites_participant_anywhere(api):
    users.add_user(api.container.ctx, "coord-a", PASSWORD, "coordinator", TRIAL, site="shanghai")
    api.clock.set("2026-03-20")
    a = _participant(api, "SHANGHAI-0001", "shanghai")
    b = _participant(api, B_OWN_ID, "beijing")
    r = api.call("POST", f"{BASE}/participants/{b}/adverse-events", "coordinator",
                 json={"date": "2026-03-16", "term": "Fatigue", "grade": 1, "note": B_NOTE})
    assert r.status_code in (200, 201), r.text
    r = api.call("POST", f"{BASE}/queries", "data_manager",
                 json={"participant": b, "field": "age_years", "text": f"please check {B_NOTE}"})
    assert r.status_code in (200, 201), r.text

    # the API, every read a coordinator has
    seen: dict[str, str] = {}
    audit_pages = _paged_audit(api, "coord-a")
    seen["api audit (paged)"] = "\n".join(audit_pages)
    total = api.call("GET", f"{BASE}/audit?limit=3", "coord-a").headers["X-Total-Count"]
    for path in ("", "/participants", "/queries", "/notifications", "/visits", "/report",
                 "/exports/adtte.csv", "/exports/adrs.csv", f"/participants/{a}"):
        r = api.call("GET", f"{BASE}{path}", "coord-a")
        assert r.status_code == 200, (path, r.text)
        seen[f"api {path or '/'}"] = r.text
    assert api.call("GET", f"{BASE}/participants/{b}", "coord-a").status_code == 404
    # the pages
    c = TestClient(api.client.app)
    assert sign_in(c, "coord-a", PASSWORD).url.path == "/trials"
    for path in ("/trials", f"/trials/{TRIAL}/audit", f"/trials/{TRIAL}/audit?participant={b}",
                 f"/trials/{TRIAL}/participants", f"/trials/{TRIAL}/screening", f"/trials/{TRIAL}/screening-log.csv",
                 f"/trials/{TRIAL}/queries", f"/trials/{TRIAL}/report", f"/trials/{TRIAL}/report.json",
                 f"/trials/{TRIAL}/participants/{a}"):
        r = c.get(path)
        assert r.status_code == 200, (path, r.status_code)
        seen[f"page {path}"] = r.text
    # the audit page filtered by B's id echoes the id typed in its filter box, and shows nothing
    filtered = seen.pop(f"page /trials/{TRIAL}/audit?participant={b}")
    assert B_OWN_ID not in filtered and B_NOTE not in filtered and "participant.enrol" not in filtered
    leaks = {where: w for where, text in seen.items() for w in (b, B_OWN_ID, B_NOTE) if w in text}
    assert leaks == {}, leaks
    # the filter is not an empty view: the coordinator's own site's participant is in the trail,
    # and the count matches what the pages hold
    assert a in seen["api audit (paged)"] and "SHANGHAI-0001" in seen[f"page /trials/{TRIAL}/audit"]
    rows = sum(t.count('"seq":') for t in audit_pages)
    assert int(total) == rows
    # the central coordinator (every site) still reads both
    central = "\n".join(_paged_audit(api, "coordinator"))
    assert b in central and a in central
