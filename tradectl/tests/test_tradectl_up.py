"""`tradectl up` brings the whole stack up and down, as `make up` does, in a temp home."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nats
import psutil
import pytest

from tradebus_contracts.streams import ALL_STREAMS
from tradebus_runtime.health import probe
from tradectl.testing import read_lines_until, stack_endpoints, stack_env
from tradectl.up import UpError, ensure_webhook_secret

pytestmark = pytest.mark.integration

TRADECTL = str(Path(sys.executable).parent / "tradectl")
SERVICES = ["audit-recorder", "risk-service", "order-gateway", "position-sync-service", "webhook-ingest", "ticket-api"]


def test_up_when_started_then_healthy_with_endpoints_streams_and_paper_mode_then_sigterm_stops_all(running_stack):
    home, proc, output = running_stack
    endpoints = stack_endpoints(home)

    async def inspect():
        nc = await nats.connect(endpoints["nats_url"])
        try:
            streams = {s.config.name for s in await nc.jetstream().streams_info()}
        finally:
            await nc.drain()
        reports = {name: await probe(endpoints["nats_url"], name) for name in SERVICES}
        return streams, reports

    streams, reports = asyncio.run(inspect())
    with urllib.request.urlopen(endpoints["ticket_url"] + "/api/mode", timeout=5) as resp:
        mode = json.loads(resp.read())
    descendants = psutil.Process(proc.pid).children(recursive=True)

    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=20)
    took = time.monotonic() - started

    assert set(endpoints) == {"nats_url", "database_url", "ticket_url", "webhook_url", "broker_url", "mode"}
    assert endpoints["mode"] == "paper"
    domain = {s.name for s in ALL_STREAMS}
    assert domain <= streams and all(s.startswith("KV_") for s in streams - domain)  # KV buckets are streams too
    assert all(r["status"] == "ok" for r in reports.values()), reports
    assert mode == {"mode": "paper", "broker": "simulator"}
    assert any("PAPER TRADING" in line for line in output) and any(endpoints["ticket_url"] in l for l in output)
    assert any("webhooks" in line and endpoints["webhook_url"] in line for line in output)
    assert (home / "keys/webhook.secret").stat().st_mode & 0o777 == 0o600
    assert code == 0 and took < 15
    assert not (home / "endpoints.json").exists()
    assert [p.pid for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []


def test_up_when_a_second_runner_starts_on_the_same_home_then_it_is_refused_and_the_first_is_untouched(running_stack):
    home, proc, _ = running_stack

    second = subprocess.run([TRADECTL, "up", "--ticket-port", "0"], env=stack_env(home), capture_output=True,
                            text=True, timeout=30)

    assert second.returncode == 2
    assert "already running" in second.stderr and str(proc.pid) in second.stderr
    assert (home / "endpoints.json").exists()


def test_up_when_a_service_crashes_then_it_is_restarted_and_healthy_again(running_stack):
    home, proc, _ = running_stack
    url = stack_endpoints(home)["nats_url"]
    before = asyncio.run(probe(url, "risk-service"))

    os.kill(before["pid"], signal.SIGKILL)
    restarted = read_lines_until(proc, "restarting", timeout=10)

    async def healthy_again():
        for _ in range(100):
            try:
                report = await probe(url, "risk-service")
                if report["status"] == "ok" and report["pid"] != before["pid"]:
                    return report
            except Exception:
                pass
            await asyncio.sleep(0.2)
        raise AssertionError("risk-service did not come back")

    after = asyncio.run(healthy_again())

    assert "risk-service exited with code -9" in restarted[-1]
    assert after["pid"] != before["pid"]


def test_up_when_live_is_asked_without_live_credentials_then_refused_and_everything_stopped(stack_home):
    home = stack_home

    result = subprocess.run([TRADECTL, "up", "--live", "--ticket-port", "0"], env=stack_env(home), capture_output=True,
                            text=True, timeout=60)

    assert result.returncode == 2
    assert "--live needs live Alpaca credentials" in result.stderr
    assert not (home / "endpoints.json").exists()
    assert not [p for p in psutil.process_iter(["cmdline"]) if str(home) in " ".join(p.info["cmdline"] or [])]


def test_webhook_secret_when_first_needed_then_created_0600_once_and_the_same_one_reused(tmp_path):
    first = ensure_webhook_secret(tmp_path / "keys")
    secret = first.read_text()

    again = ensure_webhook_secret(tmp_path / "keys")

    assert first == again == tmp_path / "keys/webhook.secret" and again.read_text() == secret
    assert secret.startswith("whsec_") and len(secret.strip()) == len("whsec_") + 44
    assert first.stat().st_mode & 0o777 == 0o600 and (tmp_path / "keys").stat().st_mode & 0o077 == 0


def test_webhook_secret_when_others_can_read_it_then_up_refuses_it(tmp_path):
    path = ensure_webhook_secret(tmp_path / "keys")
    path.chmod(0o644)

    with pytest.raises(UpError, match="chmod 600"):
        ensure_webhook_secret(tmp_path / "keys")
