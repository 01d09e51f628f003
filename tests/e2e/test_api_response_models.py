"""Issue 27 item 5: every ``/api/`` route's 2xx response is a named model in ``/openapi.json``, and
the models describe today's JSON without changing it: on a demo, the JSON of every GET route for
every role is byte for byte the same with and without the models; no answer has a key its
model does not declare; the answers of the write routes along a participant's course are
described by their models as well."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import BaseModel, RootModel

from trialops_e2e import PASSWORD, RT_FOR_ARM, TRIAL
from web_demo import build

_REF = re.compile(r"^#/components/schemas/[A-Za-z0-9_.-]+$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = build(tmp_path_factory.mktemp("apimodels"))
    yield d
    d.container.dispose()


def _get_urls(client, headers, trial: str) -> list[str]:
    base = f"/api/v1/trials/{trial}"
    urls = ["/api/v1/health", "/api/v1/trials", base, f"{base}/versions", f"{base}/participants", f"{base}/visits",
            f"{base}/visits?status=upcoming&status=due&status=overdue", f"{base}/notifications", "/api/v1/audit/verify",
            f"{base}/report", f"{base}/report?data_cut=2026-01-01", f"{base}/queries", f"{base}/audit?limit=3"]
    listed = client.get(f"{base}/participants", headers=headers)
    for p in listed.json() if listed.status_code == 200 else []:
        urls += [f"{base}/participants/{p['id']}", f"{base}/participants/{p['id']}/endpoints"]
    return urls


def _token(client, username: str, password: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _model_of(app, method: str, path: str):
    """The response model of the API route that answers ``method path``."""
    from fastapi.routing import APIRoute
    from starlette.routing import Match

    from oligotrial.adapters.web import query_routes, report_routes, routes

    scope = {"type": "http", "method": method, "path": path.split("?")[0]}
    for route in [*routes.router.routes, *query_routes.router.routes, *report_routes.router.routes]:
        if isinstance(route, APIRoute) and route.matches(scope)[0] is Match.FULL:
            return route.response_model
    raise AssertionError(f"no route for {method} {path}")


def _undeclared(value, at: str = "$") -> list[str]:
    """Every key of a validated model that its model does not declare (a model's ``extra``)."""
    found: list[str] = []
    if isinstance(value, RootModel):
        return _undeclared(value.root, at)
    if isinstance(value, BaseModel):
        found += [f"{at}.{k}" for k in (value.model_extra or {})]
        for name in type(value).model_fields:
            found += _undeclared(getattr(value, name), f"{at}.{name}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _undeclared(v, f"{at}[{i}]")
    return found


def _described(model, data) -> None:
    """``data`` is what ``model`` describes: every key declared, and validating then dumping as
    the routes do gives ``data`` back exactly."""
    parsed = model.model_validate(data)
    assert _undeclared(parsed) == [], model.__name__
    assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == data, model.__name__


def test_a_described_route_answers_as_a_route_without_a_model():
    """A model never filters, re-orders nor converts an answer: a route of a DescribedRouter
    answers byte for byte what the same route without its model answers (FastAPI's own
    response-model step would drop the undeclared key, put it last, write 1.0 for 1 and null for
    NaN), with its status code."""
    import datetime as dt

    from fastapi import APIRouter, FastAPI
    from fastapi.testclient import TestClient

    from oligotrial.adapters.web.api_models import ApiModel, DescribedRouter
    from oligotrial.adapters.web.responses import SafeJSONResponse

    class Thin(ApiModel):
        b: float
        d: dict | None = None

    value = {"z": 1, "b": 1, "a": float("nan"), "d": {"x": [float("inf"), 1e-7, 1e16]}, "t": dt.date(2026, 1, 2),
             "s": "\ud800", "n": None}
    bare, described = APIRouter(prefix="/bare"), DescribedRouter(prefix="/described")
    for router in (bare, described):
        kw = {"response_model": Thin} if router is described else {}
        router.get("/x", **kw)(lambda: value)
        router.post("/y", status_code=201, **kw)(lambda: value)
    app = FastAPI(default_response_class=SafeJSONResponse)
    app.include_router(bare)
    app.include_router(described)
    client = TestClient(app)
    for method, path in (("GET", "/x"), ("POST", "/y")):
        a, b = client.request(method, "/bare" + path), client.request(method, "/described" + path)
        assert (a.status_code, a.content, a.headers["content-type"]) == (b.status_code, b.content, b.headers["content-type"])
    assert client.get("/described/x").content.startswith(b'{"z":1,"b":1,"a":"NaN"')
    assert client.app.openapi()["paths"]["/described/x"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/Thin"}


def test_every_get_route_answer_is_described_by_its_model(demo):
    """On the STOP-2 demo, for every role: the JSON of every GET route validates against its
    route's model with no undeclared key, and validating then dumping it (FastAPI's
    response-model step) gives it back unchanged."""
    from fastapi.testclient import TestClient

    from oligotrial.adapters.web.app import create_app

    checked = 0
    with TestClient(create_app(demo.container), raise_server_exceptions=False) as client:
        for role, (username, password) in sorted(demo.accounts.items()):
            headers = _token(client, username, password)
            for url in _get_urls(client, headers, demo.trial):
                r = client.get(url, headers=headers)
                model = _model_of(client.app, "GET", url)
                if r.status_code == 200 and model is not None:
                    _described(model, r.json())
                    checked += 1
    assert checked > 100


def test_every_api_route_has_a_named_2xx_response_schema(demo):
    from fastapi.testclient import TestClient

    from oligotrial.adapters.web.app import create_app

    doc = TestClient(create_app(demo.container)).get("/openapi.json").json()
    routes, missing = 0, []
    for path, ops in doc["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, op in ops.items():
            routes += 1
            ok = [r for code, r in op["responses"].items() if code.startswith("2")]
            assert len(ok) == 1, (method, path)
            content = ok[0].get("content") or {}
            if "text/csv" in content:  # a file download declares its media type
                continue
            schema = (content.get("application/json") or {}).get("schema") or {}
            if not _REF.match(schema.get("$ref", "")):
                missing.append(f"{method.upper()} {path}")
            else:
                name = schema["$ref"].rsplit("/", 1)[-1]
                assert doc["components"]["schemas"][name].get("type") in ("object", "array"), name
    assert missing == [], missing
    assert routes >= 39


def test_the_write_routes_answers_are_described_by_their_models(sqlite_api):
    """A participant's course through the write routes (register to follow-up, a data query):
    each answer is what its route's model describes."""
    api = sqlite_api
    app = api.client.app
    base = f"/api/v1/trials/{TRIAL}/participants"
    record = json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text())

    def call(method, path, user, **kw):
        r = api.call(method, path, user, **kw)
        assert 200 <= r.status_code < 300, (method, path, r.text)
        _described(_model_of(app, method, path), r.json())
        return r.json()

    pid = call("POST", base, "coordinator", json={**record, "id": "P-0001"})["id"]
    call("POST", f"{base}/{pid}/screen", "coordinator", json={})
    call("POST", f"{base}/{pid}/consent", "coordinator", json={"date": "2026-03-01", "form_version": "v2"})
    call("PUT", f"{base}/{pid}/consent", "coordinator",
         json={"date": "2026-03-01", "form_version": "v3", "reason": "form version typo"})
    call("POST", f"{base}/{pid}/enrol", "coordinator", json={})
    arm = call("POST", f"{base}/{pid}/randomize", "coordinator", json={})["arm"]
    call("POST", f"{base}/{pid}/radiotherapy", "treating_oncologist",
         json={"start": "2026-03-10", "end": "2026-03-14" if arm == "sabr" else "2026-03-10", **RT_FOR_ARM[arm]})
    api.clock.set("2026-07-15")
    visits = call("GET", f"{base}/{pid}", "coordinator")["visits"]
    call("POST", f"{base}/{pid}/visits/{visits[0]['code']}", "data_manager",
         json={"date": visits[0]["target"], "out_of_window_reason": "n/a"})
    ae = call("POST", f"{base}/{pid}/adverse-events", "data_manager",
              json={"date": "2026-03-20", "term": "Pneumonitis", "grade": 2, "note": "seen in clinic"})
    call("PUT", f"{base}/{pid}/entries/{ae['id']}", "data_manager",
         json={"data": {"date": "2026-03-20", "term": "Pneumonitis", "grade": 1}, "reason": "grade checked"})
    call("POST", f"{base}/{pid}/entries/{ae['id']}/retract", "data_manager", json={"reason": "entered in error"})
    call("POST", f"{base}/{pid}/events", "data_manager", json={"date": "2026-07-01", "kind": "progression"})
    call("PUT", f"{base}/{pid}/record", "data_manager",
         json={"record": {**record, "id": "P-0001", "sex": "male"}, "reason": "source data verification"})
    q = call("POST", f"/api/v1/trials/{TRIAL}/queries", "data_manager",
             json={"participant": pid, "field": "sex", "text": "please confirm the sex"})
    call("POST", f"/api/v1/trials/{TRIAL}/queries/{q['id']}/answer", "coordinator", json={"text": "confirmed"})
    call("POST", f"/api/v1/trials/{TRIAL}/queries/{q['id']}/reopen", "data_manager", json={"text": "source?"})
    call("POST", f"/api/v1/trials/{TRIAL}/queries/{q['id']}/close", "data_manager", json={})
    call("GET", f"/api/v1/trials/{TRIAL}/queries/{q['id']}", "data_manager")
    call("POST", f"{base}/{pid}/unblind", "coordinator",
         json={"reason": "emergency: severe toxicity", "password": PASSWORD})
    call("GET", f"/api/v1/trials/{TRIAL}/notifications", "coordinator")
