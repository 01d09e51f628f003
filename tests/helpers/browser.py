"""Debian's Chromium driven through its chromium-driver (Selenium), for the browser tests.

Browsers cannot be downloaded here, so the tests drive the system one, headless, with the flags
that keep it from stalling on a closed network and a fresh profile per test. Without the two
Debian packages a test skips (saying scripts/browser.sh installs them), and fails under CI=true."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def chromium(tmp_path: Path, *, window: str = "1280,1600"):
    """A headless Chromium WebDriver with its profile under ``tmp_path``."""
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true and Debian's chromium/chromium-driver are not installed (scripts/browser.sh)")
        pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/browser.sh installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", f"--window-size={window}",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(DRIVER), options=opts)


def sign_in(driver, wait, base: str, username: str, password: str) -> None:
    """Sign in through the sign-in form as a fresh browser would (earlier cookies cleared), and
    wait for the trials page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver.delete_all_cookies()
    driver.get(base + "/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form.narrow button").click()
    wait.until(ec.url_contains("/trials"))
