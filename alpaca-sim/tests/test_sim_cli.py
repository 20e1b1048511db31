"""The `alpaca-sim` command: readiness line, health, SIGTERM, and state that survives a restart."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from alpaca_sim.testing import no_retry, wait_for


class CliSimulator:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "alpaca_sim", "--port", "0", "--tick-seconds", "0.05", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = self.process.stdout.readline()
        match = re.fullmatch(r"alpaca-sim listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, f"unexpected first line {line!r}; stderr: {self.process.stderr.read() if self.process.poll() is not None else ''}"
        self.url = match.group(1)
        assert int(match.group(2)) > 0

    def client(self) -> TradingClient:
        return no_retry(TradingClient("k", "s", url_override=self.url))

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=10)
        finally:
            self.process.stdout.close()
            self.process.stderr.close()


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "home" / "alpaca-sim.json"


def test_start_when_port_zero_then_prints_real_port_and_health_is_ok():
    sim = CliSimulator()
    try:
        response = httpx.get(sim.url + "/admin/health")

        assert response.status_code == 200 and response.json() == {"status": "ok"}
    finally:
        assert sim.terminate() == 0


def test_restart_when_state_file_given_then_orders_positions_cash_and_client_ids_survive(state_file):
    sim = CliSimulator("--state", str(state_file), "--seed", "3")
    cid = f"keep-{uuid.uuid4()}"
    try:
        httpx.put(sim.url + "/admin/quotes/AAPL", json={"bid": "100.00", "ask": "100.02"}).raise_for_status()
        client = sim.client()
        bought = client.submit_order(MarketOrderRequest(symbol="AAPL", qty=3, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
        wait_for(lambda: client.get_order_by_id(bought.id).status == OrderStatus.FILLED)
        resting = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=50, client_order_id=cid))
        cash = client.get_account().cash
    finally:
        assert sim.terminate() == 0
    assert state_file.exists() and not list(state_file.parent.glob("*.tmp"))

    again = CliSimulator("--state", str(state_file), "--seed", "3")
    try:
        client = again.client()
        assert client.get_order_by_client_id(cid).id == resting.id
        assert client.get_open_position("AAPL").qty == "3"
        assert client.get_account().cash == cash
        with pytest.raises(APIError) as error:
            client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=50, client_order_id=cid))
        assert error.value.status_code == 422
    finally:
        assert again.terminate() == 0


def test_restart_when_killed_then_every_answered_change_survives(state_file):
    sim = CliSimulator("--state", str(state_file))
    try:
        client = sim.client()
        kept, canceled = (client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY,
                                                                time_in_force=TimeInForce.GTC, limit_price=5))
                          for _ in range(2))
        client.cancel_order_by_id(canceled.id)
    finally:
        sim.process.kill()  # no save at exit: what survives is what each answered request saved
        sim.process.wait(timeout=10)
        sim.process.stdout.close()
        sim.process.stderr.close()

    again = CliSimulator("--state", str(state_file))
    try:
        client = again.client()
        assert client.get_order_by_id(kept.id).status == OrderStatus.NEW
        assert client.get_order_by_id(canceled.id).status == OrderStatus.CANCELED
        assert [o.id for o in client.get_orders()] == [kept.id]
    finally:
        assert again.terminate() == 0


def test_start_when_key_id_without_secret_then_usage_error():
    result = subprocess.run([sys.executable, "-m", "alpaca_sim", "--key-id", "x"], capture_output=True, text=True, timeout=30)

    assert result.returncode == 2 and "--secret-key" in result.stderr


def test_start_when_state_file_is_corrupt_then_exit_1_and_file_untouched(state_file):
    state_file.parent.mkdir(parents=True)
    state_file.write_text("{not json")

    result = subprocess.run([sys.executable, "-m", "alpaca_sim", "--port", "0", "--state", str(state_file)],
                            capture_output=True, text=True, timeout=30)

    assert result.returncode == 1 and "cannot read state file" in result.stderr
    assert state_file.read_text() == "{not json"
