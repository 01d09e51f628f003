"""The participant page's data entry in a real headless Chromium (Debian's ``chromium`` through
its ``chromium-driver``), against ``oligotrial``'s own server on a small STOP-2 demo database.

STOP-2's masked outcome assessor types a follow-up scan's diameters into the assessment form:
the live lesion table (an htmx request per pause in typing, answered by the server's RECIST 1.1
engine) shows the sum of diameters and the response, and both change when a diameter is retyped;
the numbers are those :func:`oligotrial.service.lesion_response.preview_assessment` gives for
the same scan, and nothing is saved. The coordinator's page shows the spider plot (one line per
target lesion and the sum) and a lab far outside its plausible range is answered beside the
reason it asks for. axe-core 4.10.2 (vendored) finds no serious or critical violation on either
page; screenshots are kept under the test's temporary directory (``OLIGOTRIAL_SCREENSHOTS=DIR``
keeps copies there).
"""

from __future__ import annotations

import pytest
from test_web_browser import _axe, _set, _shot

from browser import chromium, sign_in
from oligotrial.service import enrolment, lesion_response
from oligotrial.service.ports import Actor
from web_demo import ServerThread, build


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = build(tmp_path_factory.mktemp("webdemo"), patients=3, seed=3)
    yield d
    d.container.dispose()


