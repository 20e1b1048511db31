"""docker-compose.yml is the deployment path; no Docker engine runs here, so check what can be checked offline:
it parses, every service of DESIGN §2 is there, built from the one Dockerfile with its own SERVICE, health-checked,
configured from the environment like `tradectl up` configures the processes."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"risk-service", "order-gateway", "position-sync-service", "webhook-ingest", "ticket-api", "audit-recorder",
            "alpaca-sim"}


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_when_parsed_then_every_service_is_its_own_image_from_the_one_dockerfile():
    services = compose()["services"]

    assert {"nats", "postgres"} | SERVICES <= set(services)
    for name in SERVICES:
        build = services[name]["build"]
        assert build["context"] == "." and build["args"]["SERVICE"] == name
        assert services[name]["image"] == f"tradebus/{name}"


def test_compose_when_parsed_then_nats_has_jetstream_with_fsync_always_and_services_wait_for_health():
    services = compose()["services"]
    nats_conf = (ROOT / "deploy" / "nats.conf").read_text()

    assert "jetstream" in nats_conf and "sync_interval: always" in nats_conf
    for name in SERVICES - {"alpaca-sim"}:
        service = services[name]
        assert service["depends_on"]["nats"]["condition"] == "service_healthy"
        assert service["environment"]["NATS_URL"] == "nats://nats:4222"
        assert "tradebus_runtime.health" in " ".join(service["healthcheck"]["test"])


def test_compose_when_parsed_then_gateway_is_paper_by_default():
    gateway = compose()["services"]["order-gateway"]

    assert gateway["environment"]["TRADEBUS_MODE"] == "paper"
    assert "--live" not in " ".join(gateway.get("command", []))


def test_dockerfile_when_read_then_each_image_installs_only_its_own_package():
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert 'uv sync --frozen --no-dev --no-editable --package "${SERVICE}"' in dockerfile
    assert "USER tradebus" in dockerfile
