"""Property-based fuzzing of webhook-ingest's OpenAPI (schemathesis) against the running process: never a 5xx.

Three kinds of generated requests, each checked for a non-5xx status that the document lists, its content type and
its response schema: schema-valid requests as generated (their made-up signatures never verify), schema-invalid ones
(negative generation), and schema-valid ones re-signed with the service's secret over the exact bytes sent, so that
random trade updates get past verification into mapping, dead-lettering and publishing.
"""

from __future__ import annotations

import json

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import signed_headers

pytestmark = pytest.mark.integration

EXAMPLES = 30
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_fuzz_when_given_generated_signed_and_invalid_requests_then_no_server_error(ingest):
    schema = schemathesis.openapi.from_url(f"{ingest.base_url}/openapi.json")
    [operation] = [result.ok() for result in schema.get_all_operations()]
    session = requests.Session()
    statuses: list[int] = []

    for mode, sign in ((GenerationMode.POSITIVE, False), (GenerationMode.NEGATIVE, False),
                       (GenerationMode.POSITIVE, True)):
        _fuzz(operation, mode, sign, ingest.base_url, session, statuses)

    assert {200, 202} & set(statuses), "no signed request got past verification"
    assert all(status < 500 for status in statuses)


def _fuzz(operation, mode, sign: bool, base_url: str, session: requests.Session, statuses: list[int]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def check(case) -> None:
        kwargs = case.as_transport_kwargs(base_url=base_url)
        if sign:  # the exact bytes that go out, signed as a sender would
            body = json.dumps(kwargs.pop("json")).encode() if "json" in kwargs else kwargs.pop("data", b"")
            kwargs["data"] = body if isinstance(body, bytes) else str(body).encode()
            kwargs["headers"] = {**kwargs.get("headers", {}), **signed_headers(kwargs["data"])}
        response = session.request(**kwargs)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    check()
