"""Blinding is a property of every page: signed in as each role of each of the five trials (a
small demo database of each), a crawler follows every link, GET form and htmx ``hx-get`` reachable from ``/`` and
scans each page's strings (text and attribute values) and each download with
``find_arm_information``: nothing for a blinded role; and no page answers with a server error.

The same scan finds the arm on the coordinator's pages (the arm's label on a randomized
participant's timeline), so the check is not vacuous; and a page with the arm planted in it is
caught. STOP-2 blinds the enrolling oncologist, the statistician and the outcome assessor;
HCC-OPD the outcome assessor; the other three are open (the roles' pages must still answer
without an error and offer nothing they refuse).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlencode, urljoin, urlsplit

import pytest
from web_demo import build, sign_in

from oligotrial.domain.trial.blinding import find_arm_information, is_blinded
from oligotrial.protocols import load_protocol

STOP2 = load_protocol("STOP-2")
ARM_IDS = [a.id for a in STOP2.arms]
LABELS = [a.label for a in STOP2.arms]
TRIALS = ["STOP-2", "HCC-OPD", "OPPRESS", "ORES-NSCLC", "LDRT-IO"]
ROLES = ["enrolling_oncologist", "statistician", "outcome_assessor", "coordinator", "data_manager",
         "treating_oncologist", "dsmb", "admin"]
#: how many pages of one shape (the path with its ids replaced) the crawl opens per role: every
#: kind of page is opened for several participants and entries, and the crawl stays bounded
PER_SHAPE = 6


class _Page(HTMLParser):
    """A page's strings (each text node and attribute value, whole) and where it leads: links,
    htmx GETs, and GET forms submitted with their default values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.strings: list[str] = []
        self.links: list[str] = []
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.strings += [v.strip() for v in a.values() if v and v.strip()]
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if a.get("hx-get"):
            self.links.append(a["hx-get"] + "#hx")
        if tag == "form" and (a.get("method") or "get").lower() == "get":
            self._form = {"action": a.get("action") or "", "fields": {}}
        if self._form is not None and tag in ("input", "select") and a.get("name"):
            self._form["fields"].setdefault(a["name"], a.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form" and self._form is not None:
            self.links.append(self._form["action"] + "?" + urlencode(self._form["fields"]))
            self._form = None

    def handle_data(self, data):
        if data.strip():
            self.strings.append(data.strip())


def _shape(path: str) -> str:
    parts = urlsplit(path)
    segs = ["{id}" if len(s) >= 16 or s.isdigit() else s for s in parts.path.split("/")]
    return "/".join(segs) + ("?" + "&".join(sorted(k.split("=")[0] for k in parts.query.split("&"))) if parts.query else "")


def crawl(client, budget_s: float = 40.0):
    """Every page reachable from ``/`` (bounded per shape and in time): (url, status, strings or
    the download's JSON, content type) for each."""
    seen, shapes, out = set(), {}, []
    queue = deque(["/"])
    start = time.monotonic()
    while queue and time.monotonic() - start < budget_s:
        url = queue.popleft()
        path, frag = urldefrag(url)
        url = path + ("#hx" if frag == "hx" else "")  # an anchor (#entry-3) is the same page
        if url in seen or not path.startswith("/") or path.startswith(("/static/", "/api/")):
            continue
        if path in ("/docs", "/openapi.json"):
            continue  # the API's documentation: the same for everyone, no trial data
        shape = _shape(path) + ("#hx" if frag == "hx" else "")
        if shapes.get(shape, 0) >= PER_SHAPE:
            continue
        seen.add(url)
        shapes[shape] = shapes.get(shape, 0) + 1
        r = client.get(path, headers={"HX-Request": "true"} if frag == "hx" else {})
        ctype = r.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            out.append((path, r.status_code, r.json(), ctype))
            continue
        if ctype.startswith("text/csv"):  # a download: each cell (an arm id is a cell of its own)
            out.append((path, r.status_code, [cell for row in csv.reader(io.StringIO(r.text)) for cell in row], ctype))
            continue
        page = _Page()
        page.feed(r.text)
        out.append((path, r.status_code, page.strings, ctype))
        for link in page.links:
            queue.append(urljoin(path, link))
    return out


_DEMOS: dict = {}


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    yield _DEMOS
    for d in _DEMOS.values():
        d.container.dispose()
    _DEMOS.clear()


def _demo(demos, tmp_path_factory, trial: str):
    """The trial's demo database, built once for all its roles (STOP-2 larger: the crawl's main case)."""
    if trial not in demos:
        small = {} if trial == "STOP-2" else {"patients": 6, "seed": 7}
        demos[trial] = build(tmp_path_factory.mktemp(f"webdemo-{trial}"), trial=trial, **small)
    return demos[trial]


def _client(demo, role):
    from fastapi.testclient import TestClient

    from oligotrial.adapters.web.app import create_app

    client = TestClient(create_app(demo.container), raise_server_exceptions=False)
    username, password = demo.accounts[role]
    r = sign_in(client, username, password)
    assert r.status_code == 200 and r.url.path == "/trials", (role, r.status_code, r.url)
    return client


@pytest.mark.parametrize("trial", TRIALS)
@pytest.mark.parametrize("role", ROLES)
def test_every_page_a_role_reaches_answers_and_a_blinded_role_sees_no_arm(demos, tmp_path_factory, trial, role):
    demo = _demo(demos, tmp_path_factory, trial)
    protocol = load_protocol(trial)
    arm_ids, labels = [a.id for a in protocol.arms], [a.label for a in protocol.arms]
    pages = crawl(_client(demo, role))
    urls = [u for u, *_ in pages]
    assert len(pages) >= 3, urls
    assert all(status < 500 for _, status, *_ in pages), [(u, s) for u, s, *_ in pages if s >= 500]
    # the pages offer only what the role may open: no link leads to a refusal
    assert all(status < 400 for _, status, *_ in pages), [(u, s) for u, s, *_ in pages if s >= 400]
    found = {u: find_arm_information(body, arm_ids, labels) for u, _, body, _ in pages}
    found = {u: f for u, f in found.items() if f}
    blinded = is_blinded(protocol.masking.blinded_roles, role)
    if blinded:
        assert found == {}, (role, found)
        # the radiotherapy actually delivered tells the arm: a blinded role never sees its dose
        assert not any("dose_gy" in json.dumps(body) for _, _, body, _ in pages), role
    if role in ("enrolling_oncologist", "coordinator", "data_manager", "treating_oncologist", "outcome_assessor",
                "statistician", "dsmb"):
        assert any("/participants/" in u for u in urls), (role, urls)  # the crawl reached participants
    if role == "coordinator" and len(protocol.arms) > 1:
        assert found, "the coordinator sees arms: the scan would find one"
        assert any(u.endswith("/report") for u in urls) and any("/audit" in u for u in urls)
        assert any(u.endswith("/exports/adtte.csv") for u in urls) and any(u.endswith(".csv") for u in found)


def test_the_scan_catches_an_arm_planted_in_a_page():
    page = _Page()
    page.feed('<p>Randomized</p><td>sabr</td><span title="Experimental Arm (SABR)">x</span>')
    assert find_arm_information(page.strings, ARM_IDS, LABELS) == ["$[1]", "$[2]"]
