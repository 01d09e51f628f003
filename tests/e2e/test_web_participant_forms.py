"""The participant page's data entry on a fresh database (one account per STOP-2 role): the
radiotherapy form (refused beside each field with nothing stored, then recorded with an override
reason as a protocol deviation; never offered to a blinded role, whom the service refuses naming
no arm), a form for every other follow-up kind built from the record's models (recorded, refused
beside its field with nothing stored, corrected with a reason through the same form), the
unusual-lab soft warning, the live lesion table (the server's RECIST 1.1 engine, nothing stored)
and the spider plot.

The hand-computed RECIST 1.1 example (Eisenhauer EA et al., Eur J Cancer 2009;45:228-47,
s.4.3.1): the registered record's baseline scan of 2026-02-20 measures L1 (lung) 40 mm and L2
(node) 20 mm short axis: sum 60 mm. Typed follow-up L1 28 mm + L2 14 mm = 42 mm:
(42 - 60) / 60 = -30.0 %, "at least a 30 % decrease in the sum of diameters": PR.
"""

from __future__ import annotations

import re

import pytest

from oligotrial.domain.trial.blinding import find_arm_information
from oligotrial.protocols import load_protocol
from page_crawl import page_strings
from trialops_e2e import PASSWORD, RECORD, RT_FOR_ARM, TRIAL
from web_demo import csrf_of, sign_in

STOP2 = load_protocol("STOP-2")
ARM_IDS, LABELS = [a.id for a in STOP2.arms], [a.label for a in STOP2.arms]
BASE_SCAN = {"date": "2026-02-20", "modality": "CT",
             "findings": [{"lesion": "L1", "diameter_mm": 40}, {"lesion": "L2", "short_axis_mm": 20}]}
API = f"/api/v1/trials/{TRIAL}/participants"


def _randomized(api, n: int = 1) -> str:
    """A STOP-2 participant with the record's lesions and one baseline scan, randomized on
    2026-03-05; the study calendar then moves to 2026-06-10."""
    r = api.call("POST", API, "coordinator", json={**RECORD, "id": f"P-{n:04d}", "assessments": [BASE_SCAN],
                                                    "events": []})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert api.call("POST", f"{API}/{pid}/screen", "coordinator", json={}).status_code == 200
    assert api.call("POST", f"{API}/{pid}/consent", "coordinator",
                    json={"date": "2026-03-01", "form_version": "v2"}).status_code == 200
    assert api.call("POST", f"{API}/{pid}/enrol", "coordinator", json={}).status_code == 200
    assert api.call("POST", f"{API}/{pid}/randomize", "coordinator", json={}).status_code == 200
    api.clock.set("2026-06-10")
    return pid


def _view(api, pid: str) -> dict:
    return api.call("GET", f"{API}/{pid}", "coordinator").json()


def _page(c, pid: str):
    page = c.get(f"/trials/{TRIAL}/participants/{pid}")
    assert page.status_code == 200, page.text
    return page


# ---- radiotherapy ---------------------------------------------------------------------------------

def test_radiotherapy_outside_the_arm_is_refused_beside_each_field_then_recorded_with_an_override(api):
    """On SQLite and PostgreSQL."""
    pid = _randomized(api)
    c = api.client
    sign_in(c, "treating_oncologist", PASSWORD)
    page = _page(c, pid)
    assert 'id="rt-form"' in page.text and 'name="lesion.L1"' in page.text and 'name="lesion.L6"' in page.text
    url = f"/trials/{TRIAL}/participants/{pid}/radiotherapy"
    course = {"csrf": csrf_of(page.text), "start": "2026-03-10", "end": "2026-04-20", "dose_gy": "70",
              "fractions": "35", "technique": "IMRT", "lesion.L1": "on"}
    bad = c.post(url, data=course)
    assert bad.status_code == 422
    assert re.search(r'id="err-rt-dose_gy"[^>]*>dose_gy: lesion L1: total dose 70', bad.text)
    assert re.search(r'id="err-rt-fractions"[^>]*>fractions: lesion L1: ', bad.text)
    assert 'id="err-rt-override_reason"' in bad.text and 'value="70"' in bad.text  # typed values kept
    assert _view(api, pid)["radiotherapy"] is None and _view(api, pid)["state"] == "randomized"
    short = c.post(url, data={**course, "override_reason": "too short"})  # the service wants >= 10 characters
    assert short.status_code == 422 and _view(api, pid)["radiotherapy"] is None
    ok = c.post(url, data={**course, "override_reason": "re-planned at tumour board: bulky disease"},
                follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].endswith("#radiotherapy")
    rt = _view(api, pid)["radiotherapy"]
    assert rt["dose_gy"] == 70 and rt["lesions"] == ["L1"] and rt["check"]["deviation"] is True
    after = _page(c, pid)
    assert 'id="rt-form"' not in after.text and "a protocol deviation" in after.text
    assert "re-planned at tumour board" in after.text


