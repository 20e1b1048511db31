"""The ticket API over HTTP against a real server, NATS and PostgreSQL (a stand-in risk responder)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import httpx
import pytest

from ticket_api import live
from tradebus_contracts import (
    CancelRequested,
    FillReported,
    OrderRequested,
    OrderSubmitted,
    RiskApproved,
    TradingState,
    TradingStateChanged,
    decode_event,
    encode_event,
    subject_for,
)

from .conftest import TicketServer, eventually

pytestmark = pytest.mark.integration

LIMIT_BUY = {"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "day", "qty": "10",
             "limit_price": "187.25"}


def order_of(ticket: TicketServer, order_id) -> dict | None:
    with ticket.client() as c:
        r = c.get(f"/api/orders/{order_id}")
    return r.json() if r.status_code == 200 else None


def status_is(ticket: TicketServer, order_id, status: str):
    return lambda: (o := order_of(ticket, order_id)) is not None and o["status"] == status and o


def collect(ticket: TicketServer, subject: str) -> list:
    """Events published on ``subject`` from now on (core subscription on the server's loop)."""
    seen: list = []

    async def sub() -> None:
        async def cb(msg) -> None:
            seen.append(decode_event(msg.data))

        await ticket.nc.subscribe(subject, cb=cb)

    ticket.run(sub())
    return seen


def lifecycle(order_id, order=LIMIT_BUY):
    fields = {k: v for k, v in order.items() if k != "order_id"}
    base = {"order_id": order_id, "correlation_id": str(order_id)}
    now = datetime.now(UTC)
    return [
        RiskApproved(producer="risk-service", **base, **fields, issued_at=now, expires_at=now + timedelta(seconds=30),
                     key_id="k", signature="c2ln"),
        OrderSubmitted(producer="order-gateway", **base, **fields, client_order_id="c", broker_order_id="b",
                       approval_id=uuid4(), status="new", submitted_at=now),
        FillReported(producer="order-gateway", **base, client_order_id="c", broker_order_id="b", symbol="AAPL",
                     side="buy", execution_id="x1", qty=Decimal(10), price=Decimal("187.20"), cum_qty=Decimal(10),
                     order_status="filled", executed_at=now, source="stream"),
    ]


# --- mode and quotes ------------------------------------------------------------------------------------------


def test_get_mode_when_paper_simulator_then_says_so(ticket):
    with ticket.client() as c:
        assert c.get("/api/mode").json() == {"mode": "paper", "broker": "simulator"}


def status_of(ticket: TicketServer) -> dict:
    with ticket.client() as c:
        r = c.get("/api/status")
    assert r.status_code == 200
    return r.json()


def halt(reason: str, state: TradingState = TradingState.HALTED) -> TradingStateChanged:
    return TradingStateChanged(producer="tradectl", correlation_id="test", state=state, reason=reason,
                               changed_by="operator")


def test_get_status_when_nothing_was_ever_set_then_active_and_no_market_clock_yet(ticket):
    assert status_of(ticket) == {
        "mode": "paper", "broker": "simulator", "market": None,
        "trading_state": {"state": "active", "reason": None, "changed_by": None, "changed_at": None}}


def test_get_status_when_the_gateway_read_the_clock_then_market_open_with_next_close(ticket):
    close = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
    ticket.put_clock(True, next_open=close + timedelta(hours=16, minutes=30), next_close=close)

    market = eventually(lambda: status_of(ticket)["market"])

    assert market["is_open"] is True and market["next_close"] == "2026-11-24T21:00:00Z"
    assert market["next_open"] == "2026-11-25T13:30:00Z" and market["as_of"].endswith("Z")


def test_get_status_when_halted_then_the_state_with_its_reason_and_resume_makes_it_active(ticket):
    ticket.publish(halt("fat finger on the desk"))

    state = eventually(lambda: (s := status_of(ticket)["trading_state"])["state"] == "halted" and s)
    assert state["reason"] == "fat finger on the desk" and state["changed_by"] == "operator"
    assert state["changed_at"].endswith("Z")

    ticket.publish(halt("resumed", TradingState.ACTIVE))
    eventually(lambda: status_of(ticket)["trading_state"]["state"] == "active")


def test_get_status_when_the_ticket_starts_after_a_halt_then_it_reads_the_halt_back(ticket_server_factory, ticket):
    ticket.publish(halt("before the restart", TradingState.REDUCING))
    eventually(lambda: status_of(ticket)["trading_state"]["state"] == "reducing")

    later = ticket_server_factory()

    assert status_of(later)["trading_state"]["reason"] == "before the restart"


def test_get_quote_when_the_gateway_published_one_then_decimals_as_strings(ticket):
    ticket.put_quote("BRK.B", bid="412.10", ask="412.30", last="412.20")
    with ticket.client() as c:
        body = eventually(lambda: (r := c.get("/api/quotes/BRK.B")).status_code == 200 and r.json())
    assert body["bid"] == "412.10" and body["ask"] == "412.30" and body["last"] == "412.20"
    assert body["symbol"] == "BRK.B" and body["stale"] is False and body["timestamp"].endswith("Z")


def test_get_quote_when_it_is_old_then_stale(ticket):
    ticket.put_quote("MSFT", bid="1", ask="2", as_of=datetime.now(UTC) - timedelta(minutes=5))
    with ticket.client() as c:
        body = eventually(lambda: (r := c.get("/api/quotes/MSFT")).status_code == 200 and r.json())
    assert body["stale"] is True and body["last"] is None


def test_get_quote_when_symbol_unknown_then_404_with_message(ticket):
    with ticket.client() as c:
        r = c.get("/api/quotes/ZZZZ")
    assert r.status_code == 404 and "ZZZZ" in r.json()["detail"]


def test_get_quote_when_symbol_is_not_a_ticker_then_422(ticket):
    with ticket.client() as c:
        r = c.get("/api/quotes/aapl")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "symbol"]


