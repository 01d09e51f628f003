"""Schemathesis fuzzing of the OpenAPI: no input, however malformed, yields a 5xx.
Bounded: a few derandomized examples per operation, no deadline, on SQLite and on PostgreSQL
(where database errors such as a value too long for its column or a NUL byte in text take
different paths than on SQLite)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings


def test_no_operation_answers_5xx(api):
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    headers = api.headers("coordinator")
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 20
    calls = []

    def make_check(op):
        @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        @given(case=op.as_strategy())
        def check(case):
            response = case.call(headers=headers)
            calls.append(response.status_code)
            assert response.status_code < 500, (op.method, op.path, case.path_parameters, case.body,
                                                response.text)
        return check

    for op in operations:
        make_check(op)()
    assert len(calls) >= len(operations)
