"""``GET /api/positions``: the ledger from position-sync-service (a stand-in responder on LEDGER_POSITIONS over real
NATS), rounded at the API's edge (ROUND_HALF_UP), and a 503 — never an empty "flat" list — when it does not answer.
The rounding rules themselves are pure (``ticket_api.positions``) and tested first, with no server."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ticket_api.positions import LedgerUnavailable, money, price, quantity, shape_positions
from tradebus_contracts.rpc import LedgerPositionsRequest

from .conftest import eventually

NO_ANSWER = "positions are unavailable: position-sync-service did not answer"


# --- rounding (pure) -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("exact", "shown"), [
    ("1872.5", "1872.50"), ("0.005", "0.01"), ("-0.005", "-0.01"), ("2.675", "2.68"), ("-1.004", "-1.00"),
    ("-0.004", "0.00"), ("187.3333333333333333333333333", "187.33"), ("0", "0.00"),
    ("123456789012345678901234567890.125", "123456789012345678901234567890.13"),  # past the default 28 digits
])
def test_money_when_rounded_then_cents_half_up_and_never_minus_zero(exact, shown):
    assert money(Decimal(exact)) == shown


@pytest.mark.parametrize(("exact", "shown"), [
    ("187.3333333333333333333333333", "187.33"), ("0.51234", "0.5123"), ("0.51235", "0.5124"), ("0.99996", "1.00"),
    ("1", "1.00"), ("12.005", "12.01"),
])
def test_price_when_rounded_then_cents_from_a_dollar_and_four_decimals_below(exact, shown):
    assert price(Decimal(exact)) == shown


@pytest.mark.parametrize(("exact", "shown"), [
    ("10.000000000", "10"), ("100", "100"), ("-2.50", "-2.5"), ("0.3333333333333", "0.333333333"),
    ("0.0000000004", "0"), ("-0.0000000004", "0"),
])
def test_quantity_when_rounded_then_nine_decimals_without_trailing_zeros(exact, shown):
    assert quantity(Decimal(exact)) == shown


@pytest.mark.parametrize(("raw", "said"), [
    (b'{"error": "RuntimeError: ledger not loaded"}', "could not read the ledger (RuntimeError: ledger not loaded)"),
    (b'{"positions": []}', "outside the contract"),
    (b"not json", "not JSON"),
])
def test_shape_when_the_reply_is_not_a_ledger_then_unavailable_with_the_reason(raw, said):
    with pytest.raises(LedgerUnavailable, match="positions are unavailable") as caught:
        shape_positions(raw, account=None)
    assert said in str(caught.value)


# --- over HTTP, against real NATS ------------------------------------------------------------------------------

AS_OF = "2026-11-24T15:00:00+00:00"
AAPL = {"symbol": "AAPL", "qty": "3.000000000", "avg_cost": "187.3333333333333333333333333", "cost_basis": "562.00",
        "broker_avg_entry_price": "187.33", "last": "190.005", "market_value": "570.015", "unrealized_pl": "8.015",
        "realized_pl": "-1.005", "day_pl": "2.125", "drift": False}
BRK_B = {"symbol": "BRK.B", "qty": "-1.5", "avg_cost": "412.2", "cost_basis": "-618.30", "last": None,
         "market_value": None, "unrealized_pl": None, "realized_pl": "0", "day_pl": None, "drift": True}
TOTALS = {"cost_basis": "-56.3", "market_value": None, "unrealized_pl": None, "realized_pl": "-1.005",
          "day_pl": None, "dividends": "0.444"}


def ledger_of(*positions: dict[str, Any], totals: dict[str, Any] = TOTALS, **extra: Any):
    def answer(request: LedgerPositionsRequest) -> dict[str, Any]:
        return {"positions": list(positions), "totals": totals, "as_of": AS_OF, **extra}

    return answer


def test_shape_when_the_ledger_answers_then_its_times_are_kept_and_symbols_sorted():
    raw = json.dumps(ledger_of(BRK_B, AAPL, last_sync_ok=False)(LedgerPositionsRequest())).encode()

    shaped = shape_positions(raw, account=None)

    assert shaped.as_of == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    assert shaped.last_sync_ok is False and shaped.last_sync_at is None and shaped.account is None
    assert [p.symbol for p in shaped.positions] == ["AAPL", "BRK.B"]


@pytest.mark.integration
def test_positions_when_the_ledger_answers_then_each_symbol_rounded_with_the_totals(ticket_server_factory):
    server = ticket_server_factory(ledger=ledger_of(BRK_B, AAPL, last_sync_at=AS_OF, last_sync_ok=True))

    with server.client() as c:
        r = c.get("/api/positions")

    assert r.status_code == 200, r.text
    body = r.json()
    assert [p["symbol"] for p in body["positions"]] == ["AAPL", "BRK.B"]
    aapl, brk = body["positions"]
    assert aapl == {"symbol": "AAPL", "qty": "3", "avg_cost": "187.33", "cost_basis": "562.00", "last": "190.01",
                    "market_value": "570.02", "unrealized_pl": "8.02", "realized_pl": "-1.01", "day_pl": "2.13",
                    "drift": False}
    assert brk == {"symbol": "BRK.B", "qty": "-1.5", "avg_cost": "412.20", "cost_basis": "-618.30", "last": None,
                   "market_value": None, "unrealized_pl": None, "realized_pl": "0.00", "day_pl": None, "drift": True}
    assert body["totals"] == {"cost_basis": "-56.30", "market_value": None, "unrealized_pl": None,
                              "realized_pl": "-1.01", "day_pl": None, "dividends": "0.44"}
    assert body["last_sync_ok"] is True and body["as_of"].startswith("2026-11-24T15:00:00")
    assert server.ledger_requests == [LedgerPositionsRequest(lots=False)]


@pytest.mark.integration
def test_positions_when_the_gateway_published_the_account_then_it_comes_with_the_ledger(ticket_server_factory):
    server = ticket_server_factory(ledger=ledger_of(AAPL))
    server.put_account(buying_power="50000.00", equity="100000.00", cash="48000.00")

    with server.client() as c:
        body = eventually(lambda: (b := c.get("/api/positions").json())["account"] and b)

    assert body["account"]["buying_power"] == "50000.00" and body["account"]["cash"] == "48000.00"
    assert [p["symbol"] for p in body["positions"]] == ["AAPL"]


@pytest.mark.integration
def test_positions_when_the_ledger_is_flat_then_an_empty_list_with_zero_totals(ticket):
    with ticket.client() as c:
        body = c.get("/api/positions").json()

    assert body["positions"] == []
    assert body["totals"] == {"cost_basis": "0.00", "market_value": None, "unrealized_pl": None,
                              "realized_pl": "0.00", "day_pl": None, "dividends": "0.00"}


@pytest.mark.integration
def test_positions_when_nobody_answers_then_503_not_an_empty_list(ticket_server_factory):
    server = ticket_server_factory(ledger=None)

    with server.client() as c:
        started = time.monotonic()
        r = c.get("/api/positions")

    assert r.status_code == 503 and r.json() == {"detail": NO_ANSWER}
    assert time.monotonic() - started < 1.0  # no responders: told at once, no timeout waited for


@pytest.mark.integration
def test_positions_when_position_sync_hears_but_never_answers_then_503_after_the_timeout(ticket_server_factory):
    server = ticket_server_factory(ledger=lambda request: None)

    with server.client() as c:
        r = c.get("/api/positions")

    assert r.status_code == 503 and r.json() == {"detail": NO_ANSWER}
    assert len(server.ledger_requests) == 1


@pytest.mark.integration
def test_positions_when_position_sync_fails_on_the_request_then_503_with_its_error(ticket_server_factory):
    server = ticket_server_factory(ledger=lambda request: {"error": "RuntimeError: ledger not loaded"})

    with server.client() as c:
        r = c.get("/api/positions")

    assert r.status_code == 503
    assert r.json()["detail"] == ("positions are unavailable: position-sync-service could not read the ledger "
                                  "(RuntimeError: ledger not loaded)")


@pytest.mark.integration
def test_openapi_when_read_then_positions_documents_the_ledger_shape_and_the_503(ticket):
    with ticket.client() as c:
        spec = c.get("/openapi.json").json()

    operation = spec["paths"]["/api/positions"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PositionsOut"}
    assert "503" in operation["responses"]
    schemas = spec["components"]["schemas"]
    assert set(schemas["PositionOut"]["properties"]) == {
        "symbol", "qty", "avg_cost", "cost_basis", "last", "market_value", "unrealized_pl", "realized_pl", "day_pl",
        "drift"}
    assert set(schemas["PositionsOut"]["properties"]) == {"positions", "totals", "as_of", "last_sync_at",
                                                          "last_sync_ok", "account"}
    assert schemas["PositionOut"]["properties"]["qty"]["type"] == "string"
