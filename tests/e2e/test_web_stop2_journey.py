"""Issue 20's acceptance walk: a coordinator runs one patient through STOP-2 in a real headless
Chromium (Debian's ``chromium`` through ``chromium-driver``) against oligotrial's own server, on
a small STOP-2 demo database whose clock the test moves through the trial's calendar.

Signed in as the coordinator, with every step taken by clicking the pages' links and forms:
the dashboard; the screening worklist (opened from the navigation); a pasted record without the
clinician's life-expectancy attestation screens as needs review; the attestation makes it
eligible; consent and enrolment from the same page; the participant page (its link); a
confirmed randomization showing the arm (the coordinator is not blinded in STOP-2); the
radiotherapy course of that arm (STOP-2's registry: "SABR" vs "8 Gy in 1 fraction"), checked
against the arm; the first follow-up visit, recorded on its target day; an adverse event; its
correction with a reason. STOP-2 masks outcome assessors, and its masked assessor alone records
tumour assessments (the coordinator is offered no assessment form and a POST of one is refused):
the test signs in as the outcome assessor for that one step and the live lesion table answers
while the diameters are typed, then the coordinator is back. The audit page shows the
correction with its reason, and every step before it; its chain verifies.

axe-core 4.10.2 (vendored) finds no serious or critical violation on each page of the walk;
screenshots of the dashboard, the worklist, the screening page and the participant page are kept
(``OLIGOTRIAL_SCREENSHOTS=DIR`` keeps copies there; scripts/test.sh sets it to
test-artifacts/screenshots).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from importlib import resources

import pytest
from test_web_browser import _axe, _set, _shot

from browser import chromium, sign_in
from oligotrial.service.demo import _regimen_course
from oligotrial.service.demo_cohort import shift_dates
from trialops_e2e import StudyClock
from web_demo import ServerThread, build

KEY = "life_expectancy_6_months"


@pytest.fixture(scope="module")
def clock():
    """The server's clock: today, 09:00 UTC; it moves only when the walk moves it."""
    return StudyClock(dt.datetime.now(dt.UTC).replace(hour=9, minute=0, second=0, microsecond=0))


@pytest.fixture(scope="module")
def demo(tmp_path_factory, clock):
    d = build(tmp_path_factory.mktemp("webjourney"), patients=4, seed=11, clock=clock)
    yield d
    d.container.dispose()


def _submit(form):
    """Submit ``form`` and wait until the browser has left its page (the form is stale): what the
    test reads next is the answer to the post, never the page it was posted from."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(form.parent, 20).until(_left(form))


def _left(element):
    """``ec.staleness_of``, also when ChromeDriver answers mid-navigation with "Node with given id
    does not belong to the document" (an unknown error, not a stale reference: seen once in CI)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    def gone(_driver) -> bool:
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    return gone