def test_a_course_that_fits_the_arm_is_recorded_without_a_reason(sqlite_api):
    api = sqlite_api
    pid = _randomized(api)
    arm = _view(api, pid)["allocation"]["arm"]
    c = api.client
    sign_in(c, "coordinator", PASSWORD)
    page = _page(c, pid)
    fit = RT_FOR_ARM[arm]
    r = c.post(f"/trials/{TRIAL}/participants/{pid}/radiotherapy",
               data={"csrf": csrf_of(page.text), "start": "2026-03-10",
                     "end": "2026-03-14" if fit["fractions"] > 1 else "2026-03-10",
                     "dose_gy": str(fit["dose_gy"]), "fractions": str(fit["fractions"]),
                     "technique": fit["technique"], "lesion.L1": "on"})
    assert r.status_code == 200 and 'class="status pass"' in r.text
    assert _view(api, pid)["state"] == "treated"


def test_radiotherapy_dates_that_do_not_fit_the_fractions_are_shown_beside_the_last_fraction(sqlite_api):
    """Issue 25 item 3: five fractions with the first and last on one day are refused beside
    'Last fraction on', with the earliest possible date; nothing is stored."""
    api = sqlite_api
    pid = _randomized(api)
    c = api.client
    sign_in(c, "coordinator", PASSWORD)
    page = _page(c, pid)
    r = c.post(f"/trials/{TRIAL}/participants/{pid}/radiotherapy",
               data={"csrf": csrf_of(page.text), "start": "2026-03-09", "end": "2026-03-09", "dose_gy": "35",
                     "fractions": "5", "technique": "SABR", "lesion.L1": "on"})
    assert r.status_code == 422
    assert re.search(r'id="err-rt-end"[^>]*>[^<]*on or after 2026-03-13', r.text), r.text
    assert _view(api, pid)["radiotherapy"] is None and _view(api, pid)["state"] == "randomized"


@pytest.mark.parametrize("role", ["enrolling_oncologist", "statistician", "outcome_assessor"])
def test_a_blinded_role_gets_no_radiotherapy_form_and_a_post_is_refused_naming_no_arm_or_dose(sqlite_api, role):
    api = sqlite_api
    pid = _randomized(api)
    c = api.client
    sign_in(c, role, PASSWORD)
    page = _page(c, pid)
    assert 'id="rt-form"' not in page.text and "dose_gy" not in page.text
    assert find_arm_information(page_strings(page.text), ARM_IDS, LABELS) == []
    r = c.post(f"/trials/{TRIAL}/participants/{pid}/radiotherapy",
               data={"csrf": csrf_of(page.text), "start": "2026-03-10", "end": "2026-04-20", "dose_gy": "70",
                     "fractions": "35", "lesion.L1": "on"})
    assert r.status_code == 403 and " Gy" not in r.text and "regimen" not in r.text
    assert find_arm_information(page_strings(r.text), ARM_IDS, LABELS) == []
    assert _view(api, pid)["radiotherapy"] is None


# ---- the other follow-up kinds, from the record's models ------------------------------------------

