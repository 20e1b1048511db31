"""Property-based fuzzing of the ticket API against the real server: never a 5xx.

Every operation of its OpenAPI (schemathesis) is fed valid and invalid input (positive and negative generation)
against a running ticket API with real NATS and PostgreSQL and a risk responder that answers (so the documented 503
of the preview never applies). Responses must be non-5xx, use documented status codes and content types, and match
their schemas. ``/api/events`` is left out: it is an endless stream (its own tests are in test_ticket_api_http.py).

What a schema-driven generator never sends, a second fuzz does (hypothesis, raw bodies): the JSON tokens ``NaN`` and
``Infinity``, numbers past a float (``1e400``) or past Python's 4,300-digit integer limit, deep or odd values, and
bodies over the 64 KiB limit — to both order endpoints, each answered below 500 with a short reply.
"""

from __future__ import annotations

import json

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tradectl.fuzzing import API_CHECKS, fuzz_operation

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 60


def test_fuzz_every_operation_when_given_generated_input_then_no_server_error(ticket):
    with ticket.client() as c:
        c.post("/api/orders", json={"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day",
                                    "qty": "1"})  # so that the order endpoints have something to find
    ticket.put_quote("AAPL", bid="187.20", ask="187.30", last="187.25")
    schema = schemathesis.openapi.from_url(f"{ticket.base_url}/openapi.json")
    session = requests.Session()
    operations = [op for op in (r.ok() for r in schema.get_all_operations()) if op.path != "/api/events"]
    assert len(operations) == 9

    def send_and_check(case) -> None:
        case.call_and_validate(base_url=ticket.base_url, session=session, checks=API_CHECKS)

    for operation in operations:
        takes_input = bool(operation.body or operation.path_parameters or operation.query)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if takes_input else (GenerationMode.POSITIVE,):
            fuzz_operation(operation, mode, EXAMPLES_PER_OPERATION, send_and_check, derandomize=False)


ODD_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e309", "-0", "1e-400", "9" * 5000, "0.1"]
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                  max_size=3),
                     max_leaves=8)
_token = st.sampled_from(ODD_NUMBERS) | _json.map(lambda v: json.dumps(v, allow_nan=True))
_FIELDS = {"symbol": '"AAPL"', "side": '"buy"', "type": '"limit"', "time_in_force": '"day"', "qty": '"1"',
           "notional": None, "limit_price": '"187.25"', "stop_price": None}


@st.composite
def raw_orders(draw) -> str:
    """An order body with any field replaced by an odd token, maybe padded past 64 KiB."""
    parts = []
    for name, valid in _FIELDS.items():
        value = draw(st.one_of(st.none(), st.just(valid), _token)) if valid is None else draw(st.just(valid) | _token)
        if value is not None:
            parts.append(f'"{name}": {value}')
    if draw(st.integers(0, 9)) == 0:
        parts.append(f'"pad": "{"x" * draw(st.integers(60_000, 200_000))}"')
    return "{" + ", ".join(parts) + "}"


def test_fuzz_order_bodies_when_numbers_are_non_finite_or_huge_or_bodies_oversized_then_no_server_error(ticket):
    with httpx.Client(base_url=ticket.base_url, timeout=10) as client:

        @given(body=raw_orders(), path=st.sampled_from(["/api/orders", "/api/orders/preview"]))
        @settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(body: str, path: str) -> None:
            r = client.post(path, content=body, headers={"content-type": "application/json"})
            assert r.status_code < 500, (r.status_code, r.text[:300])
            if r.status_code >= 400:
                assert len(r.content) < 4000, r.text[:300]

        check()
