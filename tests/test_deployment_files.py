"""docker-compose.yml is the deployment path; no Docker engine runs here, so check what can be checked offline:
it parses, every service of DESIGN §2 is there, built from the one Dockerfile with its own SERVICE, health-checked,
given only its own identity; its NATS and PostgreSQL configuration is what `tradectl deploy init` generates (the
same code as `tradectl up`), valid for nats-server and PostgreSQL, byte-equal for the same secrets; no secret in it."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg
import pytest
import yaml

from tradebus_contracts.services import Service
from tradectl.deploy import deploy_files, init_deploy
from tradectl.embedded import EmbeddedPostgres, nats_server_binary
from tradectl.identities import PG_ROLES, ensure_identities, pg_role
from tradectl.natsconf import auth_config

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"risk-service", "order-gateway", "position-sync-service", "webhook-ingest", "ticket-api", "audit-recorder",
            "alpaca-sim"}
IDENTIFIED = SERVICES - {"alpaca-sim"}  # the services with a NATS user and a PostgreSQL role
ONE_SHOT = {"provision"}  # a job that runs to completion before the services start: no healthcheck


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def deploy_dir():
    base = Path(tempfile.mkdtemp(prefix="tradebus-deploy-"))
    try:
        init_deploy(base / "deploy")
        yield base / "deploy"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_compose_when_parsed_then_every_service_is_its_own_image_from_the_one_dockerfile():
    services = compose()["services"]

    assert {"nats", "postgres", "provision"} | SERVICES <= set(services)
    for name in SERVICES:
        build = services[name]["build"]
        assert build["context"] == "." and build["args"]["SERVICE"] == name
        assert services[name]["image"] == f"tradebus/{name}"
    assert services["ticket-api"]["build"]["target"] == "ticket-api"  # the image with the built ticket


def test_compose_when_parsed_then_every_long_running_service_has_a_healthcheck_and_waits_for_provisioning():
    services = compose()["services"]

    for name, service in services.items():
        if name in ONE_SHOT:
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name in IDENTIFIED:
        assert services[name]["depends_on"]["provision"]["condition"] == "service_completed_successfully"
        assert "tradebus_runtime.health" in " ".join(services[name]["healthcheck"]["test"])
    provision = services["provision"]
    assert provision["command"] == ["tradectl", "provision"]
    assert {d: c["condition"] for d, c in provision["depends_on"].items()} == {"nats": "service_healthy",
                                                                              "postgres": "service_healthy"}


def test_compose_when_parsed_then_each_service_gets_only_its_own_identity():
    spec = compose()
    services = spec["services"]
    for name in IDENTIFIED:
        service = services[name]
        env = service["environment"]
        role = pg_role(name)
        assert env["NATS_NKEY_SEED_FILE"] == "/run/secrets/nats_seed" and env["PGPASSFILE"] == "/run/secrets/pgpass"
        assert env["DATABASE_URL"] == f"postgresql://{role}@postgres:5432/tradebus"
        mounted = {s["source"]: s.get("target", s["source"]) for s in service["secrets"]}
        assert mounted[f"{role}_nats_seed"] == "nats_seed" and mounted[f"{role}_pgpass"] == "pgpass"
        others = {s for s in mounted if s.endswith(("_nats_seed", "_pgpass"))} - {f"{role}_nats_seed",
                                                                                   f"{role}_pgpass"}
        assert not others, f"{name} is given {others}"
        assert "nats_admin_password" not in mounted and "postgres_password" not in mounted
    assert spec["secrets"]["risk_service_nats_seed"]["file"] == "./deploy/secrets/nats/risk-service.nk"
    assert spec["secrets"]["risk_service_pgpass"]["file"] == "./deploy/secrets/postgres/risk_service.pgpass"


def test_compose_when_parsed_then_only_the_ticket_and_the_webhook_port_listen_outside():
    services = compose()["services"]

    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert published == {"ticket-api": ["8000:8000"], "webhook-ingest": ["8001:8001"]}


def test_compose_when_read_then_it_holds_no_secret(deploy_dir):
    text = (ROOT / "docker-compose.yml").read_text()
    secrets = [p.read_text().strip() for p in (deploy_dir / "secrets").rglob("*") if p.is_file()]
    secrets += [(deploy_dir / "keys" / "webhook.secret").read_text().strip()]
    assert secrets and not any(secret in text for secret in secrets)
    for name, service in compose()["services"].items():  # secrets by file only: no secret-named setting has a value
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|SEED|TOKEN|PRIVATE", key):
                assert key.endswith(("_FILE", "_PATH")) and str(value).startswith("/run/secrets/"), (name, key)
    assert not re.search(r"whsec_[A-Za-z0-9+/]{16}", text) and not re.search(r"\bSU[A-Z2-7]{40,}", text)  # a secret, a seed


def test_nats_config_when_generated_then_compose_runs_it_and_it_holds_public_keys_only(deploy_dir):
    services = compose()["services"]
    assert "./deploy/nats:/etc/nats:ro" in services["nats"]["volumes"]
    assert services["nats"]["command"] == ["-c", "/etc/nats/${TRADEBUS_NATS_CONFIG:-nats.conf}"]
    assert services["nats-2"]["profiles"] == ["cluster"] and services["nats-3"]["profiles"] == ["cluster"]
    auth = (deploy_dir / "nats" / "auth.conf").read_text()
    identities = ensure_identities(deploy_dir)
    assert auth == auth_config(identities.nats_public_keys, identities.admin_bcrypt)  # what `tradectl up` runs
    for key in identities.nats_public_keys.values():
        assert f'nkey: "{key}"' in auth
    assert identities.admin_password not in auth and not re.search(r"\bSU[A-Z2-7]{40,}", auth)
    for conf in ("nats.conf", "nats-cluster-1.conf", "nats-cluster-2.conf", "nats-cluster-3.conf"):
        text = (deploy_dir / "nats" / conf).read_text()
        assert 'include "auth.conf"' in text and "sync_interval: always" in text


def test_generated_files_when_made_again_from_the_same_secrets_then_byte_equal(deploy_dir):
    before = {p: p.read_bytes() for p in deploy_dir.rglob("*") if p.is_file()}
    init_deploy(deploy_dir)  # secrets exist: kept; the configuration regenerated from them
    after = {p: p.read_bytes() for p in deploy_dir.rglob("*") if p.is_file()}
    assert after == before
    identities = ensure_identities(deploy_dir)
    assert deploy_files(identities, "k").files == deploy_files(identities, "k").files


@pytest.mark.parametrize("conf", ["nats.conf", "nats-cluster-1.conf", "nats-cluster-3.conf"])
def test_nats_config_when_checked_by_nats_server_then_valid(deploy_dir, conf):
    result = subprocess.run([str(nats_server_binary()), "-t", "-c", str(deploy_dir / "nats" / conf)],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


async def test_postgres_init_when_run_then_each_role_signs_in_with_its_password_only(deploy_dir):
    script = (deploy_dir / "postgres" / "init" / "10-roles.sql").read_text()
    identities = ensure_identities(deploy_dir)
    for role in PG_ROLES:
        assert identities.pg_password(role) not in script  # SCRAM verifiers only
    root = Path(tempfile.mkdtemp(prefix="tradebus-pg-init-"))
    root.chmod(0o711)
    server = EmbeddedPostgres(root / "postgres", durable=False, superuser_password="init-test")
    server.start()
    try:
        server.psql(script, database="tradebus")
        for role in (pg_role(Service.RISK), pg_role(Service.AUDIT_RECORDER)):
            conn = await asyncpg.connect(server.url().replace("postgres@", f"{role}@"),
                                         password=identities.pg_password(role))
            assert await conn.fetchval("SELECT current_user") == role
            await conn.close()
            with pytest.raises(asyncpg.InvalidPasswordError):
                await asyncpg.connect(server.url().replace("postgres@", f"{role}@"), password="wrong")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_compose_when_parsed_then_nats_has_jetstream_with_fsync_always_and_the_gateway_is_paper_by_default():
    gateway = compose()["services"]["order-gateway"]

    assert gateway["environment"]["TRADEBUS_MODE"] == "paper"
    assert "--live" not in " ".join(gateway.get("command", []))


def test_dockerfile_when_read_then_each_image_installs_only_its_own_package_and_the_ticket_is_built():
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert 'uv sync --frozen --no-dev --no-editable --package "${SERVICE}"' in dockerfile
    assert "USER tradebus" in dockerfile
    assert "RUN npm run build" in dockerfile and "COPY --from=ticket /ticket/dist /app/ticket-dist" in dockerfile
    assert re.search(r"^FROM base AS service$", dockerfile, re.M)  # the default target: a service without the ticket
