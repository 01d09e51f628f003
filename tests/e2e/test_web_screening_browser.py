"""The screening worklist in a real headless Chromium (Debian's ``chromium`` through its
``chromium-driver``, as ``test_web_browser.py`` drives it) against oligotrial's own server on a
small STOP-2 demo database.

A coordinator opens the worklist from the participant list, loads a shipped example into the
form with the picker, pastes a record without the life-expectancy attestation instead, registers
and screens it: the verdict is ``needs review`` and the undecided criterion comes first with what
would decide it; the coordinator follows its link to the attestation form, answers yes, and the
page shows the verdict change (was needs review, now eligible). axe-core 4.10.2 (vendored) finds
no serious or critical violation on the worklist, the criteria page and the page after the
attestation. Screenshots of the worklist and the criteria page are kept under the test's
temporary directory (``OLIGOTRIAL_SCREENSHOTS=DIR`` keeps copies there).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import shutil
from importlib import resources

import pytest
from test_web_browser import _axe

from browser import chromium
from oligotrial.service.demo_cohort import shift_dates
from web_demo import ServerThread, build

KEY = "life_expectancy_6_months"


def _shot(driver, tmp_path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(900, min(int(height), 6000)))
    assert driver.save_screenshot(str(path)) and path.stat().st_size > 20_000, name
    keep = os.environ.get("OLIGOTRIAL_SCREENSHOTS")
    if keep:
        os.makedirs(keep, exist_ok=True)
        shutil.copy(path, os.path.join(keep, path.name))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = build(tmp_path_factory.mktemp("webscreenbrowser"), patients=4, seed=3)
    yield d
    d.container.dispose()


def test_a_coordinator_screens_a_pasted_record_attests_and_sees_the_verdict_change(demo, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from oligotrial.adapters.web.app import create_app

    today = demo.container.ctx.today()
    shipped = json.loads(resources.files("oligotrial.examples").joinpath("stop2_eligible.json").read_text())
    record = shift_dates(copy.deepcopy(shipped), (today - dt.date.fromisoformat(shipped["as_of"])).days)
    record["id"] = "SCR-BROWSER"
    record["attestations"] = [a for a in record["attestations"] if a["key"] != KEY]
    username, password = demo.accounts["coordinator"]
    driver = chromium(tmp_path)
    seen = {}
    wait = WebDriverWait(driver, 15)
    try:
        with ServerThread(create_app(demo.container)) as base:
            driver.get(base + "/login")
            driver.find_element(By.ID, "username").send_keys(username)
            driver.find_element(By.ID, "password").send_keys(password)
            driver.find_element(By.CSS_SELECTOR, "form.narrow button").click()
            wait.until(ec.url_contains("/trials"))
            driver.get(f"{base}/trials/{demo.trial}/participants")
            driver.find_element(By.LINK_TEXT, "Screening worklist").click()
            wait.until(ec.presence_of_element_located((By.ID, "register-form")))

            # the picker loads a shipped example into the form, its dates moved to today
            Select(driver.find_element(By.ID, "f-example")).select_by_value("stop2_eligible.json")
            driver.find_element(By.CSS_SELECTOR, "#example-form button").click()
            wait.until(ec.url_contains("example=stop2_eligible.json"))
            loaded = json.loads(driver.find_element(By.ID, "f-record").get_attribute("value"))
            assert loaded["id"] == shipped["id"] and loaded["as_of"] == today.isoformat()
            seen["worklist"] = _axe(driver)

            # paste a record the clinician has not yet attested in full
            box = driver.find_element(By.ID, "f-record")
            driver.execute_script("arguments[0].value = arguments[1]", box, json.dumps(record, indent=1))
            driver.find_element(By.CSS_SELECTOR, "#register-form button[type=submit]").click()
            verdict = wait.until(ec.visibility_of_element_located((By.ID, "trial-verdict")))
            assert verdict.text == "needs review"
            first = driver.find_element(By.CSS_SELECTOR, "#criteria tbody tr")
            assert first.get_attribute("id") == "crit-STOP2-IN-06" and "undecided" in first.text
            assert f"attestation {KEY}" in first.text
            seen["criteria page"] = _axe(driver)
            _shot(driver, tmp_path, "screening-criteria")

            first.find_element(By.LINK_TEXT, "attest life expectancy 6 months").click()
            form = driver.find_element(By.CSS_SELECTOR, f"#attest-{KEY} form")
            assert form.find_element(By.NAME, "by").get_attribute("value") == username
            assert form.find_element(By.NAME, "date").get_attribute("value") == today.isoformat()
            form.find_element(By.CSS_SELECTOR, "input[name=value][value=yes]").click()
            by = form.find_element(By.NAME, "by")
            by.clear()
            by.send_keys("Dr Rivera")
            form.find_element(By.NAME, "reason").send_keys("life expectancy assessed in clinic")
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            result = wait.until(ec.visibility_of_element_located((By.ID, "attest-result")))
            assert "was needs review, now eligible" in result.text, result.text
            assert "STOP2-IN-06: was unknown (undecided), now met (passes)" in result.text
            assert driver.find_element(By.ID, "trial-verdict").text == "eligible"
            assert f"Recorded: yes (Dr Rivera, {today.isoformat()})" in driver.find_element(By.ID, f"attest-{KEY}").text
            seen["after the attestation"] = _axe(driver)
            _shot(driver, tmp_path, "screening-attested")

            driver.find_element(By.LINK_TEXT, "screening worklist").click()
            row = wait.until(ec.presence_of_element_located((By.XPATH, "//tr[td/a[text()='SCR-BROWSER']]")))
            assert "eligible" in row.text
            _shot(driver, tmp_path, "screening-worklist")
            logs = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
            assert logs == [], logs
    finally:
        driver.quit()
    assert seen == {page: [] for page in seen} and len(seen) == 3, seen