#: kind -> (a refused form and the id of the error beside its field, a good form, a correction, what is stored)
KINDS = {
    "qol": ({"date": "2026-06-01", "instrument": "EQ-5D-5L", "responses": "mobility = 9"}, "err-qol-responses",
            {"date": "2026-06-01", "instrument": "EQ-5D-5L", "responses": "mobility = 2\nvas = 70"},
            {"responses": "mobility = 3\nvas = 70"}, ("responses", {"mobility": 3, "vas": 70})),
    "lab": ({"date": "2026-06-01", "test": "neutrophils", "value": "3.1", "unit": "mg"}, "err-lab-unit",
            {"date": "2026-06-01", "test": "neutrophils", "value": "3.1", "unit": "10^9/L"},
            {"value": "2.9"}, ("value", 2.9)),
    "performance": ({"date": "2026-06-01", "scale": "ECOG", "score": "7"}, "err-performance-score",
                    {"date": "2026-06-01", "scale": "ECOG", "score": "1"}, {"score": "2"}, ("score", 2)),
    "therapy": ({"line": "0", "agents": "docetaxel", "start": "2026-04-01"}, "err-therapy-line",
                {"line": "2", "agents": "docetaxel, ramucirumab", "start": "2026-04-01"}, {"cycles": "3"},
                ("agents", ["docetaxel", "ramucirumab"])),
    "event": ({"kind": "withdrawal", "date": "2026-05-01"}, "err-event-scope",
              {"kind": "progression", "date": "2026-05-01", "lesions": "L1"}, {"detail": "new liver lesion"},
              ("detail", "new liver lesion")),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_follow_up_form_is_refused_beside_its_field_recorded_and_corrected_with_a_reason(sqlite_api, kind):
    api = sqlite_api
    pid = _randomized(api)
    bad, err_id, good, fix, (key, stored) = KINDS[kind]
    c = api.client
    sign_in(c, "coordinator", PASSWORD)
    page = _page(c, pid)
    assert f'id="{kind}-form"' in page.text
    token = csrf_of(page.text)
    url = f"/trials/{TRIAL}/participants/{pid}/record/{kind}"
    r = c.post(url, data={"csrf": token, **bad})
    assert r.status_code == 422 and f'id="{err_id}"' in r.text, r.text[-3000:]
    assert f'<details id="{kind}-details" open>' in r.text  # the refused form is open, with what was typed
    assert _view(api, pid)["entries"] == []
    r = c.post(url, data={"csrf": token, **good}, follow_redirects=False)
    assert r.status_code == 303, r.text[-3000:]
    [entry] = _view(api, pid)["entries"]
    assert entry["kind"] == kind
    fix_url = f"/trials/{TRIAL}/participants/{pid}/entries/{entry['id']}/correct"
    form = c.get(fix_url)
    assert form.status_code == 200 and 'name="data"' not in form.text  # its own form, not JSON
    assert all(f'name="{k}"' in form.text for k in good)
    r = c.post(fix_url, data={"csrf": token, **good, **fix, "reason": ""})
    assert r.status_code == 422 and 'id="err-reason"' in r.text and _view(api, pid)["entries"][0]["version"] == 1
    r = c.post(fix_url, data={"csrf": token, **good, **fix, "reason": "source document checked"})
    assert r.status_code == 200
    [entry] = _view(api, pid)["entries"]
    assert entry["version"] == 2 and entry["data"][key] == stored and entry["reason"] == "source document checked"


def test_an_implausible_lab_asks_for_a_reason_then_is_saved_with_it(sqlite_api):
    api = sqlite_api
    pid = _randomized(api)
    c = api.client
    sign_in(c, "coordinator", PASSWORD)
    page = _page(c, pid)
    url = f"/trials/{TRIAL}/participants/{pid}/record/lab"
    lab = {"csrf": csrf_of(page.text), "date": "2026-06-01", "test": "hemoglobin", "value": "11.8", "unit": "g/L"}
    r = c.post(url, data=lab)
    assert r.status_code == 422
    assert re.search(r'id="err-lab-unusual_value_reason"[^>]*>unusual_value_reason: a reason to keep it[^<]*'
                     r'hemoglobin 11.8 g/L is below the plausible range 30-250 g/L', r.text)
    assert _view(api, pid)["entries"] == []
    r = c.post(url, data={**lab, "unusual_value_reason": "confirmed by the lab: transfusion pending"},
               follow_redirects=False)
    assert r.status_code == 303
    [entry] = _view(api, pid)["entries"]
    assert entry["data"]["value"] == 11.8
    trail = api.call("GET", f"/api/v1/trials/{TRIAL}/audit?limit=1000", "coordinator").json()
    [row] = [e for e in trail if e["action"] == "lab.record"]
    assert row["reason"] == "confirmed by the lab: transfusion pending"


# ---- the live lesion table and the spider plot -------------------------------------------------------

def _preview(c, pid, token, l1, l2, date="2026-06-01"):
    return c.post(f"/trials/{TRIAL}/participants/{pid}/assessment-preview",
                  data={"csrf": token, "date": date, "modality": "CT", "findings[0].lesion": "L1",
                        "findings[0].diameter_mm": l1, "findings[1].lesion": "L2", "findings[1].short_axis_mm": l2},
                  headers={"HX-Request": "true"})


def _cell(html: str, key: str) -> str:
    m = re.search(rf'data-k="{key}">(.*?)</td>', html, re.DOTALL)
    assert m, html
    return re.sub(r"<[^>]+>", "", m.group(1)).strip()


def test_the_live_lesion_table_gives_the_servers_sum_change_and_response_and_stores_nothing(sqlite_api):
    api = sqlite_api
    pid = _randomized(api)
    c = api.client
    sign_in(c, "outcome_assessor", PASSWORD)  # STOP-2 takes assessments from its masked assessor
    page = _page(c, pid)
    assert 'hx-post="/trials/' in page.text and 'hx-trigger="input changed delay:400ms' in page.text
    token = csrf_of(page.text)
    r = _preview(c, pid, token, "28", "14")
    assert r.status_code == 200 and "<html" not in r.text  # a fragment
    assert _cell(r.text, "sum") == "42 mm" and _cell(r.text, "baseline-sum") == "60 mm"
    assert _cell(r.text, "pct-baseline") == "-30.0 %" and _cell(r.text, "pct-nadir").startswith("-30.0 %")
    assert _cell(r.text, "target") == "PR" and _cell(r.text, "overall") == "PR"
    r = _preview(c, pid, token, "40", "24")  # 64 mm: +6.7 %, +4 mm from the nadir 60: SD
    assert _cell(r.text, "sum") == "64 mm" and _cell(r.text, "pct-baseline") == "+6.7 %"
    assert _cell(r.text, "overall") == "SD"
    r = _preview(c, pid, token, "-3", "14")  # what recording would refuse, named
    assert "findings[0].diameter_mm" in r.text and 'data-k="sum"' not in r.text
    assert _view(api, pid)["entries"] == []
    no_token = c.post(f"/trials/{TRIAL}/participants/{pid}/assessment-preview", data={"date": "2026-06-01"})
    assert no_token.status_code == 403


def test_the_spider_plot_has_a_series_per_target_lesion_and_the_sum_and_a_text_alternative(sqlite_api):
    api = sqlite_api
    pid = _randomized(api)
    for date, l1, l2 in (("2026-05-01", 28, 14), ("2026-06-01", 20, 21)):
        r = api.call("POST", f"{API}/{pid}/assessments", "outcome_assessor",
                     json={"date": date, "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": l1},
                                                                         {"lesion": "L2", "short_axis_mm": l2}]})
        assert r.status_code == 201, r.text
    c = api.client
    sign_in(c, "statistician", PASSWORD)  # blinded: the response is no arm information
    page = _page(c, pid)
    svg = re.search(r'<svg class="chart spider".*?</svg>', page.text, re.DOTALL).group(0)
    assert re.findall(r'data-series="([^"]+)"', svg) == ["L1", "L2", "sum"]
    assert "<title>Change from baseline of each target lesion of P-0001" in svg
    table = re.search(r'<table class="spider-data">.*?</table>', page.text, re.DOTALL).group(0)
    assert table.count("<tr>") == 4 and "-50.0 %" in table and "-31.7 %" in table  # 20/40; 41/60
    assert find_arm_information(page_strings(page.text), ARM_IDS, LABELS) == [] and "dose_gy" not in page.text