# --- preview --------------------------------------------------------------------------------------------------


def test_preview_when_risk_approves_then_cost_and_buying_power_after(ticket):
    with ticket.client() as c:
        r = c.post("/api/orders/preview", json={**LIMIT_BUY, "qty": 10, "limit_price": 0.1})
    assert r.status_code == 200
    body = r.json()
    assert body["estimated_cost"] == "1.0" and body["price_basis"] == "limit_price"
    assert body["buying_power"] == "100000" and body["buying_power_after"] == "99999.0"
    assert body["approvable"] is True and body["warnings"] == [] and body["errors"] == []
    assert ticket.risk_requests[-1]["limit_price"] == "0.1"  # Decimal(str(0.1)), never the float's digits


def test_preview_when_risk_finds_problems_then_field_errors_and_warnings(ticket_server_factory):
    def risk(_):
        return {"ok": True, "approved": False, "estimated_cost": "5000", "price_basis": "ask", "buying_power": "100",
                "buying_power_after": "-4900", "trading_state": "active", "reasons": [
                    {"code": "SUB_PENNY_PRICE", "message": "too many decimals", "field": "limit_price"},
                    {"code": "QUOTE_STALE", "message": "quote is 90s old", "field": None},
                    {"code": "INSUFFICIENT_BUYING_POWER", "message": "cost exceeds buying power", "field": "qty"}]}

    ticket = ticket_server_factory(risk)
    with ticket.client() as c:
        body = c.post("/api/orders/preview", json=LIMIT_BUY).json()
    assert body["errors"] == [{"field": "limit_price", "code": "SUB_PENNY_PRICE", "message": "too many decimals"}]
    assert [w["code"] for w in body["warnings"]] == ["QUOTE_STALE", "INSUFFICIENT_BUYING_POWER"]
    assert body["approvable"] is False and body["buying_power_after"] == "-4900"


