"""The plan of `tradectl up` from plain values: which children run, with which arguments and environment."""

from dataclasses import replace
from pathlib import Path

from tradebus_contracts.services import Service
from tradectl.identities import StackIdentities
from tradectl.keys import SigningKeyFiles
from tradectl.plan import ALPACA_URLS, HttpHealth, NatsHealth, StackFacts, WebhookSubscription, plan_stack

HOME = Path("/srv/tradebus")
BIN = Path("/opt/venv/bin")
SIGNING = SigningKeyFiles(HOME / "keys/approval-signing.pem", HOME / "keys/approval-signing.pub", "kid-1", "PUBKEY")
AUDIT_KEY = SigningKeyFiles(HOME / "keys/audit-signing.pem", HOME / "keys/audit-signing.pub", "kid-2", "AUDITPUB")
PAPER_WITH_SIMULATOR = StackFacts(
    home=HOME,
    mode="paper",
    nats_url="nats://127.0.0.1:4222",
    database_url="postgresql://postgres@127.0.0.1:5432/tradebus",
    broker="simulator",
    broker_url="http://127.0.0.1:9100",
    ticket_port=8000,
    webhook_port=9200,
    signing_key=SIGNING,
    audit_key=AUDIT_KEY,
    webhook_secret_path=HOME / "keys/webhook.secret",
    bin_dir=BIN,
    base_env={"PATH": "/usr/bin", "NATS_URL": "nats://elsewhere:4222"},
)
LIVE_WITH_ALPACA = replace(PAPER_WITH_SIMULATOR, mode="live", broker="alpaca", broker_url=ALPACA_URLS["live"])


def service(plan, name):
    return next(child for child in plan.services if child.name == name)


def test_plan_when_paper_with_simulator_then_simulator_runs_first_and_gateway_trades_paper_against_it():
    plan = plan_stack(PAPER_WITH_SIMULATOR)
    gateway = service(plan, Service.GATEWAY)

    assert plan.simulator is not None
    assert plan.simulator.argv == (str(BIN / "alpaca-sim"), "--host", "127.0.0.1", "--port", "9100",
                                   "--state", str(HOME / "alpaca-sim/state.json"))
    assert plan.simulator.health == HttpHealth("http://127.0.0.1:9100/admin/health")
    assert gateway.argv == (str(BIN / "order-gateway"),)
    assert gateway.env["BROKER_URL"] == "http://127.0.0.1:9100"
    assert gateway.env["TRADEBUS_MODE"] == "paper" and gateway.env["TRADEBUS_BROKER"] == "simulator"
    assert HOME / "alpaca-sim" in plan.directories and HOME / "logs" in plan.directories


def test_plan_when_live_with_alpaca_then_gateway_gets_live_flag_and_no_simulator_or_broker_url():
    plan = plan_stack(LIVE_WITH_ALPACA)
    gateway = service(plan, Service.GATEWAY)

    assert plan.simulator is None
    assert gateway.argv == (str(BIN / "order-gateway"), "--live")
    assert "BROKER_URL" not in gateway.env
    assert gateway.env["TRADEBUS_MODE"] == "live" and gateway.env["TRADEBUS_BROKER"] == "alpaca"
    assert plan.endpoints["mode"] == "live" and plan.endpoints["broker_url"] == "https://api.alpaca.markets"
    assert plan.directories == (HOME / "logs",)


def test_plan_when_paper_with_alpaca_then_no_simulator_and_paper_api_in_endpoints():
    plan = plan_stack(replace(PAPER_WITH_SIMULATOR, broker="alpaca", broker_url=ALPACA_URLS["paper"]))

    assert plan.simulator is None
    assert "--live" not in service(plan, Service.GATEWAY).argv
    assert plan.endpoints["broker_url"] == "https://paper-api.alpaca.markets"


def test_plan_when_planned_then_every_service_runs_once_in_start_order_with_the_shared_settings():
    plan = plan_stack(PAPER_WITH_SIMULATOR)

    assert [child.name for child in plan.services] == [Service.AUDIT_RECORDER, Service.RISK, Service.GATEWAY,
                                                       Service.POSITION_SYNC, Service.WEBHOOK_INGEST,
                                                       Service.TICKET_API]
    for child in plan.services:
        assert child.argv[0] == str(BIN / child.name)
        assert child.env["NATS_URL"] == "nats://127.0.0.1:4222"  # the stack's NATS wins over the inherited one
        assert child.env["DATABASE_URL"] == "postgresql://postgres@127.0.0.1:5432/tradebus"
        assert child.env["TRADEBUS_HOME"] == str(HOME)
        assert child.env["TRADEBUS_MODE"] == "paper" and child.env["TRADEBUS_BROKER"] == "simulator"
        assert child.env["PATH"] == "/usr/bin"
        assert child.log_path == HOME / "logs" / f"{child.name}.log"
        assert child.health == NatsHealth("nats://127.0.0.1:4222")


