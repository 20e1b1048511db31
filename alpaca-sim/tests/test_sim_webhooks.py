"""The simulator as a Standard Webhooks sender: the spec's retry schedule (compressed for tests), the same id on every
attempt with a fresh valid signature, Retry-After honoured, 410 disables the URL."""

from __future__ import annotations

import base64
import json
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from standardwebhooks import Webhook

from alpaca_sim.app import SimSettings
from alpaca_sim.testing import simulator_in_thread, wait_for
from alpaca_sim.webhooks import SPEC_RETRY_SCHEDULE_S, next_wait

SECRET = "whsec_" + base64.b64encode(b"a-test-secret-of-32-bytes-length").decode()
SCALE = 0.001  # 0, 5 ms, 300 ms, 1.8 s, ...


class ScriptedReceiver(BaseHTTPRequestHandler):
    """Answers each webhook-id's attempts from ``script`` in turn (then 204), recording every attempt."""

    script: list[tuple[int, dict[str, str]]] = []
    attempts: dict[str, list[tuple[dict[str, str], str]]] = defaultdict(list)

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["content-length"])).decode()
        tries = self.attempts[self.headers["webhook-id"]]
        tries.append(({k.lower(): v for k, v in self.headers.items()}, body))
        status, headers = self.script[len(tries) - 1] if len(tries) <= len(self.script) else (204, {})
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    ScriptedReceiver.script, ScriptedReceiver.attempts = [], defaultdict(list)
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", ScriptedReceiver
    server.shutdown()


@pytest.fixture
def sim():
    with simulator_in_thread(SimSettings(seed=3, tick_seconds=0.05, webhook_retry_scale=SCALE)) as running:
        yield running


def market_buy(sim) -> None:
    httpx.put(f"{sim.url}/admin/quotes/AAPL", json={"bid": "100.00", "ask": "100.02"}).raise_for_status()
    httpx.post(f"{sim.url}/v2/orders", headers={"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"},
               json={"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"},
               ).raise_for_status()


def test_next_wait_when_attempts_fail_then_the_spec_schedule_scaled_and_none_once_spent():
    waits = [next_wait(n, None, 1.0) for n in range(len(SPEC_RETRY_SCHEDULE_S) + 1)]

    assert waits[:4] == [0.0, 5.0, 300.0, 1800.0] and waits[9] == 86400.0 and waits[10] is None
    assert sum(SPEC_RETRY_SCHEDULE_S) / 3600 == pytest.approx(75.5, abs=0.1)
    assert next_wait(1, None, 0.001) == pytest.approx(0.005)


def test_next_wait_when_the_receiver_asks_for_longer_then_retry_after_wins_and_nonsense_is_ignored():
    assert next_wait(1, "60", 1.0) == 60.0
    assert next_wait(2, "60", 1.0) == 300.0  # the schedule's wait is longer already
    assert next_wait(1, "soon", 1.0) == 5.0


def test_webhook_when_refused_twice_then_retried_with_the_same_id_and_fresh_signatures_until_accepted(sim, receiver):
    url, recorded = receiver
    recorded.script = [(503, {}), (500, {})]
    httpx.post(f"{sim.url}/admin/webhooks", json={"url": url, "secret": SECRET}).raise_for_status()

    market_buy(sim)
    wait_for(lambda: sim.sim.webhooks.delivered >= 3, timeout=5)

    fills = [tries for tries in recorded.attempts.values() if json.loads(tries[0][1])["event"] == "fill"]
    [attempts] = fills
    assert len(attempts) == 3 and len({h["webhook-id"] for h, _ in attempts}) == 1
    assert attempts[0][0]["webhook-id"] == "msg_" + json.loads(attempts[0][1])["execution_id"].replace("-", "")
    for headers, body in attempts:
        assert headers["webhook-timestamp"].isdigit()
        Webhook(SECRET).verify(body, headers)


def test_webhook_when_the_receiver_answers_410_then_that_url_gets_nothing_more(sim, receiver):
    url, recorded = receiver
    recorded.script = [(410, {})] * 10
    httpx.post(f"{sim.url}/admin/webhooks", json={"url": url, "secret": SECRET}).raise_for_status()

    market_buy(sim)
    wait_for(lambda: recorded.attempts, timeout=5)
    market_buy(sim)

    wait_for(lambda: url not in sim.sim.webhooks.targets, timeout=5)
    assert sum(len(tries) for tries in recorded.attempts.values()) <= 3  # the updates already in flight, once each
    assert all(len(tries) == 1 for tries in recorded.attempts.values())