def test_preview_when_risk_fails_on_the_order_then_a_warning_and_not_approvable(ticket_server_factory):
    ticket = ticket_server_factory(lambda _: {"error": "InvalidOperation: [<class 'decimal.InvalidOperation'>]"})
    with ticket.client() as c:
        r = c.post("/api/orders/preview", json={**LIMIT_BUY, "qty": 6.4558506529067864e16})
    assert r.status_code == 200
    body = r.json()
    assert body["approvable"] is False and body["estimated_cost"] is None
    assert [w["code"] for w in body["warnings"]] == ["PREVIEW_FAILED"]
    assert "InvalidOperation" in body["warnings"][0]["message"]


def test_preview_when_risk_does_not_answer_then_503_with_message(ticket_server_factory):
    ticket = ticket_server_factory(risk=None)
    with ticket.client() as c:
        r = c.post("/api/orders/preview", json=LIMIT_BUY)
    assert r.status_code == 503 and "risk service" in r.json()["detail"]


# --- placing orders -------------------------------------------------------------------------------------------


def test_place_order_when_valid_then_202_and_order_requested_published(ticket):
    published = collect(ticket, "orders.requested.>")
    with ticket.client() as c:
        r = c.post("/api/orders", json=LIMIT_BUY)
    assert r.status_code == 202
    order_id = r.json()["order_id"]
    assert r.json()["status"] == "requested"
    event = eventually(lambda: published and published[0])
    assert isinstance(event, OrderRequested)
    assert str(event.order_id) == order_id and event.correlation_id == order_id and event.producer == "ticket-api"
    assert event.qty == Decimal("10") and event.limit_price == Decimal("187.25")
    assert eventually(status_is(ticket, order_id, "requested"))


def test_place_order_when_double_clicked_then_one_message_and_one_order(ticket):
    order_id = str(uuid4())
    with ticket.client() as c:
        answers = [c.post("/api/orders", json={**LIMIT_BUY, "order_id": order_id}) for _ in range(3)]
        assert {a.status_code for a in answers} == {202}
        eventually(status_is(ticket, order_id, "requested"))
        listed = c.get("/api/orders").json()["orders"]
    assert [o["order_id"] for o in listed] == [order_id]
    assert [e["event_type"] for e in order_of(ticket, order_id)["timeline"]] == ["OrderRequested"]
    info = ticket.run(ticket.nc.jetstream().stream_info("ORDERS"))
    assert info.state.messages == 1


def test_place_order_when_order_id_reused_for_another_order_then_409(ticket):
    order_id = str(uuid4())
    with ticket.client() as c:
        assert c.post("/api/orders", json={**LIMIT_BUY, "order_id": order_id}).status_code == 202
        eventually(status_is(ticket, order_id, "requested"))
        r = c.post("/api/orders", json={**LIMIT_BUY, "qty": "11", "order_id": order_id})
    assert r.status_code == 409 and "different order" in r.json()["detail"]


@pytest.mark.parametrize(("change", "loc"), [
    ({"qty": "ten"}, ["body", "qty"]),
    ({"side": "hold"}, ["body", "side"]),
    ({"symbol": "aapl*"}, ["body", "symbol"]),
    ({"limit_price": "NaN"}, ["body", "limit_price"]),
    ({"qty": True}, ["body", "qty"]),
    ({"colour": "red"}, ["body", "colour"]),
    ({"order_id": "not-a-uuid"}, ["body", "order_id"]),
])
def test_place_order_when_a_field_is_invalid_then_422_naming_that_field(ticket, change, loc):
    with ticket.client() as c:
        r = c.post("/api/orders", json={**LIMIT_BUY, **change})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert [d["loc"] for d in detail] == [loc] and detail[0]["msg"] and detail[0]["type"]


def test_place_order_when_business_rules_are_broken_then_still_requested_for_risk_to_reject(ticket):
    with ticket.client() as c:
        r = c.post("/api/orders", json={**LIMIT_BUY, "qty": "-5", "notional": "100"})
    assert r.status_code == 202


# --- the read model -------------------------------------------------------------------------------------------


