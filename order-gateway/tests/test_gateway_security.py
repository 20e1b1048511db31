"""Paper by default, credentials from the encrypted vault, and no secret in any log line."""

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from alpaca_sim.app import SimSettings
from alpaca_sim.testing import simulator_in_thread
from tradebus_contracts import OrderStatus
from tradebus_contracts.signing import generate_private_key, public_key_to_b64

from .conftest import GatewayHarness

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def run_gateway(env, *args, timeout=20):
    return subprocess.run([str(BIN / "order-gateway"), *args], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=timeout)


def test_live_mode_when_the_flag_is_missing_then_the_gateway_refuses_to_start(nats_url, database_url):
    result = run_gateway({"NATS_URL": nats_url, "DATABASE_URL": database_url, "TRADEBUS_MODE": "live"})

    assert result.returncode != 0
    assert "needs the explicit --live flag" in result.stderr


def test_live_flag_when_live_credentials_are_missing_then_the_gateway_refuses_to_start(nats_url, database_url,
                                                                                      tmp_path):
    env = {"NATS_URL": nats_url, "DATABASE_URL": database_url, "TRADEBUS_MODE": "live", "TRADEBUS_HOME": str(tmp_path),
           "GATEWAY_TRUSTED_KEYS": public_key_to_b64(generate_private_key().public_key()), "TRADEBUS_BROKER": "alpaca"}

    result = run_gateway(env, "--live")

    assert result.returncode != 0
    assert "no live credentials stored" in result.stderr and "tradectl keys set --account default --live" in result.stderr


def test_trusted_keys_when_garbage_then_refused_with_the_variable_named(nats_url, database_url, tmp_path):
    env = {"NATS_URL": nats_url, "DATABASE_URL": database_url, "TRADEBUS_HOME": str(tmp_path),
           "GATEWAY_TRUSTED_KEYS": "not-a-key", "TRADEBUS_BROKER": "simulator"}

    result = run_gateway(env)

    assert result.returncode != 0 and "GATEWAY_TRUSTED_KEYS" in result.stderr


def test_live_flag_when_mode_is_paper_then_refused_rather_than_guessed(nats_url, database_url):
    result = run_gateway({"NATS_URL": nats_url, "DATABASE_URL": database_url}, "--live")

    assert result.returncode != 0 and "TRADEBUS_MODE is not 'live'" in result.stderr


async def test_canary_credentials_when_used_and_refused_then_no_log_line_holds_them(nats_url, database_url, tmp_path):
    canary_id, canary_secret = "PKCANARY7f3a9e", "canary-secret-5b1d8c2e9a7f4406"
    with simulator_in_thread(SimSettings(tick_seconds=0.1, key_id=canary_id, secret_key=canary_secret)) as sim:
        harness = GatewayHarness(nats_url, database_url, tmp_path, sim)
        stored = subprocess.run(
            [str(BIN / "tradectl"), "keys", "set", "--account", "default"], input=f"{canary_id}\n{canary_secret}\n",
            env={**harness.env(), "DATABASE_URL": database_url}, capture_output=True, text=True, timeout=30)
        assert stored.returncode == 0, stored.stderr
        await harness.open()
        harness.start()
        await harness.healthy()
        ok = harness.request(qty=Decimal("1"))
        refused = harness.request(qty=Decimal("100000"))  # 403 from the broker: an error path
        await harness.publish(harness.approve(ok))
        await harness.publish(harness.approve(refused))
        final = await harness.final_status(ok.order_id)
        await harness.wait_for(lambda: harness.of(refused.order_id, "SubmissionFailed"), what="refusal")
        await harness.close()

    log = harness.log_text() + stored.stdout + stored.stderr
    assert final.status == OrderStatus.FILLED  # the stored (encrypted) pair is the one the broker accepted
    assert canary_secret not in log and canary_id not in log
    assert "gateway.submission_failed" in log
