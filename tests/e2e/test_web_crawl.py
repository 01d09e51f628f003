"""Blinding is a property of every page: signed in as each role of each of the five trials (a
small demo database of each), a crawler follows every link, GET form and htmx ``hx-get`` reachable from ``/`` and
scans each page's strings (text and attribute values) and each download with
``find_arm_information``: nothing for a blinded role; and no page answers with a server error.

The same scan finds the arm on the coordinator's pages (the arm's label on a randomized
participant's timeline), so the check is not vacuous; and a page with the arm planted in it is
caught. STOP-2 blinds the enrolling oncologist, the statistician and the outcome assessor;
HCC-OPD the outcome assessor; the other three are open (the roles' pages must still answer
without an error and offer nothing they refuse).

Not only arm names: in each blinded trial the demo has a participant per arm living the same life
(``web_demo.add_twins``), and every masked role must see them alike (issue 25): the same keys,
value types, states, statuses, entry kinds, visit codes and dates in the API's JSON, the same
sections, forms, rows and labels on the participant page and the participant list. The same
comparison finds the arm, the radiotherapy and the toxicity visit for HCC-OPD's coordinator.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
import time
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin

import pytest

from oligotrial.domain.trial.blinding import find_arm_information, is_blinded
from oligotrial.protocols import load_protocol
from page_crawl import PageReader as _Page
from page_crawl import path_shape as _shape
from web_demo import add_twins, build, sign_in

STOP2 = load_protocol("STOP-2")
ARM_IDS = [a.id for a in STOP2.arms]
LABELS = [a.label for a in STOP2.arms]
TRIALS = ["STOP-2", "HCC-OPD", "OPPRESS", "ORES-NSCLC", "LDRT-IO"]
ROLES = ["enrolling_oncologist", "statistician", "outcome_assessor", "coordinator", "data_manager",
         "treating_oncologist", "dsmb", "admin"]
#: how many pages of one shape (the path with its ids replaced) the crawl opens per role: every
#: kind of page is opened for several participants and entries, and the crawl stays bounded
PER_SHAPE = 6


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
        if load_protocol(trial).masking.blinded_roles:  # a participant per arm living the same life
            demos[trial].twins = add_twins(demos[trial])
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


# ---- the same participant in each arm, as a masked role sees them -------------------------------

#: the masked roles of the two blinded trials (NCT06918951 "Masking: Triple (Participant, Care
#: Provider, Outcomes Assessor)", blinded_roles enrolling oncologist, statistician, outcome
#: assessor; NCT06592612 "Masking: Single (Outcomes Assessor)")
MASKED = [("STOP-2", "enrolling_oncologist"), ("STOP-2", "statistician"), ("STOP-2", "outcome_assessor"),
          ("HCC-OPD", "outcome_assessor")]
#: values compared as they are, not only by type: what happens to a participant (states, visit
#: and entry statuses, entry kinds, visit codes, labels, anchors and forms, the arm where shown)
CATEGORICAL = frozenset({"state", "status", "kind", "code", "label", "anchor", "forms", "verdict", "arm",
                         "arm_label"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def view_shape(obj, key=None):
    """A participant's JSON view reduced to its shape: the keys, each value's type, and the
    categorical values (:data:`CATEGORICAL`) and dates as they are."""
    if isinstance(obj, dict):
        return {k: view_shape(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [view_shape(v, key) for v in obj]
    if key in CATEGORICAL or (isinstance(obj, str) and _DATE.fullmatch(obj)):
        return obj
    return type(obj).__name__


def shape_differences(a, b, path="$"):
    """The JSON paths where two shapes differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in ([f"{path}.{k}: only in {'the first' if k in a else 'the second'}"] if (k in a) != (k in b)
                          else shape_differences(a[k], b[k], f"{path}.{k}"))]
    if isinstance(a, list) and isinstance(b, list):
        out = [f"{path}: {len(a)} items against {len(b)}"] if len(a) != len(b) else []
        return out + [d for i, (x, y) in enumerate(zip(a, b)) for d in shape_differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} against {b!r}"]


