"""The web interface in a real headless Chromium (Debian's ``chromium`` through its
``chromium-driver``, as ``test_report_browser.py`` drives it), against ``oligotrial``'s own
server in a thread on a small STOP-2 demo database.

A coordinator signs in, opens a treated participant, records an adverse event (first with a
grade CTCAE v5.0 does not define for the term: the error is shown beside the grade and nothing
is saved; then a valid one), corrects it with a reason (first without one: refused beside the
reason), opens the entry's history (an htmx fragment: the script is served by oligotrial) and
finds the correction, with its reason, on the audit page; when the session idles out, the next
htmx click leads to the sign-in page (not into the fragment). Screenshots of the dashboard, the
participant page with the inline error, and the audit page are kept under the test's temporary
directory (``OLIGOTRIAL_SCREENSHOTS=DIR`` keeps copies there).

Accessibility: axe-core 4.10.2 (vendored in ``tests/data/axe-core-4.10.2``, no Node.js needed) is
injected into the sign-in page, the dashboard, the participant page (with its inline error),
the correction form and the audit page: no violation of impact serious or critical; the same
check finds one planted on the page (an image without a text alternative).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from browser import chromium
from web_demo import ServerThread, build

AXE = Path(__file__).parents[1] / "data" / "axe-core-4.10.2" / "axe.min.js"
AXE_SHA256 = "b511cd9dec01c76f4b2ad1723b66b6db37d4c2eb4ed199076e1829d9ee7b75e3"
RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map(v => (
  {id: v.id, impact: v.impact, help: v.help, where: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))));
"""


def _axe(driver) -> list[dict]:
    """axe-core's violations on the page now shown, of impact serious or critical."""
    if not driver.execute_script("return typeof axe !== 'undefined'"):
        driver.execute_script(AXE.read_text())
    driver.set_script_timeout(60)
    return [v for v in driver.execute_async_script(RUN_AXE) if v["impact"] in ("serious", "critical")]


def _shot(driver, tmp_path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(900, min(int(height), 6000)))
    assert driver.save_screenshot(str(path)) and path.stat().st_size > 20_000, name
    keep = os.environ.get("OLIGOTRIAL_SCREENSHOTS")
    if keep:
        os.makedirs(keep, exist_ok=True)
        shutil.copy(path, os.path.join(keep, path.name))


def _set(driver, form, name: str, value: str) -> None:
    """Set a form field the way a user leaves it (a date input takes ISO through its value)."""
    from selenium.webdriver.common.by import By

    el = form.find_element(By.NAME, name)
    if el.tag_name == "select":
        from selenium.webdriver.support.ui import Select

        Select(el).select_by_value(value)
    else:
        driver.execute_script("arguments[0].value = arguments[1]", el, value)


