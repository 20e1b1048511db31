"""The broker side of position sync: account activities on the bus once each, a split's legs, fresh broker
positions on request, the fills history, the market clock and calendar in REFDATA.

The pure parts first (milliseconds); then the real order-gateway process against alpaca-sim, NATS and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from order_gateway.activities import UnpublishableActivity, activity_event, activity_event_id, resume_params
from tradebus_contracts import decode_event
from tradebus_contracts.refdata import CALENDAR_KEY, CLOCK_KEY, REFDATA_BUCKET, CalendarRef, ClockRef
from tradebus_contracts.rpc import BrokerPositionsReply, FillsHistoryReply, FillsHistoryRequest
from tradebus_contracts.subjects import GATEWAY_FILLS_HISTORY, GATEWAY_POSITIONS
from tradebus_contracts.trading_day import NEW_YORK
from tradebus_runtime.bus import ensure_kv

from .conftest import GatewayHarness

SIM_HEADERS = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}
FILL = {"id": "20261201143000123::5f596936-6f23-4cef-bdf1-3806aae57dbf", "activity_type": "FILL",
        "transaction_time": "2026-12-01T14:30:00.123456789Z", "type": "fill", "price": "187.3", "qty": "3",
        "side": "buy", "symbol": "AAPL", "leaves_qty": "0", "order_id": "0d5b1f5e-0000-4000-8000-000000000001",
        "cum_qty": "3", "order_status": "filled"}


# ---- pure ----------------------------------------------------------------------------------------------------------


def test_activity_event_when_a_fill_of_our_order_then_correlated_to_it_and_the_same_event_on_every_read():
    order_id = uuid4()

    first = activity_event(FILL, source="rest", order_id=order_id)
    again = activity_event(json.loads(json.dumps(FILL)), source="rest", order_id=order_id)

    assert first == again and first.event_id == activity_event_id(FILL["id"])
    assert first.correlation_id == str(order_id) and first.symbol == "AAPL" and first.activity == FILL
    assert first.occurred_at == datetime(2026, 12, 1, 14, 30, 0, 123456, tzinfo=UTC)


def test_activity_event_when_not_our_order_or_not_a_fill_then_correlated_to_the_activity():
    split = {"id": "20261202090000000::a", "activity_type": "SPLIT", "activity_sub_type": "RSPLIT", "symbol": "F",
             "qty": "-33", "price": "7", "net_amount": "0", "group_id": "g-1", "date": "2026-12-02",
             "details": {"ca_id": "c-1", "group_id": "g-1"}}

    event = activity_event(split, source="rest", order_id=None)

    assert event.correlation_id == split["id"] and event.group_id == "g-1" and event.activity_subtype == "RSPLIT"


def test_activity_event_when_the_symbol_is_not_an_equity_then_published_without_one_and_refused_without_a_type():
    crypto = {**FILL, "symbol": "BTC/USD"}

    assert activity_event(crypto, source="rest", order_id=None).symbol is None
    with pytest.raises(UnpublishableActivity):
        activity_event({**FILL, "activity_type": "fill?"}, source="rest", order_id=None)


def test_resume_params_when_a_cursor_is_stored_then_after_its_moment_minus_the_overlap():
    assert resume_params(None, 300) == {}
    assert resume_params(FILL["id"], 300) == {"after": "2026-12-01T14:25:00Z"}
    assert resume_params("opaque-id", 300) == {"page_token": "opaque-id"}


# ---- the real process ------------------------------------------------------------------------------------------------


@pytest.fixture
async def feed(nats_url, database_url, tmp_path, sim):
    harness = GatewayHarness(nats_url, database_url, tmp_path, sim, extra_env={
        "GATEWAY_ACTIVITY_INTERVAL_S": "0.3", "GATEWAY_ACCOUNT_INTERVAL_S": "60"})
    await harness.open()
    harness.activities = []

    async def collect(msg):  # core NATS: every publish, duplicates included, not only what the stream kept
        harness.activities.append(decode_event(msg.data))

    await harness.nc.subscribe("broker.activities.>", cb=collect)
    await harness.quote("AAPL", "187.20", "187.30")
    harness.start()
    await harness.healthy()
    yield harness
    await harness.close()


async def buy_at_broker(harness, symbol: str, qty: str) -> dict:
    """An order placed at the broker by someone else (not through tradebus)."""
    r = await harness.http.post("/v2/orders", headers=SIM_HEADERS, json={
        "symbol": symbol, "qty": qty, "side": "buy", "type": "market", "time_in_force": "day"})
    assert r.status_code == 200, r.text
    return r.json()


def of_type(harness, kind: str) -> list:
    return [e for e in harness.activities if e.activity_type == kind]


async def stored(harness, subject_filter: str = "broker.activities.>") -> int:
    info = await harness.js.stream_info("BROKER", subjects_filter=subject_filter)
    return sum((info.state.subjects or {}).values())


@pytest.mark.integration
async def test_activities_when_polled_again_and_after_a_restart_then_each_published_once(feed):
    request = feed.request(type="market", qty=Decimal("3"))
    await feed.publish(feed.approve(request))
    await feed.final_status(request.order_id)
    await feed.wait_for(lambda: of_type(feed, "FILL"), what="the FILL activity")
    await asyncio.sleep(1.0)  # three more polls

    feed.stop()
    r = await feed.http.post("/admin/corporate_actions", json={"type": "dividend", "symbol": "AAPL", "rate": "0.25"})
    assert r.status_code == 200, r.text
    feed.start()
    await feed.healthy()
    await feed.wait_for(lambda: of_type(feed, "DIV"), what="the DIV activity after the restart")
    await asyncio.sleep(1.0)

    [fill], [div] = of_type(feed, "FILL"), of_type(feed, "DIV")
    assert fill.correlation_id == str(request.order_id) and fill.source == "rest" and fill.symbol == "AAPL"
    assert fill.event_id == activity_event_id(fill.activity_id) and fill.activity["qty"] == "3"
    assert div.correlation_id == div.activity_id and div.activity["net_amount"] == "0.75"
    assert len(feed.activities) == 2 and await stored(feed) == 2


@pytest.mark.integration
async def test_split_at_the_broker_when_held_then_two_legs_with_one_group_id(feed):
    await buy_at_broker(feed, "AAPL", "10")
    await feed.wait_for(lambda: of_type(feed, "FILL"), what="the FILL activity")

    r = await feed.http.post("/admin/corporate_actions",
                             json={"type": "split", "symbol": "AAPL", "new_rate": 4, "old_rate": 1})
    assert r.status_code == 200, r.text
    await feed.wait_for(lambda: len(of_type(feed, "SPLIT")) == 2, what="both SPLIT legs")

    removal, allocation = sorted(of_type(feed, "SPLIT"), key=lambda e: Decimal(e.activity["qty"]))
    assert removal.group_id == allocation.group_id == r.json()["group_id"]
    assert (removal.activity["qty"], allocation.activity["qty"]) == ("-10", "40")
    assert {removal.activity_subtype, allocation.activity_subtype} == {"FSPLIT"}
    assert removal.activity["details"]["ca_id"] == allocation.activity["details"]["ca_id"]
    assert await stored(feed, "broker.activities.SPLIT.AAPL") == 2


@pytest.mark.integration
async def test_positions_request_when_asked_then_read_fresh_and_an_error_when_the_broker_fails(feed):
    await buy_at_broker(feed, "AAPL", "2")
    await feed.wait_for(lambda: of_type(feed, "FILL"), what="the first fill")
    first = BrokerPositionsReply.model_validate_json((await feed.nc.request(GATEWAY_POSITIONS, b"{}", 5)).data)
    await buy_at_broker(feed, "AAPL", "3")  # REFDATA's copy is refreshed every 60 s here: only a fresh read sees it
    await feed.wait_for(lambda: len(of_type(feed, "FILL")) == 2, what="the second fill")

    second = BrokerPositionsReply.model_validate_json((await feed.nc.request(GATEWAY_POSITIONS, b"", 5)).data)
    await feed.admin("/admin/faults", {"method": "GET", "path": "/v2/positions", "status": 500, "times": 0})
    failed = json.loads((await feed.nc.request(GATEWAY_POSITIONS, b"{}", 15)).data)
    await feed.admin("/admin/faults", method="DELETE")

    assert [(p.symbol, p.qty) for p in first.positions] == [("AAPL", Decimal("2"))]
    assert [(p.symbol, p.qty, p.avg_entry_price) for p in second.positions] == [("AAPL", Decimal("5"),
                                                                                  Decimal("187.3"))]
    assert second.as_of > first.as_of
    assert set(failed) == {"error"} and "500" in failed["error"]


@pytest.mark.integration
async def test_fills_history_when_paged_then_every_fill_once_oldest_first(feed):
    await feed.admin("/admin/liquidity", {"symbol": "AAPL", "max_fill_qty": 1})
    order = await buy_at_broker(feed, "AAPL", "5")
    await feed.wait_for(lambda: len(of_type(feed, "FILL")) == 5, what="five fills")

    pages, token = [], None
    while True:
        body = FillsHistoryRequest(page_token=token, page_size=2).model_dump_json().encode()
        reply = FillsHistoryReply.model_validate_json((await feed.nc.request(GATEWAY_FILLS_HISTORY, body, 5)).data)
        pages.append(reply.activities)
        if reply.complete:
            break
        token = reply.next_page_token
    refused = json.loads((await feed.nc.request(GATEWAY_FILLS_HISTORY, b'{"page_size": 0}', 5)).data)

    fills = [a for page in pages for a in page]
    assert [a["cum_qty"] for a in fills] == ["1", "2", "3", "4", "5"] and {a["order_id"] for a in fills} == {order["id"]}
    assert [a["id"] for a in fills] == [e.activity_id for e in of_type(feed, "FILL")]
    assert all(len(page) <= 2 for page in pages) and "error" in refused


@pytest.mark.integration
async def test_clock_and_calendar_when_the_gateway_runs_then_in_refdata_as_utc(feed):
    kv = await ensure_kv(feed.js, REFDATA_BUCKET)

    async def read(key, model):
        for _ in range(100):
            try:
                return model.model_validate_json((await kv.get(key)).value)
            except Exception:
                await asyncio.sleep(0.1)
        raise AssertionError(f"{key} never appeared in REFDATA")

    clock = await read(CLOCK_KEY, ClockRef)
    calendar = await read(CALENDAR_KEY, CalendarRef)

    assert clock.is_open and clock.next_close > clock.timestamp - timedelta(days=1)
    today = datetime.now(NEW_YORK).date()
    assert calendar.days[0].date >= today - timedelta(days=7) and calendar.days[-1].date <= today + timedelta(days=30)
    assert len(calendar.days) >= 15
    for day in calendar.days:
        assert day.open.hour in (13, 14) and day.open.minute == 30  # 09:30 New York, in summer or winter time
        assert day.close.hour in (17, 18, 20, 21) and day.close > day.open  # 13:00 or 16:00 New York
