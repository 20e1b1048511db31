"""Contract: account activities, corporate actions and signed webhook delivery of trade updates."""

from __future__ import annotations

import base64
import json
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.requests import StockLatestQuoteRequest
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from standardwebhooks import Webhook

from alpaca_sim.testing import wait_filled, wait_for


def buy(client, symbol: str, qty: float):
    order = client.submit_order(MarketOrderRequest(symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    return wait_filled(client, order.id)


def test_activities_when_order_filled_in_three_executions_then_three_fill_rows(broker, admin):
    admin.quote("AAPL", "100.00", "100.02")
    admin.liquidity("AAPL", 2)
    client = broker.trading()

    order = buy(client, "AAPL", 5)

    rows = [a for a in client.get("/account/activities", {"activity_types": "FILL"}) if a["order_id"] == str(order.id)]
    assert len(rows) == 3
    assert sorted(Decimal(r["cum_qty"]) for r in rows) == [2, 4, 5]
    assert {r["leaves_qty"] for r in rows} == {"3", "1", "0"}


def test_activities_when_paged_then_pages_do_not_overlap(broker, admin):
    admin.quote("KO", "60.00", "60.01")
    admin.liquidity("KO", 1)
    client = broker.trading()
    buy(client, "KO", 4)

    first = client.get("/account/activities/FILL", {"page_size": 2})
    second = client.get("/account/activities/FILL", {"page_size": 2, "page_token": first[-1]["id"]})

    assert len(first) == 2 and len(second) == 2
    assert not {a["id"] for a in first} & {a["id"] for a in second}


def test_activities_when_paged_by_the_id_of_another_type_then_resumes_after_it(broker, admin):
    admin.quote("KO", "60.00", "60.01")
    client = broker.trading()
    buy(client, "KO", 2)
    admin.corporate_action(type="dividend", symbol="KO", rate="0.1")
    buy(client, "KO", 1)
    [div] = client.get("/account/activities/DIV")

    after_div = client.get("/account/activities/FILL", {"direction": "asc", "page_token": div["id"]})
    before_div = client.get("/account/activities/FILL", {"direction": "desc", "page_token": div["id"]})

    assert [a["qty"] for a in after_div] == ["1"] and [a["qty"] for a in before_div] == ["2"]


def test_activities_when_category_then_trades_or_everything_else(broker, admin):
    admin.quote("KO", "60.00", "60.01")
    client = broker.trading()
    buy(client, "KO", 2)
    admin.corporate_action(type="dividend", symbol="KO", rate="0.1")

    trades = client.get("/account/activities", {"category": "trade_activity"})
    others = client.get("/account/activities", {"category": "non_trade_activity"})

    assert {a["activity_type"] for a in trades} == {"FILL"} and {a["activity_type"] for a in others} == {"DIV"}


def test_activities_when_category_with_activity_types_or_unknown_values_then_422(broker, admin):
    client = broker.trading()
    for params in ({"category": "trade_activity", "activity_types": "FILL"}, {"category": "trades"},
                   {"activity_types": "FILL,SSO"}, {"order_id": "not-a-uuid"}, {"after": "yesterday"}):
        with pytest.raises(APIError) as error:
            client.get("/account/activities", params)
        assert error.value.status_code == 422 and error.value.code == 40010001, params
    with pytest.raises(APIError) as error:
        client.get("/account/activities/NOPE")
    assert error.value.status_code == 422


def test_activities_when_order_id_then_only_that_orders_fills(broker, admin):
    admin.quote("AAPL", "100.00", "100.02")
    admin.liquidity("AAPL", 2)
    client = broker.trading()
    first = buy(client, "AAPL", 3)
    buy(client, "AAPL", 1)

    rows = client.get("/account/activities", {"order_id": str(first.id)})
    typed = client.get("/account/activities/FILL", {"order_id": str(first.id)})

    assert [r["qty"] for r in rows] == ["1", "2"] and rows == typed  # newest first


def test_activities_when_misc_or_trans_groups_then_alpacas_type_groups(broker, admin):
    admin.quote("KO", "60.00", "60.01")
    client = broker.trading()
    buy(client, "KO", 2)
    admin.corporate_action(type="split", symbol="KO", new_rate=2, old_rate=1)
    admin.corporate_action(type="dividend", symbol="KO", rate="0.1")

    misc = client.get("/account/activities", {"activity_types": "MISC"})
    trans = client.get("/account/activities", {"activity_types": "TRANS"})

    assert {a["activity_type"] for a in misc} == {"SPLIT"} and trans == []


def test_activities_when_after_until_and_date_then_filtered_on_creation_time(broker, admin):
    admin.quote("KO", "60.00", "60.01")
    client = broker.trading()
    buy(client, "KO", 1)
    [fill] = client.get("/account/activities/FILL")
    created = datetime.strptime(fill["id"][:17] + "000", "%Y%m%d%H%M%S%f").replace(tzinfo=timezone.utc)
    second = created.replace(microsecond=0)
    day = created.date().isoformat()

    assert client.get("/account/activities", {"after": (second - timedelta(seconds=1)).isoformat()}) == [fill]
    assert client.get("/account/activities", {"after": (second + timedelta(seconds=1)).isoformat()}) == []
    assert client.get("/account/activities", {"until": (second - timedelta(seconds=1)).isoformat()}) == []
    assert client.get("/account/activities", {"date": day}) == [fill]
    assert client.get("/account/activities", {"date": (created - timedelta(days=1)).date().isoformat()}) == []


def test_split_when_long_then_qty_multiplied_cost_basis_kept_and_split_activity(broker, admin):
    admin.quote("NVDA", "100.00", "100.00")
    client = broker.trading()
    buy(client, "NVDA", 10)

    admin.corporate_action(type="split", symbol="NVDA", new_rate=4, old_rate=1)

    position = client.get_open_position("NVDA")
    assert position.qty == "40" and position.avg_entry_price == "25" and position.cost_basis == "1000"
    splits = client.get("/account/activities/SPLIT")
    assert sorted(Decimal(a["qty"]) for a in splits) == [-10, 40]
    quote = broker.data().get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="NVDA"))["NVDA"]
    assert quote.ask_price == 25