def test_get_order_when_it_was_approved_submitted_and_filled_then_filled_with_timeline(ticket):
    with ticket.client() as c:
        order_id = c.post("/api/orders", json=LIMIT_BUY).json()["order_id"]
    eventually(status_is(ticket, order_id, "requested"))
    ticket.publish(*lifecycle(order_id))
    order = eventually(status_is(ticket, order_id, "filled"))
    assert order["filled_qty"] == "10" and order["filled_avg_price"] == "187.20"
    assert order["qty"] == "10" and order["limit_price"] == "187.25" and order["reject_reasons"] == []
    assert [e["event_type"] for e in order["timeline"]] == [
        "OrderRequested", "RiskApproved", "OrderSubmitted", "FillReported"]
    assert order["timeline"][3]["summary"] == "Fill: 10 at 187.20 (total 10)"
    assert order["timeline"][0]["event"]["order_id"] == order_id


def test_get_order_when_unknown_then_404(ticket):
    with ticket.client() as c:
        r = c.get(f"/api/orders/{uuid4()}")
    assert r.status_code == 404 and "no order" in r.json()["detail"]


def test_list_orders_when_open_and_closed_then_filtered_most_recent_first(ticket):
    with ticket.client() as c:
        first = c.post("/api/orders", json=LIMIT_BUY).json()["order_id"]
        second = c.post("/api/orders", json=LIMIT_BUY).json()["order_id"]
        eventually(status_is(ticket, second, "requested"))
        eventually(status_is(ticket, first, "requested"))
        ticket.publish(*lifecycle(first))
        eventually(status_is(ticket, first, "filled"))
        ids = lambda status, **q: [o["order_id"] for o in c.get("/api/orders", params={"status": status, **q})
                                   .json()["orders"]]
        assert ids("all") == [second, first]
        assert ids("open") == [second]
        assert ids("closed") == [first]
        assert ids("all", limit=1) == [second]
        assert c.get("/api/orders", params={"limit": 501}).status_code == 422
        assert c.get("/api/orders", params={"status": "pending"}).status_code == 422


# --- cancel ---------------------------------------------------------------------------------------------------


def test_cancel_when_order_open_then_202_and_cancel_requested_published_once(ticket):
    published = collect(ticket, "orders.cancel.>")
    with ticket.client() as c:
        order_id = c.post("/api/orders", json=LIMIT_BUY).json()["order_id"]
        eventually(status_is(ticket, order_id, "requested"))
        answers = [c.post(f"/api/orders/{order_id}/cancel") for _ in range(2)]
    assert [a.status_code for a in answers] == [202, 202]
    event = eventually(lambda: published and published[0])
    assert isinstance(event, CancelRequested)
    assert str(event.order_id) == order_id and event.requested_by == "ticket" and event.producer == "ticket-api"
    order = eventually(lambda: (o := order_of(ticket, order_id)) and len(o["timeline"]) == 2 and o)
    assert [e["event_type"] for e in order["timeline"]] == ["OrderRequested", "CancelRequested"]


def test_cancel_when_order_already_filled_then_409_with_message(ticket):
    with ticket.client() as c:
        order_id = c.post("/api/orders", json=LIMIT_BUY).json()["order_id"]
        eventually(status_is(ticket, order_id, "requested"))
        ticket.publish(*lifecycle(order_id))
        eventually(status_is(ticket, order_id, "filled"))
        r = c.post(f"/api/orders/{order_id}/cancel")
    assert r.status_code == 409 and "already filled" in r.json()["detail"]


def test_cancel_when_order_unknown_then_404(ticket):
    with ticket.client() as c:
        r = c.post(f"/api/orders/{uuid4()}/cancel")
    assert r.status_code == 404


# --- live events (positions: test_ticket_api_positions.py) ----------------------------------------------------