def test_plan_when_planned_then_each_service_gets_only_its_own_settings():
    plan = plan_stack(PAPER_WITH_SIMULATOR)
    own = {"AUDIT_SIGNING_KEY_PATH", "RISK_SIGNING_KEY_PATH", "GATEWAY_TRUSTED_KEYS", "BROKER_URL", "WEBHOOK_PORT", "WEBHOOK_SECRETS_FILE",
           "TICKET_PORT"}

    settings = {child.name: {k: v for k, v in child.env.items() if k in own} for child in plan.services}

    assert settings == {
        Service.AUDIT_RECORDER: {"AUDIT_SIGNING_KEY_PATH": str(HOME / "keys/audit-signing.pem")},
        Service.RISK: {"RISK_SIGNING_KEY_PATH": str(HOME / "keys/approval-signing.pem")},
        Service.GATEWAY: {"GATEWAY_TRUSTED_KEYS": "PUBKEY", "BROKER_URL": "http://127.0.0.1:9100"},
        Service.POSITION_SYNC: {},
        Service.WEBHOOK_INGEST: {"WEBHOOK_PORT": "9200", "WEBHOOK_SECRETS_FILE": str(HOME / "keys/webhook.secret")},
        Service.TICKET_API: {"TICKET_PORT": "8000"},
    }


def test_plan_when_simulator_planned_then_it_inherits_the_environment_without_the_stack_settings():
    simulator = plan_stack(PAPER_WITH_SIMULATOR).simulator

    assert simulator is not None
    assert dict(simulator.env) == {"PATH": "/usr/bin", "NATS_URL": "nats://elsewhere:4222", "PYTHONUNBUFFERED": "1"}


def test_plan_when_planned_then_endpoints_name_exactly_the_six_published_addresses():
    plan = plan_stack(PAPER_WITH_SIMULATOR)

    assert dict(plan.endpoints) == {
        "nats_url": "nats://127.0.0.1:4222",
        "database_url": "postgresql://postgres@127.0.0.1:5432/tradebus",
        "ticket_url": "http://127.0.0.1:8000",
        "webhook_url": "http://127.0.0.1:9200/webhooks/fills",
        "broker_url": "http://127.0.0.1:9100",
        "mode": "paper",
    }


def test_plan_when_the_simulator_is_the_broker_then_it_is_subscribed_to_deliver_signed_webhooks_to_webhook_ingest():
    plan = plan_stack(PAPER_WITH_SIMULATOR)

    assert plan.webhooks == WebhookSubscription("http://127.0.0.1:9100/admin/webhooks",
                                                "http://127.0.0.1:9200/webhooks/fills", HOME / "keys/webhook.secret")
    assert plan.webhooks.target_url == plan.endpoints["webhook_url"]


def test_plan_when_alpaca_is_the_broker_then_no_webhook_subscription_but_webhook_ingest_still_has_its_secret():
    plan = plan_stack(LIVE_WITH_ALPACA)

    assert plan.webhooks is None
    assert service(plan, Service.WEBHOOK_INGEST).env["WEBHOOK_SECRETS_FILE"] == str(HOME / "keys/webhook.secret")


def test_plan_when_stopping_then_services_stop_first_with_7s_and_the_simulator_after_with_2s():
    plan = plan_stack(PAPER_WITH_SIMULATOR)

    assert plan.simulator is not None
    assert {(c.stop_group, c.stop_timeout_s) for c in plan.services} == {(0, 7.0)}
    assert (plan.simulator.stop_group, plan.simulator.stop_timeout_s) == (1, 2.0)


def test_plan_when_planned_twice_from_the_same_facts_then_the_plans_are_equal():
    assert plan_stack(PAPER_WITH_SIMULATOR) == plan_stack(PAPER_WITH_SIMULATOR)


SECURED = replace(
    PAPER_WITH_SIMULATOR,
    base_env={"PATH": "/usr/bin", "NATS_NKEY_SEED_FILE": "/elsewhere/x.nk", "PGPASSFILE": "/elsewhere/pgpass",
              "PGPASSWORD": "leak"},
    nats_identities=StackIdentities(HOME / "secrets", {}, "admin-pw", "$2b$hash", "su-pw"),
    pg_identities=StackIdentities(HOME / "secrets", {}, "admin-pw", "$2b$hash", "su-pw"),
)


def test_plan_when_secured_then_each_service_gets_only_its_own_identity_and_endpoints_name_the_operator():
    plan = plan_stack(SECURED)

    for name in Service:
        env = service(plan, name).env
        role = name.value.replace("-", "_")
        assert env["NATS_NKEY_SEED_FILE"] == str(HOME / f"secrets/nats/{name}.nk")
        assert env["PGPASSFILE"] == str(HOME / f"secrets/postgres/{role}.pgpass")
        assert env["DATABASE_URL"] == f"postgresql://{role}@127.0.0.1:5432/tradebus"
        assert "PGPASSWORD" not in env
        assert service(plan, name).health == NatsHealth("nats://127.0.0.1:4222", HOME / "secrets/nats/tradectl.nk")
    assert plan.endpoints["database_url"] == "postgresql://tradectl@127.0.0.1:5432/tradebus"
    assert "admin-pw" not in str(plan) and "su-pw" not in str(plan)


def test_plan_when_servers_are_the_users_own_then_no_identity_is_handed_out():
    plan = plan_stack(PAPER_WITH_SIMULATOR)

    for name in Service:
        env = service(plan, name).env
        assert "NATS_NKEY_SEED_FILE" not in env and "PGPASSFILE" not in env
        assert env["DATABASE_URL"] == PAPER_WITH_SIMULATOR.database_url
