"""Issue 25 item 1's acceptance, the free-text part: "the blinding crawl, run as every masked role
of STOP-2 and NCT06592612 on a demo database where coordinators typed arm words into every
free-text field, finds nothing that differs by arm", with "withheld: written by an unblinded
role" in place of what an unblinded role wrote.

On each trial's demo database (``oligotrial demo``), the coordinator, the treating oncologist
and the data manager type the participant's arm (its id, label, radiotherapy and dose) into
every free-text field (:mod:`arm_words_demo`). Then each masked role (STOP-2: "Participants,
enrolling oncologists, and the statistician will be blinded", "Masking: Triple (Participant,
Investigator, Outcomes Assessor)"; NCT06592612: "Masking: Single (Outcomes Assessor)") crawls
every page, htmx fragment, download and REST answer it can reach: no typed text, no arm; the
withheld marker is there. The same crawl as the coordinator finds the typed texts (the check
is not vacuous).
"""

from __future__ import annotations

import pytest

from arm_words_demo import MARKER, WITHHELD, cells, crawl_pages, read_api, type_arm_words
from oligotrial.domain.trial.blinding import find_arm_information
from oligotrial.protocols import load_protocol
from web_demo import build, sign_in

TRIALS = {"STOP-2": ("enrolling_oncologist", "statistician", "outcome_assessor"),
          "NCT06592612": ("outcome_assessor",)}
_DEMOS: dict = {}


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    yield _DEMOS
    for d, _typed in _DEMOS.values():
        d.container.dispose()
    _DEMOS.clear()


def _demo(demos, tmp_path_factory, trial):
    if trial not in demos:
        d = build(tmp_path_factory.mktemp(f"armwords-{trial}"), trial=trial, patients=6, seed=7)
        demos[trial] = (d, type_arm_words(d))
    return demos[trial]


def _client(demo, role):
    from fastapi.testclient import TestClient

    from oligotrial.adapters.web.app import create_app

    client = TestClient(create_app(demo.container), raise_server_exceptions=False)
    username, password = demo.accounts[role]
    assert sign_in(client, username, password).status_code == 200
    return client


def _read(demo, typed, role):
    client = _client(demo, role)
    pages = crawl_pages(client)
    username, password = demo.accounts[role]
    return pages + read_api(client, username, password, demo.trial, sorted(typed))


def test_the_masked_roles_of_both_trials_are_covered():
    for trial, roles in TRIALS.items():
        assert set(load_protocol(trial).masking.blinded_roles) == set(roles)


@pytest.mark.parametrize("trial,role", [(t, r) for t, roles in TRIALS.items() for r in roles])
def test_a_masked_role_reads_no_typed_arm_word_anywhere(demos, tmp_path_factory, trial, role):
    demo, typed = _demo(demos, tmp_path_factory, trial)
    protocol = load_protocol(trial)
    kinds = {t.split(":")[0].removeprefix(MARKER + " ") for texts in typed.values() for t in texts}
    # every free-text field was typed into, for several participants
    assert len(typed) >= 2 and {"AE note", "Other, specify", "event detail", "correction reason", "corrected note",
                                "query question", "query answer", "retraction reason",
                                "record condition detail"} <= kinds, kinds
    read = _read(demo, typed, role)
    assert all(status < 500 for _u, status, _t in read), [(u, s) for u, s, _ in read if s >= 500]
    leaks = [(u, t[max(0, t.find(MARKER) - 40):t.find(MARKER) + 120]) for u, _s, t in read if MARKER in t]
    assert leaks == [], leaks[:5]
    arm_ids, labels = [a.id for a in protocol.arms], [a.label for a in protocol.arms]
    found = {u: find_arm_information(cells(t) if u.endswith(".csv") else t.split("\n"), arm_ids, labels)
             for u, s, t in read if s < 400}
    assert {u: f for u, f in found.items() if f} == {}
    # what was typed is shown withheld, on the participant pages and in the API
    assert any(WITHHELD in t for u, s, t in read if "/participants/" in u and not u.startswith("/api/"))
    assert any(WITHHELD in t for u, s, t in read if u.startswith("/api/") and "/participants/" in u)


@pytest.mark.parametrize("trial", list(TRIALS))
def test_the_coordinator_reads_what_was_typed(demos, tmp_path_factory, trial):
    demo, typed = _demo(demos, tmp_path_factory, trial)
    read = _read(demo, typed, "coordinator")
    seen = "\n".join(t for _u, _s, t in read)
    all_typed = {t for texts in typed.values() for t in texts}
    assert MARKER in seen and WITHHELD not in seen
    # each kind of typed text reaches the coordinator somewhere (page, API, audit trail)
    assert sum(1 for t in all_typed if t in seen) >= len(all_typed) // 2