def test_events_when_an_order_is_placed_then_the_stream_carries_it(ticket):
    received: list[tuple[str, dict]] = []
    connected = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{ticket.base_url}/api/events", timeout=10) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            connected.set()
            kind = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    kind = line[len("event: "):]
                elif line.startswith("data: ") and kind:
                    received.append((kind, json.loads(line[len("data: "):])))
                    return

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    assert connected.wait(5)
    order_id = None

    def place():
        nonlocal order_id
        with ticket.client() as c:
            order_id = c.post("/api/orders", json=LIMIT_BUY).json()["order_id"]
        return received

    eventually(place, timeout=5, interval=0.3)  # the subscription may start a moment after the headers
    reader.join(5)
    kind, body = received[0]
    assert kind == "OrderRequested" and body["symbol"] == "AAPL" and body["event_type"] == "OrderRequested"


def test_events_when_trading_is_halted_then_the_stream_carries_the_change(ticket):
    received: list[tuple[str, dict]] = []
    connected = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{ticket.base_url}/api/events", timeout=10) as r:
            connected.set()
            kind = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    kind = line[len("event: "):]
                elif line.startswith("data: ") and kind == "TradingStateChanged":
                    received.append((kind, json.loads(line[len("data: "):])))
                    return

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    assert connected.wait(5)

    def publish_halt():
        ticket.publish(halt("broker outage"))
        return received

    eventually(publish_halt, timeout=5, interval=0.3)  # the subscription may start a moment after the headers
    reader.join(5)
    _, body = received[0]
    assert body["state"] == "halted" and body["reason"] == "broker outage"


def test_events_when_the_client_goes_away_then_its_subscriptions_are_removed(ticket):
    base = ticket.run(_subscription_count(ticket))
    with httpx.stream("GET", f"{ticket.base_url}/api/events", timeout=10) as r:
        assert r.status_code == 200
        eventually(lambda: ticket.run(_subscription_count(ticket)) == base + len(live.LIVE_SUBJECTS))
    eventually(lambda: ticket.run(_subscription_count(ticket)) == base)


async def _subscription_count(ticket: TicketServer) -> int:
    return len(ticket.app.connections.bus.nc._subs)  # nats-py keeps its live subscriptions here


def test_read_model_when_the_same_event_is_stored_twice_then_it_counts_once(ticket):
    with ticket.client() as c:
        order_id = c.post("/api/orders", json=LIMIT_BUY).json()["order_id"]
    eventually(status_is(ticket, order_id, "requested"))
    fill = lifecycle(order_id)[2]
    js = ticket.nc.jetstream()
    for msg_id in ("first-copy", "second-copy"):  # past the de-duplication window: two messages, one event
        ticket.run(js.publish(subject_for(fill), encode_event(fill), headers={"Nats-Msg-Id": msg_id}))
    order = eventually(status_is(ticket, order_id, "filled"))
    time.sleep(0.3)  # give the second copy time to arrive
    order = order_of(ticket, order_id)
    assert order["filled_qty"] == "10"
    assert [e["event_type"] for e in order["timeline"]] == ["OrderRequested", "FillReported"]


def test_read_model_when_a_cancel_names_an_order_never_requested_then_no_order_appears(ticket):
    stranger = uuid4()
    ticket.publish(CancelRequested(producer="tradectl", order_id=stranger, correlation_id=str(stranger),
                                   symbol="AAPL", requested_by="tradectl"))
    with ticket.client() as c:
        order_id = c.post("/api/orders", json=LIMIT_BUY).json()["order_id"]
        eventually(status_is(ticket, order_id, "requested"))  # the cancel came first on the same stream
        assert c.get(f"/api/orders/{stranger}").status_code == 404
        assert [o["order_id"] for o in c.get("/api/orders").json()["orders"]] == [order_id]


def test_events_when_nothing_happens_then_keep_alive_comments_arrive(ticket, monkeypatch):
    monkeypatch.setattr(live, "KEEP_ALIVE_S", 0.2)
    with httpx.stream("GET", f"{ticket.base_url}/api/events", timeout=10) as r:
        first = next(line for line in r.iter_lines() if line)
    assert first.startswith(": ping")