def test_dividend_when_long_then_cash_credited_and_div_activity(broker, admin):
    admin.quote("KO", "60.00", "60.00")
    client = broker.trading()
    buy(client, "KO", 10)
    cash_before = Decimal(client.get_account().cash)

    admin.corporate_action(type="dividend", symbol="KO", cash="0.485")

    assert Decimal(client.get_account().cash) - cash_before == Decimal("4.85")
    [div] = client.get("/account/activities/DIV")
    assert div["net_amount"] == "4.85" and div["per_share_amount"] == "0.485" and div["symbol"] == "KO"


def test_corporate_action_when_invalid_then_422(broker, admin):
    for body in ({"type": "merger", "symbol": "KO"}, {"type": "split", "symbol": "KO", "new_rate": 0},
                 {"type": "dividend", "symbol": "KO"}):
        assert admin.http.post("/admin/corporate_actions", json=body).status_code == 422
    assert admin.http.post("/admin/corporate_actions", json={"type": "split", "symbol": "ZZZZ"}).status_code == 404


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["content-length"])).decode()
        self.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_receiver():
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/fills", _Receiver.received
    server.shutdown()


def test_webhook_when_registered_then_each_trade_update_arrives_signed(broker, admin, webhook_receiver):
    url, received = webhook_receiver
    secret = "whsec_" + base64.b64encode(b"a-test-secret-of-32-bytes-length").decode()
    admin.webhook(url, secret)
    admin.quote("AAPL", "100.00", "100.02")

    order = buy(broker.trading(), "AAPL", 1)

    wait_for(lambda: any(json.loads(b)["event"] == "fill" for _, b in received))
    verifier = Webhook(secret)
    for headers, body in received:
        lowered = {k.lower(): v for k, v in headers.items()}
        verifier.verify(body, lowered)
    fill = next(json.loads(b) for _, b in received if json.loads(b)["event"] == "fill")
    assert fill["order"]["id"] == str(order.id) and fill["qty"] == "1" and fill["price"] == "100.02"
    assert fill["execution_id"]


def test_webhook_when_secret_invalid_then_422(broker, admin):
    response = admin.http.post("/admin/webhooks", json={"url": "http://127.0.0.1:9/x", "secret": "not base64 !!"})

    assert response.status_code == 422
