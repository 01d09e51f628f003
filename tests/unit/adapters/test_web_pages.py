"""The web interface's parts that need no database: the session cookie (signature, idle and
absolute timeouts, CSRF), the recruitment chart, the entry forms, the vendored files (pinned by
hash), and the request log of ``oligotrial serve`` (no personal data)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path

import pytest

from oligotrial.adapters.web.pages import forms
from oligotrial.adapters.web.pages import session as sess
from oligotrial.adapters.web.pages.base import entity_label
from oligotrial.adapters.web.pages.charts import recruitment_svg

STATIC = Path(sess.__file__).parent / "static"
SECRET = "s" * 32


def test_a_session_round_trips_and_a_changed_or_foreign_cookie_is_refused():
    s = sess.new_session(7, now=1000)
    value = sess.encode(SECRET, s)
    assert sess.decode(SECRET, value, now=1001) == s
    _payload, sig = value.split(".")
    forged = sess.encode(SECRET, sess.Session(8, s.iat, s.seen, s.csrf)).split(".")[0] + "." + sig
    for bad in (None, "", "x", forged, value + "x", sess.encode("t" * 32, s)):
        with pytest.raises(sess.SessionEnded) as err:
            sess.decode(SECRET, bad, now=1001)
        assert err.value.why == "signin"
    # an API bearer token signed with the same secret is not a session (another purpose label)
    from oligotrial.adapters.web.security import issue_token

    with pytest.raises(sess.SessionEnded):
        sess.decode(SECRET, issue_token(SECRET, 7, 60).removeprefix("v1."))


def test_a_session_ends_when_idle_or_too_old_and_each_request_renews_the_idle_clock():
    s = sess.new_session(1, now=0)
    assert sess.decode(SECRET, sess.encode(SECRET, s), now=sess.IDLE_S).uid == 1
    with pytest.raises(sess.SessionEnded) as err:
        sess.decode(SECRET, sess.encode(SECRET, s), now=sess.IDLE_S + 1)
    assert err.value.why == "expired"
    busy = s
    for t in range(0, sess.ABSOLUTE_S, sess.IDLE_S // 2):
        busy = sess.touch(sess.decode(SECRET, sess.encode(SECRET, busy), now=t), now=t)
    with pytest.raises(sess.SessionEnded):
        sess.decode(SECRET, sess.encode(SECRET, busy), now=sess.ABSOLUTE_S + 1)


def test_csrf_tokens_must_match_exactly():
    sess.check_csrf("abc", "abc")
    for given in (None, "", "abd", "abc ", 3):
        with pytest.raises(sess.CsrfRejected):
            sess.check_csrf("abc", given)
    with pytest.raises(sess.CsrfRejected):
        sess.check_csrf(None, "")


def test_the_recruitment_chart_draws_the_steps_and_the_planned_line():
    pts = [{"date": "2026-01-01", "enrolled": 2}, {"date": "2026-01-11", "enrolled": 5}]
    svg = recruitment_svg(pts, 10, dt.date(2026, 1, 21))
    assert 'aria-label="Recruitment: 5 enrolled of 10 planned, 2026-01-01 to 2026-01-21"' in svg
    # x: 36 + 312 * days/20; y: 12 + 114 * (1 - n/10)
    assert 'd="M36.0,126.0H36.0V103.2H192.0V69.0H348.0"' in svg
    assert 'class="target"' in svg and 'y1="12.0"' in svg
    assert "No one enrolled yet" in recruitment_svg([], 10, dt.date(2026, 1, 1))
    assert 'class="target"' not in recruitment_svg(pts, None, dt.date(2026, 1, 21))


def test_the_forms_give_the_service_the_entry_as_typed():
    ae = forms.adverse_event({"date": "2026-04-01", "term": "Fatigue", "grade": "2", "serious": "on",
                              "attribution_radiotherapy": "", "note": "  "})
    assert ae == {"date": "2026-04-01", "term": "Fatigue", "grade": 2, "serious": True}
    assert forms.adverse_event({"grade": "two"})["grade"] == "two"  # the model names the bad value
    a = forms.assessment({"date": "2026-04-01", "modality": "CT", "findings[0].lesion": "L1",
                          "findings[0].diameter_mm": "18.5", "findings[2].lesion": "L9", "findings[2].new": "on",
                          "findings[2].organ": "liver", "findings[2].diameter_mm": "7"})
    assert a == {"date": "2026-04-01", "modality": "CT", "findings": [
        {"lesion": "L1", "diameter_mm": 18.5}, {"lesion": "L9", "diameter_mm": 7, "organ": "liver", "new": True}]}
    assert forms.values_of("assessment", a)["findings[1].new"] == "on"
    assert forms.field_errors([{"path": "grade", "expected": "1-5"}], "m", "grade") == {"grade": "1-5"}
    assert forms.field_errors(None, "participant withdrawn", "state") == {"state": "participant withdrawn"}
    assert "Fatigue" in forms.CHOICES["ctcae_terms"] and forms.CHOICES["modality"][0] == "CT"


def test_audit_rows_name_the_participant_by_their_own_id():
    names = {"e6b2a0bc9d6546f4": "C-00001"}
    assert entity_label("e6b2a0bc9d6546f4/57", names) == "C-00001/57"
    assert entity_label("e6b2a0bc9d6546f4", names) == "C-00001"
    assert entity_label("someone-else/3", names) == "someone-else/3"
    assert entity_label(None, names) == ""


#: the vendored files, unchanged from their npm packages (static/vendor/README.md)
VENDORED = {
    "vendor/htmx-2.0.4/htmx.min.js": "e209dda5c8235479f3166defc7750e1dbcd5a5c1808b7792fc2e6733768fb447",
    "vendor/swagger-ui-5.17.14/swagger-ui-bundle.js": "c2e4a9ef08144839ff47c14202063ecfe4e59e70a4e7154a26bd50d880c88ba1",
    "vendor/swagger-ui-5.17.14/swagger-ui.css": "40170f0ee859d17f92131ba707329a88a070e4f66874d11365e9a77d232f6117",
}


@pytest.mark.parametrize("path", sorted(VENDORED))
def test_vendored_files_are_the_pinned_releases(path):
    assert hashlib.sha256((STATIC / path).read_bytes()).hexdigest() == VENDORED[path]
    assert (STATIC / path).parent.joinpath("LICENSE").exists()


def test_the_templates_load_nothing_from_another_host():
    for f in (Path(sess.__file__).parent / "templates").glob("*.html"):
        text = f.read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, f.name


def test_the_request_log_names_the_route_not_the_participant_nor_the_client(caplog):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from oligotrial.adapters.cli.serve import RequestLog

    app = FastAPI()

    @app.get("/trials/{trial}/participants/{pid}")
    def page(trial: str, pid: str) -> dict:
        return {}

    client = TestClient(RequestLog(app))
    with caplog.at_level(logging.INFO, logger="oligotrial.access"):
        client.get("/trials/STOP-2/participants/C-00042?name=Jane")
        client.get("/nowhere/C-00043")
    lines = [r.getMessage() for r in caplog.records if r.name == "oligotrial.access"]
    assert lines[0].startswith("GET /trials/{trial}/participants/{pid} 200 ") and lines[0].endswith(" ms")
    assert lines[1].startswith("GET (no route) 404 ")
    text = " ".join(lines)
    assert "C-0004" not in text and "Jane" not in text and "testclient" not in text


def test_serve_prints_where_it_listens_without_the_database_password(monkeypatch, tmp_path):
    import uvicorn
    from typer.testing import CliRunner

    from oligotrial.adapters.cli.main import app

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: seen.update(kw, app=asgi))
    monkeypatch.setenv("OLIGOTRIAL_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    res = CliRunner().invoke(app, ["serve", "--host", "127.0.0.1", "--port", "8123"])
    assert res.exit_code == 0, res.output
    assert "listening on http://127.0.0.1:8123/" in res.output and "sign in at /login" in res.output
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123 and seen["access_log"] is False
    from oligotrial.adapters.cli.serve import _safe_url

    assert _safe_url("postgresql://u:secret@db/x") == "postgresql://u:***@db/x"


def test_the_audit_page_names_replayed_entries_format_problems_and_restore_notes():
    """Issue 26 items 4, 5: the verification on the audit page lists what ``audit verify`` does."""
    from oligotrial.adapters.web.pages.base import templates

    class Trial:
        id = short_name = "STOP-2"

    verified = {"ok": False, "checked": 9, "last_seq": 9, "replayed": [9],
                "format_problems": ["entry 1: version 1, but the chain's format epoch ..."],
                "notes": ["checkpoint at seq 12 (T1): rolled back by the restore of T2"]}
    html = templates.env.get_template("audit.html").render(
        trial=Trial, verified=verified, rows=[], n=0, total=0, pages=1, may_verify=False, nav_trials=[],
        csrf="x", diff=None, participant=None)
    assert "replayed: <code>[9]</code>" in html and "format problems:" in html
    assert "rolled back by the restore of T2" in html
