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
from schemathesis import GenerationMode

from tradectl.fuzzing import API_CHECKS, fuzz_operation

from .conftest import signed_headers

pytestmark = pytest.mark.integration

EXAMPLES = 30


def test_fuzz_when_given_generated_signed_and_invalid_requests_then_no_server_error(ingest):
    schema = schemathesis.openapi.from_url(f"{ingest.base_url}/openapi.json")
    [operation] = [result.ok() for result in schema.get_all_operations()]
    session = requests.Session()
    statuses: list[int] = []

    for mode, sign in ((GenerationMode.POSITIVE, False), (GenerationMode.NEGATIVE, False),
                       (GenerationMode.POSITIVE, True)):
        fuzz_operation(operation, mode, EXAMPLES, _sender(sign, ingest.base_url, session, statuses))

    assert {200, 202} & set(statuses), "no signed request got past verification"
    assert all(status < 500 for status in statuses)


def _sender(sign: bool, base_url: str, session: requests.Session, statuses: list[int]):
    def send_and_check(case) -> None:
        kwargs = case.as_transport_kwargs(base_url=base_url)
        if sign:  # the exact bytes that go out, signed as a sender would
            body = json.dumps(kwargs.pop("json")).encode() if "json" in kwargs else kwargs.pop("data", b"")
            kwargs["data"] = body if isinstance(body, bytes) else str(body).encode()
            kwargs["headers"] = {**kwargs.get("headers", {}), **signed_headers(kwargs["data"])}
        response = session.request(**kwargs)
        statuses.append(response.status_code)
        case.validate_response(response, checks=API_CHECKS)

    return send_and_check