def _entry_ids(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [tr.get_attribute("id") for tr in driver.find_elements(By.CSS_SELECTOR, "table.entries tr[id^=entry-]")]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = build(tmp_path_factory.mktemp("webdemo"), patients=6, seed=3)
    yield d
    d.container.dispose()


def test_a_coordinator_records_and_corrects_an_adverse_event_and_sees_it_audited(demo, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from oligotrial.adapters.web.app import create_app

    username, password = demo.accounts["coordinator"]
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == AXE_SHA256
    driver = chromium(tmp_path)
    seen = {}
    wait = WebDriverWait(driver, 15)
    try:
        app = create_app(demo.container)
        with ServerThread(app) as base:
            driver.get(base + "/")
            assert driver.current_url.endswith("/login")
            seen["sign-in"] = _axe(driver)
            driver.find_element(By.ID, "username").send_keys(username)
            driver.find_element(By.ID, "password").send_keys(password)
            driver.find_element(By.CSS_SELECTOR, "form.narrow button").click()
            wait.until(ec.url_contains("/trials"))
            assert "coordinator" in driver.find_element(By.CSS_SELECTOR, "nav .who").text
            assert driver.find_elements(By.CSS_SELECTOR, "svg.chart path.series"), "the recruitment chart"
            _shot(driver, tmp_path, "dashboard")
            seen["dashboard"] = _axe(driver)

            driver.get(f"{base}/trials/{demo.trial}/participants?state=treated")
            driver.find_element(By.CSS_SELECTOR, "table tbody tr td a").click()
            wait.until(ec.presence_of_element_located((By.ID, "ae-form")))
            page_url = driver.current_url
            before = _entry_ids(driver)

            form = driver.find_element(By.ID, "ae-form")
            _set(driver, form, "date", demo.container.ctx.today().isoformat())
            form.find_element(By.NAME, "term").send_keys("Fatigue")
            _set(driver, form, "grade", "5")  # Fatigue is graded 1-3 in CTCAE v5.0
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            error = wait.until(ec.visibility_of_element_located((By.ID, "err-grade")))
            assert "grade" in error.text and "[1, 2, 3]" in error.text, error.text
            assert driver.find_element(By.ID, "f-grade").get_attribute("aria-invalid") == "true"
            assert driver.find_element(By.ID, "f-term").get_attribute("value") == "Fatigue"  # kept as typed
            assert _entry_ids(driver) == before, "a refused entry saves nothing"
            _shot(driver, tmp_path, "participant-inline-error")
            seen["participant page with an error"] = _axe(driver)

            form = driver.find_element(By.ID, "ae-form")
            _set(driver, form, "grade", "2")
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            notice = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "p.notice")))
            assert "Saved: entry" in notice.text
            entry = notice.text.split("entry")[1].strip(" .")
            assert _entry_ids(driver) == [*before, f"entry-{entry}"]
            row = driver.find_element(By.ID, f"entry-{entry}")
            assert "Fatigue, grade 2" in row.text

            row.find_element(By.LINK_TEXT, "correct").click()
            form = wait.until(ec.presence_of_element_located((By.ID, "correct-form")))
            seen["correction form"] = _axe(driver)
            _set(driver, form, "grade", "3")
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            assert "reason" in wait.until(ec.visibility_of_element_located((By.ID, "err-reason"))).text
            form = driver.find_element(By.ID, "correct-form")
            form.find_element(By.NAME, "reason").send_keys("grade re-read from the clinic letter")
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            wait.until(ec.url_contains(f"saved={entry}"))
            row = driver.find_element(By.ID, f"entry-{entry}")
            assert "Fatigue, grade 3" in row.text and "grade re-read from the clinic letter" in row.text

            row.find_element(By.LINK_TEXT, "history").click()  # htmx swaps the fragment in place
            history = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, f"#history-{entry} table")))
            assert driver.current_url.split("#")[0] == page_url.split("#")[0].split("?")[0] + f"?saved={entry}"
            assert "adverse_event.correct" in history.text and "adverse_event.record" in history.text

            driver.find_element(By.LINK_TEXT, "audit trail of this participant").click()
            table = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.audit")))
            rows = [tr.text for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
            assert "adverse_event.correct" in rows[0] and "grade re-read from the clinic letter" in rows[0], rows[:2]
            assert "adverse_event.record" in rows[1]
            driver.find_element(By.CSS_SELECTOR, "form[action$='/audit/verify'] button").click()
            verified = wait.until(ec.visibility_of_element_located((By.ID, "verify-result")))
            assert "The chain is intact" in verified.text
            _shot(driver, tmp_path, "audit")
            seen["audit page"] = _axe(driver)
            driver.execute_script("document.querySelector('main').insertAdjacentHTML('beforeend', "
                                  "'<img src=\"/static/favicon.svg\">')")
            planted = _axe(driver)

            # the session idles out while the page is open: an htmx click leads to the sign-in page
            driver.get(page_url)
            link = wait.until(ec.presence_of_element_located((By.LINK_TEXT, "history")))
            app.state.page_idle_s = -1
            link.click()
            wait.until(ec.url_contains("/login?expired=1"))
            assert "without activity" in driver.find_element(By.CSS_SELECTOR, "p.notice").text
            # every script, stylesheet and icon loaded from oligotrial itself; the only failures the
            # browser saw are the two refused forms (422, as the API answers them)
            logs = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
            assert logs and all("status of 422" in m for m in logs), logs
    finally:
        driver.quit()
    assert all(v == [] for v in seen.values()) and len(seen) == 5, seen
    assert [v["id"] for v in planted] == ["image-alt"], planted