def test_a_coordinator_runs_a_patient_through_stop2_in_the_browser(demo, clock, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from oligotrial.adapters.web.app import create_app

    ctx, trial = demo.container.ctx, demo.trial
    protocol = ctx.load_protocol(trial)
    today = ctx.today()
    shipped = json.loads(resources.files("oligotrial.examples").joinpath("stop2_eligible.json").read_text())
    record = shift_dates(copy.deepcopy(shipped), (today - dt.date.fromisoformat(shipped["as_of"])).days)
    record["id"] = "STOP2-WALK-01"
    record["attestations"] = [a for a in record["attestations"] if a["key"] != KEY]
    lesions = [le["id"] for le in record["lesions"]]
    nodes = {le["id"] for le in record["lesions"] if le["kind"] == "lymph_node"}
    coordinator, assessor = demo.accounts["coordinator"], demo.accounts["outcome_assessor"]

    driver = chromium(tmp_path, window="1280,1600")
    wait = WebDriverWait(driver, 20)
    seen: dict[str, list] = {}
    try:
        with ServerThread(create_app(demo.container)) as base:
            # sign in: the dashboard
            sign_in(driver, wait, base, *coordinator)
            assert "STOP-2: coordinator" in driver.find_element(By.CSS_SELECTOR, "nav .who").text
            _shot(driver, tmp_path, "journey-1-dashboard")
            seen["dashboard"] = _axe(driver)

            # screen: the worklist from the navigation, a pasted record
            driver.find_element(By.CSS_SELECTOR, f"nav a[href='/trials/{trial}/screening']").click()
            box = wait.until(ec.presence_of_element_located((By.ID, "f-record")))
            _shot(driver, tmp_path, "journey-2-worklist")
            seen["worklist"] = _axe(driver)
            driver.execute_script("arguments[0].value = arguments[1]", box, json.dumps(record, indent=1))
            driver.find_element(By.CSS_SELECTOR, "#register-form button[type=submit]").click()
            verdict = wait.until(ec.visibility_of_element_located((By.ID, "trial-verdict")))
            assert verdict.text == "needs review"
            first = driver.find_element(By.CSS_SELECTOR, "#criteria tbody tr")
            assert first.get_attribute("id") == "crit-STOP2-IN-06" and "undecided" in first.text

            # attest: the verdict changes
            first.find_element(By.LINK_TEXT, "attest life expectancy 6 months").click()
            form = driver.find_element(By.CSS_SELECTOR, f"#attest-{KEY} form")
            form.find_element(By.CSS_SELECTOR, "input[name=value][value=yes]").click()
            form.find_element(By.NAME, "reason").send_keys("life expectancy assessed at the tumour board")
            _submit(form)
            result = wait.until(ec.visibility_of_element_located((By.ID, "attest-result")))
            assert "was needs review, now eligible" in result.text, result.text
            _shot(driver, tmp_path, "journey-3-screening-attested")
            seen["screening page after the attestation"] = _axe(driver)

            # consent and enrol from the same page
            form = driver.find_element(By.ID, "consent-form")
            _set(driver, form, "date", today.isoformat())
            form.find_element(By.NAME, "form_version").send_keys("v3.1")
            _submit(form)
            form = wait.until(ec.presence_of_element_located((By.ID, "enrol-form")))
            assert not form.find_elements(By.NAME, "override_reason")  # eligible: no deviation to document
            _submit(form)
            wait.until(ec.presence_of_element_located((By.LINK_TEXT, "participant page"))).click()

            # randomize: refused without the confirmation, then the arm is shown to the coordinator
            form = wait.until(ec.presence_of_element_located((By.ID, "randomize-form")))
            assert "cannot be undone" in form.text
            _submit(form)
            assert "confirm" in wait.until(ec.visibility_of_element_located((By.ID, "err-confirm"))).text
            form = driver.find_element(By.ID, "randomize-form")
            form.find_element(By.ID, "f-confirm").click()
            _submit(form)
            arm_line = wait.until(ec.presence_of_element_located((By.XPATH, "//li[@id='randomize']//p[starts-with(., 'Arm:')]")))
            arm = next(a for a in protocol.arms if a.label in arm_line.text)
            page_url = driver.current_url.split("#")[0].split("?")[0]
            pid = page_url.rstrip("/").rsplit("/", 1)[1]

            # radiotherapy: the arm's own regimen, over the days after randomization
            course = _regimen_course(protocol, arm.id)
            assert course is not None, arm.id  # both STOP-2 arms give radiotherapy
            start = today + dt.timedelta(days=3)
            end = start + dt.timedelta(days=max(0, 2 * (course["fractions"] - 1)))
            clock.set(end.isoformat())
            driver.get(page_url)
            form = wait.until(ec.presence_of_element_located((By.ID, "rt-form")))
            _set(driver, form, "start", start.isoformat())
            _set(driver, form, "end", end.isoformat())
            form.find_element(By.NAME, "dose_gy").send_keys(f"{course['dose_gy']:g}")
            form.find_element(By.NAME, "fractions").send_keys(str(course["fractions"]))
            _set(driver, form, "technique", course["technique"])
            for lid in lesions:
                form.find_element(By.NAME, f"lesion.{lid}").click()
            _submit(form)
            rt = wait.until(ec.presence_of_element_located(
                (By.XPATH, "//li[@id='radiotherapy']//p[starts-with(., 'Prescription check')]")))
            assert "a protocol deviation" not in rt.text, rt.text
            assert not driver.find_elements(By.ID, "rt-form")  # recorded once

            # a visit on its target day
            row = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "tr[id^=visit-]")))
            code = row.get_attribute("id").removeprefix("visit-")
            target = dt.date.fromisoformat(row.find_elements(By.TAG_NAME, "td")[1].text)
            clock.set(target.isoformat())
            driver.get(page_url)
            row = wait.until(ec.presence_of_element_located((By.ID, f"visit-{code}")))
            row.find_element(By.TAG_NAME, "summary").click()
            form = row.find_element(By.CSS_SELECTOR, "form.visit-form")
            _set(driver, form, "date", target.isoformat())
            _submit(form)
            row = wait.until(ec.presence_of_element_located((By.ID, f"visit-{code}")))
            assert target.isoformat() in row.text and "done" in row.text, row.text

            # STOP-2 masks its outcome assessors: the coordinator has no assessment form
            assert not driver.find_elements(By.ID, "assessment-form")
            sign_in(driver, wait, base, *assessor)
            driver.get(page_url)
            form = wait.until(ec.presence_of_element_located((By.ID, "assessment-form")))
            _set(driver, form, "date", target.isoformat())
            _set(driver, form, "modality", "CT")
            sizes = {"L1": 11, "L2": 15, "L3": 9}
            for i, lid in enumerate(lesions):
                form.find_element(By.NAME, f"findings[{i}].lesion").send_keys(lid)
                field = "short_axis_mm" if lid in nodes else "diameter_mm"
                form.find_element(By.NAME, f"findings[{i}].{field}").send_keys(str(sizes[lid]))
            wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#lesion-preview td[data-k='sum']"), "mm"))
            seen["assessor's page, live lesion table"] = _axe(driver)
            form = driver.find_element(By.ID, "assessment-form")
            _submit(form)
            notice = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "p.notice")))
            assert "Saved: entry" in notice.text
            assert arm.label not in driver.find_element(By.TAG_NAME, "main").text  # the assessor stays masked

            # the coordinator again: an adverse event, then its correction with a reason
            sign_in(driver, wait, base, *coordinator)
            driver.get(page_url)
            form = wait.until(ec.presence_of_element_located((By.ID, "ae-form")))
            _set(driver, form, "date", target.isoformat())
            form.find_element(By.NAME, "term").send_keys("Fatigue")
            _set(driver, form, "grade", "1")
            _submit(form)
            notice = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "p.notice")))
            entry = notice.text.split("entry")[1].strip(" .")
            row = driver.find_element(By.ID, f"entry-{entry}")
            assert "Fatigue, grade 1" in row.text
            row.find_element(By.LINK_TEXT, "correct").click()
            form = wait.until(ec.presence_of_element_located((By.ID, "correct-form")))
            _set(driver, form, "grade", "2")
            form.find_element(By.NAME, "reason").send_keys("grade re-read from the nursing note")
            _submit(form)
            wait.until(ec.url_contains(f"saved={entry}"))
            assert "Fatigue, grade 2" in driver.find_element(By.ID, f"entry-{entry}").text
            driver.execute_script("window.scrollTo(0, 0)")
            _shot(driver, tmp_path, "journey-4-participant")
            seen["participant page"] = _axe(driver)
            text = driver.find_element(By.TAG_NAME, "main").text
            assert arm.label in text and "Fatigue, grade 2" in text and "RECIST" in text
            rt_text = driver.find_element(By.ID, "radiotherapy").text
            assert ", ".join(lesions) in rt_text and "[" not in rt_text  # a list read as words, not JSON
            enrol_text = driver.find_element(By.ID, "enrol").text
            assert f"{today.isoformat()} 09:00 UTC" in enrol_text and "T09:00" not in enrol_text
            assert "none (enrolled on the verdict)" in enrol_text and "not recorded" not in enrol_text

            # the audit page of this participant: the correction with its reason, and the walk before it
            driver.find_element(By.LINK_TEXT, "audit trail of this participant").click()
            table = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.audit")))
            rows = [tr.text for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
            assert "adverse_event.correct" in rows[0] and "grade re-read from the nursing note" in rows[0], rows[:2]
            assert "grade: 1 → 2" in rows[0]  # what changed, before the whole records
            actions = " ".join(rows)
            for action in ("participant.register", "participant.screen", "participant.correct", "participant.consent",
                           "participant.enrol", "participant.randomize", "adverse_event.record"):
                assert action in actions, (action, rows)
            driver.find_element(By.CSS_SELECTOR, "form[action$='/audit/verify'] button").click()
            assert "The chain is intact" in wait.until(ec.visibility_of_element_located((By.ID, "verify-result"))).text
            _shot(driver, tmp_path, "journey-5-audit")
            seen["audit page"] = _axe(driver)
            logs = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
            assert all("status of 422" in m for m in logs), logs  # only the unconfirmed randomization
    finally:
        driver.quit()
    assert seen == {k: [] for k in seen} and len(seen) == 6, seen

    # what the pages did is what the services hold
    from oligotrial.service import enrolment
    from oligotrial.service.ports import Actor

    view = enrolment.get_participant(ctx, Actor("check", {trial: "coordinator"}), trial, pid)
    assert view["external_id"] == "STOP2-WALK-01" and view["allocation"]["arm_label"] == arm.label
    assert view["radiotherapy"]["dose_gy"] == course["dose_gy"] and view["radiotherapy"]["fractions"] == course["fractions"]
    kinds = sorted(e["kind"] for e in view["entries"] if e["status"] == "active")
    assert "assessment" in kinds and "adverse_event" in kinds, kinds
    assert any(v["code"] == code and v["actual"] == target.isoformat() for v in view["visits"])
