"""The account page and the emergency unblinding page in a real headless Chromium (as
``test_web_browser.py``): the administrator resets a password (first a short one: the error is
shown beside the new-password field), and a treating oncologist opens the unblinding page and
gives a wrong password (the error beside the password field), then the right one (the arm shown). axe-core finds no violation of
impact serious or critical on either page, before or with the error; screenshots are kept under
the test's temporary directory (``OLIGOTRIAL_SCREENSHOTS=DIR`` keeps copies there)."""

from __future__ import annotations

from test_web_browser import _axe, _shot

from browser import chromium, sign_in
from oligotrial.protocols import load_protocol
from trialops_e2e import PASSWORD, TRIAL
from web_demo import ServerThread


def test_the_account_and_unblinding_pages_show_errors_beside_their_fields_and_pass_axe(sqlite_api, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    pid = sqlite_api.enrolled(1)
    assert sqlite_api.call("POST", f"/api/v1/trials/{TRIAL}/participants/{pid}/randomize", "coordinator",
                           json={}).status_code == 200
    driver = chromium(tmp_path)
    wait = WebDriverWait(driver, 15)
    seen = {}
    try:
        with ServerThread(sqlite_api.client.app) as base:
            sign_in(driver, wait, base, "admin", PASSWORD)
            driver.get(base + "/admin/users")
            assert driver.find_element(By.TAG_NAME, "h1").text == "User accounts"
            seen["accounts"] = _axe(driver)
            form = driver.find_element(By.ID, "password-form")
            Select(form.find_element(By.NAME, "username")).select_by_value("dsmb")
            form.find_element(By.NAME, "password").send_keys("short")
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            error = wait.until(ec.visibility_of_element_located((By.ID, "err-password-password")))
            assert "at least 8 characters" in error.text, error.text
            field = driver.find_element(By.ID, "f-password-password")
            assert field.get_attribute("aria-invalid") == "true" and field.get_attribute("value") == ""
            _shot(driver, tmp_path, "accounts-inline-error")
            seen["accounts with an error"] = _axe(driver)

            form = driver.find_element(By.ID, "password-form")
            form.find_element(By.NAME, "password").send_keys("long-enough-now")
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            notice = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "p.notice")))
            assert notice.text == "Done: reset the password of dsmb."
            _shot(driver, tmp_path, "accounts-done")

            sign_in(driver, wait, base, "treating_oncologist", PASSWORD)
            driver.get(f"{base}/trials/{TRIAL}/participants/{pid}/unblind")
            seen["unblinding"] = _axe(driver)
            driver.find_element(By.ID, "f-reason").send_keys("anaphylaxis in the emergency room")
            driver.find_element(By.ID, "f-password").send_keys("not-my-password")
            driver.find_element(By.CSS_SELECTOR, "#unblind-form button").click()
            error = wait.until(ec.visibility_of_element_located((By.ID, "err-password")))
            assert "re-authentication failed" in error.text
            _shot(driver, tmp_path, "unblinding-wrong-password")
            seen["unblinding with an error"] = _axe(driver)
            driver.find_element(By.ID, "f-password").send_keys(PASSWORD)
            driver.find_element(By.CSS_SELECTOR, "#unblind-form button").click()
            shown = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "section.unblinded strong")))
            assert shown.text in {a.label for a in load_protocol("STOP-2").arms}
            _shot(driver, tmp_path, "unblinding-arm-shown")
            seen["unblinding result"] = _axe(driver)
    finally:
        driver.quit()
    assert all(v == [] for v in seen.values()), seen
