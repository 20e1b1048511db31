"""Only the order gateway, the one service that decrypts broker credentials, inherits the vault's master key."""

from pathlib import Path

from tradebus_contracts.services import Service
from tradebus_runtime.vault import ENV_MASTER_KEY
from tradectl.keys import SigningKeyFiles
from tradectl.plan import StackFacts, plan_stack

HOME = Path("/srv/tradebus")
FACTS = StackFacts(
    home=HOME, mode="paper", nats_url="nats://127.0.0.1:4222", database_url="postgresql://postgres@127.0.0.1/tradebus",
    broker="simulator", broker_url="http://127.0.0.1:9100", ticket_port=8000, webhook_port=9200,
    signing_key=SigningKeyFiles(HOME / "keys/a.pem", HOME / "keys/a.pub", "kid-1", "PUB"),
    audit_key=SigningKeyFiles(HOME / "keys/b.pem", HOME / "keys/b.pub", "kid-2", "AUDITPUB"),
    webhook_secret_path=HOME / "keys/webhook.secret", bin_dir=Path("/opt/venv/bin"),
    base_env={"PATH": "/usr/bin", ENV_MASTER_KEY: "k1:c2VjcmV0LW1hc3Rlci1rZXk="},
)


def test_plan_when_the_runner_holds_the_master_key_then_only_the_order_gateway_inherits_it():
    plan = plan_stack(FACTS)

    holders = [child.name for child in (*plan.services, plan.simulator) if child and ENV_MASTER_KEY in child.env]

    assert holders == [Service.GATEWAY]
    gateway = next(child for child in plan.services if child.name == Service.GATEWAY)
    assert gateway.env[ENV_MASTER_KEY] == FACTS.base_env[ENV_MASTER_KEY]
    assert all(child.env["PATH"] == "/usr/bin" for child in (*plan.services, plan.simulator))  # the rest inherited
