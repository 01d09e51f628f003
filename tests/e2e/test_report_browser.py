"""The HTML trial report looked at in a real headless Chromium (Debian's ``chromium`` driven
through its ``chromium-driver``): every figure loads, the CONSORT diagram is drawn with its boxes,
and a screenshot is taken (kept under the test's temporary directory). The same check run on a
page with a figure or the diagram taken out fails, so it would catch one going missing."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from browser import chromium
from oligotrial.adapters.cli.main import app

#: what the page must show: (how many figures loaded, how many broken, CONSORT boxes, its text)
CHECK = """
const imgs = Array.from(document.images);
const svg = document.querySelector('svg.consort');
const box = svg ? svg.getBoundingClientRect() : null;
return {
  loaded: imgs.filter(i => i.complete && i.naturalWidth > 100).length,
  broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length,
  km: imgs.filter(i => i.alt.startsWith('Kaplan-Meier')).length,
  consort_boxes: svg ? svg.querySelectorAll('rect').length : 0,
  consort_visible: box ? (box.width > 300 && box.height > 300) : false,
  consort_text: svg ? svg.textContent : '',
};
"""


def _look(driver, url: str) -> dict:
    driver.get(url)
    return driver.execute_script(CHECK)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    res = CliRunner().invoke(app, ["demo", "--trial", "STOP-2", "--patients", "16", "--seed", "5", "--list-seed", "5", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_the_report_page_shows_every_plot_and_the_consort_diagram(report_dir, tmp_path):
    import json

    report = json.loads((report_dir / "report.json").read_text())
    driver = chromium(tmp_path, window="1280,2000")
    try:
        seen = _look(driver, (report_dir / "report.html").as_uri())
        shot = tmp_path / "report.png"
        driver.set_window_size(1280, 4000)
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 50_000
        # a broken figure or a missing diagram: the same check sees it
        page = (report_dir / "report.html").read_text()
        first_img = page.index('src="data:image/png;base64,') + len('src="data:image/png;base64,')
        (tmp_path / "broken.html").write_text(page[:first_img] + "AAAA" + page[first_img + 4:])
        broken = _look(driver, (tmp_path / "broken.html").as_uri())
        start, end = page.index("<svg"), page.index("</svg>") + len("</svg>")
        (tmp_path / "nodiagram.html").write_text(page[:start] + page[end:])
        nodiagram = _look(driver, (tmp_path / "nodiagram.html").as_uri())
    finally:
        driver.quit()
    assert seen["broken"] == 0
    assert seen["km"] == len(report["endpoints"]) >= 2
    assert seen["loaded"] >= len(report["endpoints"]) + 3  # KM plots, forest, two QoL plots, CEAC
    assert seen["consort_visible"] and seen["consort_boxes"] >= 9
    for words in ("Assessed for eligibility", "Randomized", "Allocated to", "Lost to follow-up", "Analysed"):
        assert words in seen["consort_text"], words
    assert broken["broken"] == 1
    assert nodiagram["consort_boxes"] == 0 and not nodiagram["consort_visible"]
