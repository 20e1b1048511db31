"""The ticket API inside a whole `tradectl up` stack: the real risk service previews and decides, the gateway
submits to the simulator, and the read model follows the order to its end; the fuzzer runs here too."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import requests
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tradectl.fuzzing import fuzz_operation
from tradectl.testing import stack_endpoints, wait_for_reference_data

from .conftest import eventually

pytestmark = pytest.mark.integration

MARKET_BUY = {"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", "qty": "2"}


@contextmanager
def ticket_of(home) -> Iterator[httpx.Client]:
    endpoints = stack_endpoints(home)
    asyncio.run(wait_for_reference_data(endpoints["nats_url"], timeout=30))  # until then risk rejects (never guesses)
    with httpx.Client(base_url=endpoints["ticket_url"], timeout=10) as client:
        eventually(lambda: client.get("/api/quotes/AAPL").status_code == 200, timeout=30, interval=0.2)
        yield client


@pytest.fixture
def stack_ticket(module_stack) -> Iterator[httpx.Client]:
    """The ticket API of the module's stack: orders placed by one test stay for the next."""
    with ticket_of(module_stack[0]) as client:
        yield client


@pytest.fixture
def fresh_stack_ticket(running_stack) -> Iterator[httpx.Client]:
    """The ticket API of a stack of the test's own (for a test that reads the whole ledger)."""
    with ticket_of(running_stack[0]) as client:
        yield client


def test_place_order_when_the_whole_stack_runs_then_risk_previews_and_the_order_fills(stack_ticket):
    preview = stack_ticket.post("/api/orders/preview", json=MARKET_BUY)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["approvable"] is True, body
    assert body["price_basis"] == "ask" and body["estimated_cost"] is not None and body["buying_power_after"]

    order_id = stack_ticket.post("/api/orders", json=MARKET_BUY).json()["order_id"]
    order = eventually(lambda: (r := stack_ticket.get(f"/api/orders/{order_id}")).status_code == 200
                       and r.json()["status"] == "filled" and r.json(), timeout=30, interval=0.2)
    assert order["filled_qty"] == "2"
    kinds = [e["event_type"] for e in order["timeline"]]
    assert kinds[:3] == ["OrderRequested", "RiskApproved", "OrderSubmitted"] and "FillReported" in kinds

    rejected_id = stack_ticket.post("/api/orders", json={**MARKET_BUY, "qty": "-1"}).json()["order_id"]
    rejected = eventually(lambda: (r := stack_ticket.get(f"/api/orders/{rejected_id}")).status_code == 200
                          and r.json()["status"] == "rejected" and r.json(), timeout=30, interval=0.2)
    assert any(r["code"] == "QTY_NOT_POSITIVE" for r in rejected["reject_reasons"])


def test_order_when_json_numbers_carry_more_digits_than_a_float_then_the_real_risk_counts_every_one(stack_ticket):
    body = ('{"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "day", '
            '"qty": 1.000000000000000000000000000001, "limit_price": 187.2500000000000000001}')
    exact = {"content": body, "headers": {"content-type": "application/json"}}  # a float would round both to pass
    refusals = {("qty", "QTY_TOO_MANY_DECIMALS"), ("limit_price", "SUB_PENNY_PRICE")}

    preview = stack_ticket.post("/api/orders/preview", **exact)
    assert preview.status_code == 200, preview.text
    assert refusals <= {(e["field"], e["code"]) for e in preview.json()["errors"]}, preview.json()

    order_id = stack_ticket.post("/api/orders", **exact).json()["order_id"]
    rejected = eventually(lambda: (r := stack_ticket.get(f"/api/orders/{order_id}")).status_code == 200
                          and r.json()["status"] == "rejected" and r.json(), timeout=30, interval=0.2)
    assert refusals <= {(r["field"], r["code"]) for r in rejected["reject_reasons"]}, rejected["reject_reasons"]


def test_positions_when_an_order_fills_then_the_ledger_holds_it_with_its_cost(fresh_stack_ticket):
    stack_ticket = fresh_stack_ticket  # the whole ledger is this test's: its AAPL position is the 2 it buys
    order_id = stack_ticket.post("/api/orders", json=MARKET_BUY).json()["order_id"]
    eventually(lambda: stack_ticket.get(f"/api/orders/{order_id}").json().get("status") == "filled", timeout=30,
               interval=0.2)

    def aapl():
        r = stack_ticket.get("/api/positions")
        assert r.status_code == 200, r.text  # position-sync answers: never a 503 in a running stack
        return next((p for p in r.json()["positions"] if p["symbol"] == "AAPL"), None)

    position = eventually(aapl, timeout=20, interval=0.2)
    assert position["qty"] == "2" and position["realized_pl"] == "0.00" and position["drift"] is False
    assert all(re.fullmatch(r"-?\d+\.\d\d", position[k]) for k in ("cost_basis", "market_value", "unrealized_pl"))


def test_fuzz_orders_when_the_real_risk_service_answers_then_no_server_error(stack_ticket):
    schema = schemathesis.openapi.from_url(f"{stack_ticket.base_url}/openapi.json")
    operations = [op for op in (r.ok() for r in schema.get_all_operations())
                  if op.path in ("/api/orders/preview", "/api/orders") and op.method == "post"]
    assert len(operations) == 2
    session = requests.Session()
    base_url = str(stack_ticket.base_url).rstrip("/")

    def send_and_check(case) -> None:
        case.call_and_validate(base_url=base_url, session=session, checks=[not_a_server_error])

    for operation in operations:
        fuzz_operation(operation, GenerationMode.POSITIVE, 30, send_and_check)
