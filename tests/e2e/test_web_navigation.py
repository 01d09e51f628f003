"""The pages link to one another by role, on a fresh SQLite database with one account per role
of STOP-2 (which blinds the enrolling oncologist, the outcome assessor and the statistician).

Every link a role is offered leads to a page that role may open (200), and no role is offered a
link to a page the service refuses it (the crawl in ``test_web_crawl.py`` checks the first from
every page; here each link's presence and absence by role is asserted): the main navigation's
screening worklist, data queries and account administration; on the participant page the data
queries of that participant, the data manager's "raise query" per entry and on the registered
record, and emergency unblinding for a role that may break the blind and does not already see
the arm.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from oligotrial.service.access import PERMISSIONS
from trialops_e2e import PASSWORD, TRIAL
from web_demo import sign_in

ROLES = ["coordinator", "enrolling_oncologist", "treating_oncologist", "outcome_assessor", "data_manager",
         "statistician", "dsmb", "admin"]


def _signed_in(api, username: str) -> TestClient:
    c = TestClient(api.client.app, raise_server_exceptions=False)
    r = sign_in(c, username, PASSWORD)
    assert r.status_code == 200, (username, r.status_code)
    return c


def _links(html: str) -> set[str]:
    return {h.replace("&amp;", "&") for h in re.findall(r'<a [^>]*href="([^"#]+)"', html)}


@pytest.fixture
def randomized(sqlite_api) -> str:
    pid = sqlite_api.enrolled(1)
    r = sqlite_api.call("POST", f"/api/v1/trials/{TRIAL}/participants/{pid}/randomize", "coordinator", json={})
    assert r.status_code == 200, r.text
    r = sqlite_api.call("POST", f"/api/v1/trials/{TRIAL}/participants/{pid}/performance", "coordinator",
                        json={"date": sqlite_api.clock.now.date().isoformat(), "scale": "ECOG", "score": 1})
    assert r.status_code in (200, 201), r.text
    return pid


@pytest.mark.parametrize("role", ROLES)
def test_the_main_navigation_offers_each_role_what_it_may_open_and_nothing_else(sqlite_api, role):
    c = _signed_in(sqlite_api, role)
    page = c.get("/trials")
    links = _links(page.text)
    trial_role = role if role != "admin" else None
    expect = {
        f"/trials/{TRIAL}/screening": trial_role in PERMISSIONS["view"],
        f"/trials/{TRIAL}/queries": trial_role in PERMISSIONS["query_view"],
        "/admin/users": role == "admin",
    }
    for href, offered in expect.items():
        assert (href in links) == offered, (role, href, offered)
        if offered:
            assert c.get(href).status_code == 200, (role, href)
        else:
            assert c.get(href).status_code in (403, 404), (role, href)


def _participant_links(c: TestClient, pid: str) -> set[str]:
    page = c.get(f"/trials/{TRIAL}/participants/{pid}")
    assert page.status_code == 200, page.text
    return _links(page.text)


def test_the_data_manager_may_raise_a_query_from_the_participant_page_on_each_entry(sqlite_api, randomized):
    c = _signed_in(sqlite_api, "data_manager")
    links = _participant_links(c, randomized)
    ext = sqlite_api.call("GET", f"/api/v1/trials/{TRIAL}/participants/{randomized}", "coordinator").json()
    ext = ext["external_id"]
    raise_links = sorted(h for h in links if h.startswith(f"/trials/{TRIAL}/queries/new"))
    assert f"/trials/{TRIAL}/queries/new?participant={ext}" in raise_links  # the registered record
    entry_links = [h for h in raise_links if "&entry=" in h]
    assert entry_links, raise_links
    for href in raise_links:
        form = c.get(href)
        assert form.status_code == 200 and f'value="{ext}"' in form.text, href
    assert f"/trials/{TRIAL}/queries?participant={ext}" in links
    assert not any(h.endswith("/unblind") for h in links)  # a data manager may not break the blind


@pytest.mark.parametrize("role", ["coordinator", "enrolling_oncologist", "outcome_assessor"])
def test_other_roles_see_the_participants_queries_but_raise_none(sqlite_api, randomized, role):
    c = _signed_in(sqlite_api, role)
    links = _participant_links(c, randomized)
    assert not any(h.startswith(f"/trials/{TRIAL}/queries/new") for h in links), role
    assert any(h.startswith(f"/trials/{TRIAL}/queries?participant=") for h in links), role


def test_emergency_unblinding_is_offered_to_a_blinded_role_that_may_break_the_blind(sqlite_api, randomized):
    unblind = f"/trials/{TRIAL}/participants/{randomized}/unblind"
    blinded = _participant_links(_signed_in(sqlite_api, "enrolling_oncologist"), randomized)
    assert unblind in blinded
    # an unblinded coordinator already sees the arm; the outcome assessor may not break the blind
    assert unblind not in _participant_links(_signed_in(sqlite_api, "coordinator"), randomized)
    assert unblind not in _participant_links(_signed_in(sqlite_api, "outcome_assessor"), randomized)


def test_no_unblinding_link_before_randomization(sqlite_api):
    pid = sqlite_api.enrolled(1)
    links = _participant_links(_signed_in(sqlite_api, "enrolling_oncologist"), pid)
    assert not any(h.endswith("/unblind") for h in links)


def test_a_query_not_yet_closed_is_flagged_beside_its_entry_and_on_the_record(sqlite_api, randomized):
    q_api = f"/api/v1/trials/{TRIAL}/queries"
    view = sqlite_api.call("GET", f"/api/v1/trials/{TRIAL}/participants/{randomized}", "coordinator").json()
    entry = view["entries"][-1]["id"]
    on_entry = sqlite_api.call("POST", q_api, "data_manager", json={
        "participant": randomized, "entry": entry, "field": "score", "text": "ECOG 1 but the letter says 2?"}).json()
    on_record = sqlite_api.call("POST", q_api, "data_manager", json={
        "participant": randomized, "field": "birth_date", "text": "Birth date differs from the ID card."}).json()
    url = f"/trials/{TRIAL}/participants/{randomized}"
    page = _signed_in(sqlite_api, "coordinator").get(url).text
    row = re.search(rf'<tr id="entry-{entry}">.*?</tr>', page, re.DOTALL).group(0)
    assert f'href="/trials/{TRIAL}/queries/{on_entry["id"]}"' in row and "on score: open" in row
    assert f"query #{on_record['id']} on the record's birth_date: open" in page
    assert "2 not closed" in page
    # a role without query access sees no flag (the statistician)
    assert "query #" not in _signed_in(sqlite_api, "statistician").get(url).text
    for q in (on_entry, on_record):
        r = sqlite_api.call("POST", f"{q_api}/{q['id']}/close", "data_manager", json={})
        assert r.status_code == 200, r.text
    page = _signed_in(sqlite_api, "coordinator").get(url).text
    assert "query #" not in page and "not closed" not in page


def test_the_participant_list_finds_by_own_id_site_and_state(sqlite_api):
    for n in (1, 2, 3):
        sqlite_api.enrolled(n)
    c = _signed_in(sqlite_api, "coordinator")
    listed = lambda **q: re.findall(rf'<a href="/trials/{TRIAL}/participants/[^"]+">([^<]+)</a>',
                                    c.get(f"/trials/{TRIAL}/participants", params=q).text)
    everyone = listed()
    assert len(everyone) == 3
    one = everyone[1]
    assert listed(q=one.lower()) == [one] and listed(q=f"  {one.upper()} ") == [one]  # any case, trimmed
    assert listed(q="no-such-participant") == []
    assert listed(state="enrolled", q=one) == [one] and listed(state="treated") == []
    assert listed(site="elsewhere") == []  # no participant registered at that site
    page = c.get(f"/trials/{TRIAL}/participants", params={"q": one}).text
    assert f'value="{one}"' in page and "1 of 3 participants" in page
