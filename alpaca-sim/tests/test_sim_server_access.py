"""The simulator's own access rules: a fixed key pair, the per-key rate limit, the websocket handshake."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient

from alpaca_sim.app import SimSettings
from alpaca_sim.testing import no_retry, simulator_in_thread


@pytest.fixture(scope="module")
def locked_sim():
    with simulator_in_thread(SimSettings(key_id="good-key", secret_key="good-secret", rate_limit=5)) as running:
        yield running


def test_request_when_key_pair_is_not_the_configured_one_then_401(locked_sim):
    client = no_retry(TradingClient("good-key", "wrong-secret", url_override=locked_sim.url))

    with pytest.raises(APIError) as error:
        client.get_account()

    assert error.value.status_code == 401 and error.value.code == 40110000


def test_request_when_configured_key_pair_then_ok(locked_sim):
    client = no_retry(TradingClient("good-key", "good-secret", url_override=locked_sim.url))

    assert client.get_account().cash == "100000"


def test_requests_when_over_the_per_minute_budget_then_429_with_rate_limit_headers(locked_sim):
    locked_sim.sim.rate_limiter.reset()
    headers = {"APCA-API-KEY-ID": "good-key", "APCA-API-SECRET-KEY": "good-secret"}

    answers = [httpx.get(locked_sim.url + "/v2/clock", headers=headers) for _ in range(6)]

    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[0].headers["X-RateLimit-Limit"] == "5"
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["4", "3", "2", "1", "0", "0"]
    assert int(answers[-1].headers["X-RateLimit-Reset"]) > 0
    assert answers[-1].json()["code"] == 42910000


def test_rate_limit_when_budget_used_then_admin_api_still_answers(locked_sim):
    assert httpx.get(locked_sim.url + "/admin/health").json() == {"status": "ok"}


async def _handshake(url: str, key: str, secret: str) -> list[dict]:
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"action": "authenticate", "data": {"key_id": key, "secret_key": secret}}))
        replies = [json.loads(await ws.recv())]
        if replies[0]["data"]["status"] == "authorized":
            await ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
            replies.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
        return replies


def test_stream_when_wrong_secret_then_unauthorized(locked_sim):
    replies = asyncio.run(_handshake(locked_sim.stream_url, "good-key", "bad"))

    assert replies == [{"stream": "authorization", "data": {"action": "authenticate", "status": "unauthorized"}}]


def test_stream_when_right_keys_then_authorized_and_listening(locked_sim):
    replies = asyncio.run(_handshake(locked_sim.stream_url, "good-key", "good-secret"))

    assert replies == [
        {"stream": "authorization", "data": {"action": "authenticate", "status": "authorized"}},
        {"stream": "listening", "data": {"streams": ["trade_updates"]}},
    ]


async def _exchange(url: str, frames: list) -> list[dict]:
    async with websockets.connect(url) as ws:
        replies = []
        for frame in frames:
            await ws.send(frame)
            replies.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
        return replies


def test_stream_when_frames_are_malformed_then_error_messages_and_the_socket_survives(locked_sim):
    frames = ["not json", "[1, 2]", json.dumps({"action": 5}), json.dumps({"action": "listen", "data": [1]}),
              json.dumps({"action": "authenticate", "data": {"key_id": "good-key", "secret_key": "good-secret"}}),
              json.dumps({"action": "listen", "data": {"streams": 7}})]

    replies = asyncio.run(_exchange(locked_sim.stream_url, frames))

    assert [r["stream"] for r in replies] == ["error", "error", "error", "authorization", "authorization", "listening"]
    assert replies[-1]["data"]["streams"] == []
