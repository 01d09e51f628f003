"""Data query pages in headless Chromium against oligotrial's own server (a small STOP-2 demo
database): the data manager opens the queries from the dashboard, raises one from the list's
"Raise a query" link (first on a field the entry does not have: refused beside the field, nothing
saved), and lands on the query page; the enrolling oncologist (blinded in STOP-2) reads the
question withheld (written by the unblinded data manager) and answers it naming an arm in
spaced letters: recorded, with the arm-word warning shown to them. axe-core finds no serious or critical violation
on the list, the raise form with its error, and the query page; screenshots are kept (as in
``test_web_browser.py``)."""

from __future__ import annotations

import pytest
from test_web_browser import _axe, _shot

from browser import chromium, sign_in
from oligotrial.domain.trial.blinding import find_arm_information
from oligotrial.protocols import load_protocol
from web_demo import ServerThread, build

STOP2 = load_protocol("STOP-2")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = build(tmp_path_factory.mktemp("querybrowser"), patients=6, seed=3)
    yield d
    d.container.dispose()


def test_a_query_is_raised_and_answered_in_the_browser(demo, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from oligotrial.adapters.web.app import create_app
    from oligotrial.service import queries
    from oligotrial.service.ports import Actor

    driver = chromium(tmp_path)
    wait = WebDriverWait(driver, 15)
    seen = {}
    try:
        with ServerThread(create_app(demo.container)) as base:
            sign_in(driver, wait, base, *demo.accounts["data_manager"])
            assert "Open data queries: 0" in driver.find_element(By.TAG_NAME, "main").text
            driver.find_element(By.LINK_TEXT, "All data queries").click()
            wait.until(ec.url_contains("/queries"))
            seen["query list"] = _axe(driver)
            driver.find_element(By.LINK_TEXT, "Raise a query").click()
            wait.until(ec.presence_of_element_located((By.ID, "raise-form")))
            Select(driver.find_element(By.ID, "n-pick")).select_by_index(1)
            driver.find_element(By.CSS_SELECTOR, "#pick-form button").click()
            wait.until(ec.url_contains("participant="))
            entry = Select(driver.find_element(By.ID, "f-entry"))
            assert len(entry.options) >= 1  # the registered record, and the participant's entries
            driver.find_element(By.ID, "f-field").send_keys("colour")
            driver.find_element(By.ID, "f-text").send_keys("Which colour was the lesion?")
            driver.find_element(By.CSS_SELECTOR, "#raise-form button[type=submit]").click()
            error = wait.until(ec.visibility_of_element_located((By.ID, "err-field")))
            assert "a field of the registered record" in error.text or "entry" in error.text, error.text
            assert driver.find_element(By.ID, "f-field").get_attribute("aria-invalid") == "true"
            assert driver.find_element(By.ID, "f-text").get_attribute("value") == "Which colour was the lesion?"
            dm = Actor(demo.accounts["data_manager"][0], {demo.trial: "data_manager"})
            assert queries.list_queries(demo.container.ctx, dm, demo.trial) == []  # nothing saved
            _shot(driver, tmp_path, "query-raise-error")
            seen["raise form with an error"] = _axe(driver)
            Select(driver.find_element(By.ID, "f-entry")).select_by_value("")
            field = driver.find_element(By.ID, "f-field")
            field.clear()
            field.send_keys("birth_date")
            driver.find_element(By.CSS_SELECTOR, "#raise-form button[type=submit]").click()
            wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "p.notice")))
            url = driver.current_url.split("?")[0]
            seen["query page (data manager)"] = _axe(driver)

            sign_in(driver, wait, base, *demo.accounts["enrolling_oncologist"])
            driver.get(url)
            # the data manager's question is withheld from the blinded site until its raiser releases it
            assert "withheld: written by an unblinded role" in driver.find_element(By.TAG_NAME, "main").text
            assert not find_arm_information(driver.find_element(By.TAG_NAME, "main").text,
                                            [a.id for a in STOP2.arms], [a.label for a in STOP2.arms])
            box = driver.find_element(By.ID, "f-answer-text")
            # arm words are a warning to the writer (issue 26 item 8), not a refusal
            box.send_keys("Checked against the source after the S A B R course: the date is right.")
            driver.find_element(By.CSS_SELECTOR, "#answer-form button[type=submit]").click()
            notice = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "p.notice")))
            assert "answer recorded" in notice.text
            assert "Your text may name an arm" in driver.find_element(By.TAG_NAME, "main").text
            assert "answered" in driver.find_element(By.CSS_SELECTOR, "dl.kv").text
            _shot(driver, tmp_path, "query-answered")
            seen["query page (answered)"] = _axe(driver)
    finally:
        driver.quit()
    assert seen and all(v == [] for v in seen.values()), seen