class _Skeleton(HTMLParser):
    """A page's structure: each element with its attributes and each text, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tokens.append(f"<{tag} " + " ".join(f"{k}={v!r}" for k, v in sorted(attrs, key=lambda x: x[0])) + ">")

    def handle_data(self, data):
        if data.strip():
            self.tokens.append(" ".join(data.split()))


def page_skeleton(html: str, own: list[str]) -> list[str]:
    """The page's structure with what names this participant (its ids, its own id) and every
    number (entry ids, randomization numbers, dates) blanked."""
    page = _Skeleton()
    page.feed(html)
    out = []
    for tok in page.tokens:
        for s in own:
            tok = tok.replace(s, "<participant>")
        out.append(re.sub(r"\d+", "#", re.sub(r"[A-Za-z0-9_-]{16,}", "<id>", tok)))
    return out


def masked_differences(client, demo, username: str, password: str) -> list[str]:
    """What the signed-in masked role sees differently of the twins (a participant per arm living
    the same life): their API JSON's shape, their participant page's structure, their row of the
    participant list."""
    token = client.post("/api/v1/auth/token", data={"username": username, "password": password}).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    (arm_a, a), (arm_b, b) = sorted(demo.twins.items())[:2]
    views = {pid: client.get(f"/api/v1/trials/{demo.trial}/participants/{pid}", headers=bearer) for pid in (a, b)}
    assert all(r.status_code == 200 for r in views.values()), [(r.status_code, r.text[:200]) for r in views.values()]
    out = [f"API {d}" for d in shape_differences(view_shape(views[a].json()), view_shape(views[b].json()))]
    pages = {}
    for pid in (a, b):
        r = client.get(f"/trials/{demo.trial}/participants/{pid}")
        assert r.status_code == 200, r.status_code
        pages[pid] = page_skeleton(r.text, [pid, views[pid].json()["external_id"]])
    out += [f"page {line}" for line in difflib.unified_diff(pages[a], pages[b], arm_a, arm_b, n=1, lineterm="")]
    listing = client.get(f"/trials/{demo.trial}/participants").text
    rows = {pid: next((line for line in listing.split("<tr>") if f"/participants/{pid}" in line), "") for pid in (a, b)}
    rows = {pid: page_skeleton(row, [pid, views[pid].json()["external_id"]]) for pid, row in rows.items()}
    out += [f"list {line}" for line in difflib.unified_diff(rows[a], rows[b], arm_a, arm_b, n=0, lineterm="")]
    return out


@pytest.mark.parametrize(("trial", "role"), MASKED)
def test_a_masked_role_sees_a_participant_the_same_whichever_the_arm(demos, tmp_path_factory, trial, role):
    """Issue 25: "A masked role sees no entry, visit (scheduled or waiting), form, date, state or
    status that exists in one arm only". Two participants of different arms living the same life
    look the same to every masked role: the same keys, value types, states, statuses, entry kinds
    and visit codes in the API, the same sections, forms, rows and labels on the page."""
    demo = _demo(demos, tmp_path_factory, trial)
    protocol = load_protocol(trial)
    assert is_blinded(protocol.masking.blinded_roles, role)
    assert len(demo.twins) == len(protocol.arms) >= 2
    found = masked_differences(_client(demo, role), demo, *demo.accounts[role])
    assert found == [], "\n".join(found)


def test_the_twins_differ_for_the_coordinator_so_the_comparison_is_not_vacuous(demos, tmp_path_factory):
    """The coordinator sees the arm (and in NCT06592612 the SBRT arm's radiotherapy and its
    toxicity visit): the same comparison finds it."""
    demo = _demo(demos, tmp_path_factory, "HCC-OPD")
    found = masked_differences(_client(demo, "coordinator"), demo, *demo.accounts["coordinator"])
    assert any("allocation.arm" in d for d in found), found
    assert any("rt_toxicity_4w" in d for d in found), found
