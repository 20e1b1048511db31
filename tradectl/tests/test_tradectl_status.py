"""``tradectl status``: the rows and summary from plain facts (health, consumers, trading state, checkpoint), the exit
code; and `status` and `risk limits` end to end against a whole `tradectl up` stack."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tradebus_contracts import TradingState, TradingStateChanged
from tradebus_contracts.events import AuditCheckpoint
from tradectl.home import FoundHome
from tradectl.status import (
    SERVICES,
    Consumer,
    StatusFacts,
    ago,
    as_json,
    exit_code,
    owner,
    render,
    service_rows,
    summary,
)
from tradectl.tables import text_table
from tradectl.testing import TRADECTL, stack_env

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
HOME = FoundHome(Path("/srv/desk/.tradebus"), "found", (Path("/srv/desk/app"), Path("/srv/desk")))
ENDPOINTS = {"nats_url": "nats://127.0.0.1:4222", "broker_url": "http://127.0.0.1:5000", "mode": "paper"}


def ok(service: str, uptime_s: float = 125.0) -> dict:
    return {"service": service, "status": "ok", "checks": {"nats": True}, "degraded": {}, "uptime_s": uptime_s}


def facts(**over) -> StatusFacts:
    fields = {
        "now": NOW, "home": HOME, "nats_url": ENDPOINTS["nats_url"], "nats_from_env": False, "endpoints": ENDPOINTS,
        "health": {s: ok(s) for s in SERVICES},
        "consumers": (Consumer("ORDERS", "risk-service", 0, NOW - timedelta(seconds=12)),
                      Consumer("FILLS", "risk-service-fills", 3, None),
                      Consumer("RISK", "order-gateway", 7, NOW - timedelta(minutes=5)),
                      Consumer("ORDERS", "someone-elses-durable", 99, None)),
    }
    return StatusFacts(**{**fields, **over})


def test_ago_when_given_seconds_then_one_compact_unit():
    assert [ago(None), ago(-2), ago(0.4), ago(59), ago(61), ago(7300), ago(2 * 86400 + 5)] == [
        "-", "0s", "0s", "59s", "1m", "2h", "2d"]


def test_owner_when_a_durable_carries_a_service_name_then_that_service_else_none():
    assert [owner("risk-service"), owner("risk-service-fills"), owner("position-sync-service-activities"),
            owner("risk-servicex"), owner("tail-123")] == [
        "risk-service", "risk-service", "position-sync-service", None, None]


def test_service_rows_when_services_have_consumers_then_a_row_each_with_pending_and_age():
    rows = service_rows(facts())
    risk = [r for r in rows if r.service == "risk-service"]
    gateway = [r for r in rows if r.service == "order-gateway"]

    assert [r.service for r in rows[:2]] == ["risk-service", "risk-service"]  # in SERVICES order
    assert [(r.consumer.durable, r.consumer.pending, r.last_event_age_s) for r in risk] == [
        ("risk-service", 0, 12.0), ("risk-service-fills", 3, None)]
    assert [(r.consumer.durable, r.consumer.pending, r.last_event_age_s) for r in gateway] == [
        ("order-gateway", 7, 300.0)]
    assert [r.consumer for r in rows if r.service == "audit-recorder"] == [None]
    assert "someone-elses-durable" not in render(facts())


def test_service_rows_when_a_service_is_degraded_or_failing_then_the_note_says_which_check_and_why():
    health = {s: ok(s) for s in SERVICES}
    health["order-gateway"] = {"status": "degraded", "checks": {"nats": True, "consumer:order-gateway": False},
                               "degraded": {"consumer:order-gateway": "waiting for the broker"}}
    health["ticket-api"] = {"status": "failing", "checks": {"postgres": False, "nats": True}, "degraded": {}}
    health["webhook-ingest"] = None

    rows = {r.service: r for r in service_rows(facts(health=health))}

    assert (rows["order-gateway"].health, rows["order-gateway"].note) == (
        "degraded", "consumer:order-gateway: waiting for the broker")
    assert (rows["ticket-api"].health, rows["ticket-api"].note) == ("failing", "postgres failing")
    assert (rows["webhook-ingest"].health, rows["webhook-ingest"].uptime_s) == ("no answer", None)


def test_exit_code_when_every_service_reports_ok_then_0_else_1():
    starting = {**{s: ok(s) for s in SERVICES}, "risk-service": {"status": "starting", "checks": {}}}
    silent = {**{s: ok(s) for s in SERVICES}, "audit-recorder": None}

    assert [exit_code(facts()), exit_code(facts(health=starting)), exit_code(facts(health=silent))] == [0, 1, 1]


def test_summary_when_never_halted_and_no_checkpoint_then_active_and_none_yet():
    assert summary(facts(audit_last_seq=0)) == [
        ("home", "/srv/desk/.tradebus (nearest .tradebus/ up from /srv/desk/app)"),
        ("nats", "nats://127.0.0.1:4222"),
        ("mode", "PAPER"),
        ("broker", "http://127.0.0.1:5000 (alpaca-sim)"),
        ("trading state", "ACTIVE (never changed)"),
        ("audit checkpoint", "none yet; AUDIT at seq 0"),
    ]


def test_summary_when_halted_with_a_checkpoint_then_who_why_when_and_the_checkpoint_seq():
    halt = TradingStateChanged(producer="tradectl", correlation_id="c-1", state=TradingState.HALTED,
                               reason="fat finger", changed_by="ops@desk", occurred_at=NOW - timedelta(minutes=3))
    cp = AuditCheckpoint(producer="audit-recorder", correlation_id="c-2", seq=39, head_hash="ab" * 32,
                         signed_at=NOW - timedelta(seconds=8), key_id="0d79bc22", signature="c2ln")
    live = {**ENDPOINTS, "mode": "live", "broker_url": "https://api.alpaca.markets"}

    got = dict(summary(facts(trading_state=halt, checkpoint=cp, audit_last_seq=41, endpoints=live)))

    assert got["trading state"] == "HALTED: fat finger (by ops@desk, 2026-12-01 09:27:00 UTC, 3m ago)"
    assert got["audit checkpoint"] == "seq 39, signed 2026-12-01 09:29:52 UTC (8s ago, key 0d79bc22); AUDIT at seq 41"
    assert (got["mode"], got["broker"]) == ("LIVE", "https://api.alpaca.markets (Alpaca)")


def test_summary_when_something_could_not_be_read_or_no_endpoints_then_it_says_so():
    got = dict(summary(facts(endpoints=None, nats_from_env=True, unreadable={"trading_state": "TimeoutError: "})))

    assert got["home"].endswith(": no endpoints.json (no stack started here)")
    assert got["nats"] == "nats://127.0.0.1:4222 ($NATS_URL)"
    assert (got["mode"], got["broker"]) == ("-", "-")
    assert got["trading state"] == "UNKNOWN (TimeoutError: )"


def test_render_when_one_service_does_not_answer_then_table_rows_and_the_verdict_name_it():
    health = {**{s: ok(s) for s in SERVICES}, "webhook-ingest": None}

    lines = render(facts(health=health)).splitlines()
    table = lines[lines.index("") + 1:]

    assert table[0].split() == ["SERVICE", "HEALTH", "UP", "CONSUMER", "STREAM", "PENDING", "LAST", "EVENT", "NOTE"]
    assert table[1].split() == ["risk-service", "ok", "2m", "risk-service", "ORDERS", "0", "12s", "ago"]
    assert table[2].split() == ["risk-service-fills", "FILLS", "3", "never"]  # same service: name not repeated
    assert [line.split() for line in table if line.startswith("webhook-ingest")] == [
        ["webhook-ingest", "no", "answer", "-"]]
    assert lines[-1] == "NOT HEALTHY: webhook-ingest"


def test_as_json_when_rendered_then_every_fact_is_there_for_machines():
    out = json.loads(json.dumps(as_json(facts(audit_last_seq=5))))

    assert out["healthy"] is True and out["mode"] == "paper" and out["trading_state"]["state"] == "active"
    assert out["home"] == {"path": "/srv/desk/.tradebus", "how": "nearest .tradebus/ up from /srv/desk/app"}
    assert out["audit"] == {"checkpoint_seq": None, "checkpoint_signed_at": None, "checkpoint_key_id": None,
                            "audit_last_seq": 5}
    risk = next(s for s in out["services"] if s["service"] == "risk-service")
    assert risk["status"] == "ok" and risk["consumers"][1] == {
        "durable": "risk-service-fills", "stream": "FILLS", "pending": 3, "last_active": None, "last_event_age_s": None}


def test_text_table_when_some_columns_are_numbers_then_they_align_right():
    assert text_table(("A", "N"), [("x", "5"), ("long", "123")], right={1}) == ["A       N", "x       5", "long  123"]


# --- against a whole stack -----------------------------------------------------------------------------------------


@pytest.mark.integration
def test_status_and_risk_limits_when_run_below_a_running_home_then_it_is_found_and_both_tables_show_it(
        running_stack, tmp_path):
    home, _, _ = running_stack
    (tmp_path / ".tradebus").symlink_to(home, target_is_directory=True)  # `make up` in the repo: ./.tradebus
    deep = tmp_path / "docs" / "notes"
    deep.mkdir(parents=True)
    env = {k: v for k, v in stack_env(home).items() if k != "TRADEBUS_HOME"}

    def tradectl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([TRADECTL, *args], cwd=deep, env=env, capture_output=True, text=True, timeout=60)

    status = tradectl("status")
    status_json = tradectl("status", "--json")
    limits = tradectl("risk", "limits")
    limits_json = tradectl("risk", "limits", "--json")
    elsewhere = subprocess.run([TRADECTL, "status"], cwd=home.parent, env=env, capture_output=True, text=True,
                               timeout=60)

    endpoints = json.loads((home / "endpoints.json").read_text())
    lines = status.stdout.splitlines()
    assert status.returncode == 0, status.stdout + status.stderr
    assert lines[0] == f"home              {home} (nearest .tradebus/ up from {deep})"
    assert f"broker            {endpoints['broker_url']} (alpaca-sim)" in lines and "mode              PAPER" in lines
    assert "trading state     ACTIVE (never changed)" in lines
    assert any(line.startswith("audit checkpoint  ") for line in lines)
    rows = [line.split() for line in lines[lines.index("") + 2:] if line and not line.startswith("all ")]
    assert {r[0] for r in rows if r[1] == "ok"} == set(SERVICES)
    fills = next(r for r in rows if "risk-service-fills" in r)
    assert fills[fills.index("risk-service-fills"):][:3] == ["risk-service-fills", "FILLS", "0"]
    assert lines[-1] == f"all {len(SERVICES)} services healthy"
    as_obj = json.loads(status_json.stdout)
    assert status_json.returncode == 0 and as_obj["healthy"] is True and as_obj["nats_url"] == endpoints["nats_url"]
    assert {c["durable"] for s in as_obj["services"] for c in s["consumers"]} >= {"risk-service", "order-gateway"}
    assert limits.returncode == 0, limits.stderr
    assert limits.stdout.startswith("trading state ACTIVE   approval TTL ")
    assert "max order notional" in limits.stdout and "50,000.00" in limits.stdout
    assert json.loads(limits_json.stdout)["limits"]["max_order_notional"] == "50000"
    assert elsewhere.returncode == 1 and "no .tradebus/ directory in" in elsewhere.stderr
    assert "--home DIR or TRADEBUS_HOME=DIR" in elsewhere.stderr
    assert not os.path.exists(home.parent / ".tradebus")
