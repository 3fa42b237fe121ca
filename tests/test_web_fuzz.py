"""The web API under property-based fuzzing from its own OpenAPI schema (Schemathesis, in-process, bounded).

Every operation gets generated requests, valid and not (odd form fields, wrong types, random bytes
as the image); none may get a 5xx answer or crash the app.
"""

import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis", reason="needs schemathesis (in the test extra)")

from maskfer.web.app import create_app  # noqa: E402

EXAMPLES = 100  # per operation: bounded in time (seconds each)
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
TRIED = []


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_request_gets_a_server_error(case):
    response = case.call()
    TRIED.append(case.operation.label)
    assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text[:200]}"