def _type(el, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    el.send_keys(Keys.CONTROL, "a")
    el.send_keys(Keys.BACKSPACE)
    el.send_keys(text)


def test_typing_diameters_shows_the_servers_sum_and_response_and_the_coordinator_sees_the_spider(demo, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from oligotrial.adapters.web.app import create_app

    ctx, trial = demo.container.ctx, demo.trial
    coord = Actor("c", {trial: "coordinator"})
    oa = Actor("oa", {trial: "outcome_assessor"})
    pid = next(r["id"] for r in enrolment.list_participants(ctx, coord, trial) if r["state"] == "treated")
    view = enrolment.get_participant(ctx, coord, trial, pid)
    nodes = {le["id"] for le in view["record"]["lesions"] if le["kind"] == "lymph_node"}
    spider = lesion_response.spider(ctx, coord, trial, pid)
    base_sizes = {s["id"]: s["points"][0]["size_mm"] for s in spider["series"] if s["id"] != "sum"}
    today = ctx.today().isoformat()

    def expected(sizes):
        findings = [{"lesion": lid, ("short_axis_mm" if lid in nodes else "diameter_mm"): v} for lid, v in sizes.items()]
        return lesion_response.preview_assessment(ctx, oa, trial, pid,
                                                  {"date": today, "modality": "CT", "findings": findings})

    shrunk = {lid: round(v * 0.6) for lid, v in base_sizes.items()}
    grown = {**shrunk, next(iter(shrunk)): round(next(iter(base_sizes.values())) * 3)}
    first, second = expected(shrunk), expected(grown)
    assert first["sum_mm"] != second["sum_mm"] and first["overall"] != second["overall"], (first, second)
    entries_before = len(view["entries"])

    driver = chromium(tmp_path, window="1280,1600")
    wait = WebDriverWait(driver, 20)
    seen = {}
    try:
        with ServerThread(create_app(demo.container)) as base:
            sign_in(driver, wait, base, *demo.accounts["outcome_assessor"])
            driver.get(f"{base}/trials/{trial}/participants/{pid}")
            form = wait.until(ec.presence_of_element_located((By.ID, "assessment-form")))
            _set(driver, form, "date", today)
            _set(driver, form, "modality", "CT")
            for i, (lid, size) in enumerate(shrunk.items()):
                form.find_element(By.NAME, f"findings[{i}].lesion").send_keys(lid)
                field = "short_axis_mm" if lid in nodes else "diameter_mm"
                form.find_element(By.NAME, f"findings[{i}].{field}").send_keys(str(size))
            cell = "#lesion-preview td[data-k='{}']"
            want = f"{first['sum_mm']:g} mm"
            wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, cell.format("sum")), want))
            assert driver.find_element(By.CSS_SELECTOR, cell.format("overall")).text.startswith(first["overall"])
            assert driver.find_element(By.CSS_SELECTOR, cell.format("pct-baseline")).text == \
                f"{first['change_from_baseline_pct']:+.1f} %"
            _shot(driver, tmp_path, "participant-live-lesion-table")
            seen["assessor's page with the live table"] = _axe(driver)

            lid = next(iter(grown))
            field = "short_axis_mm" if lid in nodes else "diameter_mm"
            _type(form.find_element(By.NAME, f"findings[0].{field}"), str(grown[lid]))
            wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, cell.format("sum")),
                                                        f"{second['sum_mm']:g} mm"))
            assert driver.find_element(By.CSS_SELECTOR, cell.format("overall")).text.startswith(second["overall"])
            assert len(enrolment.get_participant(ctx, coord, trial, pid)["entries"]) == entries_before  # nothing saved

            sign_in(driver, wait, base, *demo.accounts["coordinator"])
            driver.get(f"{base}/trials/{trial}/participants/{pid}")
            svg = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "svg.spider")))
            series = [g.get_attribute("data-series") for g in svg.find_elements(By.CSS_SELECTOR, "g[data-series]")]
            assert series == [s["id"] for s in spider["series"]]
            driver.find_element(By.CSS_SELECTOR, "#lab-details summary").click()
            form = driver.find_element(By.ID, "lab-form")
            _set(driver, form, "date", today)
            _set(driver, form, "test", "hemoglobin")
            _set(driver, form, "unit", "g/L")
            form.find_element(By.NAME, "value").send_keys("11.8")
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            error = wait.until(ec.visibility_of_element_located((By.ID, "err-lab-unusual_value_reason")))
            assert "plausible range 30-250 g/L" in error.text
            assert driver.find_element(By.ID, "f-lab-unusual_value_reason").get_attribute("aria-invalid") == "true"
            driver.execute_script("document.getElementById('response').scrollIntoView()")
            _shot(driver, tmp_path, "participant-coordinator")
            seen["coordinator's page with the lab warning"] = _axe(driver)

            # a randomized participant: the radiotherapy form, a course outside the arm refused
            new = _randomized(ctx, coord, trial)
            driver.get(f"{base}/trials/{trial}/participants/{new}")
            form = wait.until(ec.presence_of_element_located((By.ID, "rt-form")))
            _set(driver, form, "start", "2026-03-10")
            _set(driver, form, "end", "2026-04-20")
            form.find_element(By.NAME, "dose_gy").send_keys("70")
            form.find_element(By.NAME, "fractions").send_keys("35")
            _set(driver, form, "technique", "IMRT")
            form.find_element(By.NAME, "lesion.L1").click()
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            error = wait.until(ec.visibility_of_element_located((By.ID, "err-rt-dose_gy")))
            assert "total dose 70" in error.text
            assert driver.find_element(By.ID, "err-rt-override_reason").is_displayed()
            assert enrolment.get_participant(ctx, coord, trial, new)["radiotherapy"] is None
            driver.execute_script("document.getElementById('radiotherapy').scrollIntoView()")
            _shot(driver, tmp_path, "participant-radiotherapy-refused")
            seen["radiotherapy refused beside its fields"] = _axe(driver)
            logs = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
            assert all("status of 422" in m for m in logs), logs  # only the lab and the course held
    finally:
        driver.quit()
    assert seen == {k: [] for k in seen} and len(seen) == 3, seen


def _randomized(ctx, coord, trial) -> str:
    """The shared example record registered, consented, enrolled (with a reason where the real
    screening finds it ineligible) and randomized, by the services."""
    import json
    from pathlib import Path

    from oligotrial.service import randomization

    record = json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text())
    pid = enrolment.register(ctx, coord, trial, {**record, "id": "B-0001", "events": []})["id"]
    enrolment.screen(ctx, coord, trial, pid)
    # consented before the course the test records (start 2026-03-10): nothing that needs consent precedes it
    enrolment.consent(ctx, coord, trial, pid, {"date": "2026-03-01", "form_version": "v2"})
    verdict = enrolment.get_participant(ctx, coord, trial, pid)["screening"]["verdict"]
    enrolment.enrol(ctx, coord, trial, pid, {} if verdict == "eligible" else
                    {"override": {"reason": "browser test: enrolled against the verdict"}})
    randomization.randomize(ctx, coord, trial, pid, {})
    return pid
