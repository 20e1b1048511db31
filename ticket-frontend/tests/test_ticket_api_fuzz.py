"""Property-based fuzzing of the ticket API's OpenAPI (schemathesis) against the real server: never a 5xx.

Every operation is fed valid and invalid input (positive and negative generation) against a running ticket API
with real NATS and PostgreSQL and a risk responder that answers (so the documented 503 of the preview never
applies). Responses must be non-5xx, use documented status codes and content types, and match their schemas.
``/api/events`` is left out: it is an endless stream (its own tests are in test_ticket_api_http.py).
"""

from __future__ import annotations

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

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 60
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_fuzz_every_operation_when_given_generated_input_then_no_server_error(ticket):
    with ticket.client() as c:
        c.post("/api/orders", json={"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day",
                                    "qty": "1"})  # so that the order endpoints have something to find
    ticket.put_quote("AAPL", bid="187.20", ask="187.30", last="187.25")
    schema = schemathesis.openapi.from_url(f"{ticket.base_url}/openapi.json")
    session = requests.Session()
    operations = [op for op in (r.ok() for r in schema.get_all_operations()) if op.path != "/api/events"]
    assert len(operations) == 8
    for operation in operations:
        takes_input = bool(operation.body or operation.path_parameters or operation.query)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if takes_input else (GenerationMode.POSITIVE,):
            _fuzz(operation, mode, ticket.base_url, session)


def _fuzz(operation, mode, base_url, session) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=False,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def check(case) -> None:
        case.call_and_validate(base_url=base_url, session=session, checks=CHECKS)

    check()
