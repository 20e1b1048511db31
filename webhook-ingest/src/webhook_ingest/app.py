"""Wiring of webhook-ingest: settings, the secrets, the intake and its edges, the HTTP server, in one place."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import Field, SecretStr

from tradebus_contracts.services import Service
from tradebus_runtime import Connections, ServiceApp, ServiceSettings, Wiring, get_logger, register_secret
from tradebus_runtime.http import HttpServer
from tradebus_runtime.settings import load_settings

from .edges import BusPublisher, PostgresDeliveries
from .intake import Intake
from .routes import http_app
from .verify import DEFAULT_TOLERANCE_S, Verifier, parse_secrets

SERVICE = Service.WEBHOOK_INGEST
log = get_logger(__name__)


class WebhookSettings(ServiceSettings):
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8001
    webhook_secrets: SecretStr = Field(default=SecretStr(""),
                                       description="comma-separated whsec_... secrets; any one of them verifies")
    webhook_secrets_file: Path | None = Field(default=None, description="a file of whsec_... secrets (comma or "
                                              "newline separated), read at start; added to WEBHOOK_SECRETS")
    webhook_tolerance_s: int = Field(default=DEFAULT_TOLERANCE_S, ge=1, le=86_400,
                                     description="how far webhook-timestamp may be from now, either way")
    webhook_max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=1024 * 1024)
    webhook_retry_after_s: int = Field(default=5, ge=1, le=3600, description="Retry-After of a 503")
    webhook_publish_timeout_s: float = Field(default=5.0, gt=0, le=30)


def load_secrets(s: WebhookSettings) -> tuple[str, ...]:
    """The configured secrets, checked; registered for log redaction. A bad one stops the service at start."""
    values = [s.webhook_secrets.get_secret_value()]
    if s.webhook_secrets_file is not None:
        try:
            values.append(s.webhook_secrets_file.read_text())
        except OSError as exc:
            raise SystemExit(f"webhook-ingest: cannot read WEBHOOK_SECRETS_FILE {s.webhook_secrets_file}: "
                             f"{exc.strerror}") from None
    try:
        secrets = parse_secrets(values)
    except ValueError as exc:
        raise SystemExit(f"webhook-ingest: WEBHOOK_SECRETS / WEBHOOK_SECRETS_FILE: {exc}") from None
    for secret in secrets:
        register_secret(secret)
    return secrets


async def bootstrap(io: Connections, s: WebhookSettings, secrets: tuple[str, ...]) -> Wiring:
    if not secrets:
        log.warning("webhook.no_secrets", message="no WEBHOOK_SECRETS or WEBHOOK_SECRETS_FILE: every webhook is "
                                                  "answered 503 until secrets are configured")
    intake = Intake(Verifier(secrets, s.webhook_tolerance_s), PostgresDeliveries(io.pool),
                    BusPublisher(io.bus, s.webhook_publish_timeout_s), lambda: datetime.now(UTC),
                    s.webhook_retry_after_s)
    log.info("webhook.ready", secrets=len(secrets), tolerance_s=s.webhook_tolerance_s,
             max_body_bytes=s.webhook_max_body_bytes, port=s.webhook_port)
    return HttpServer(http_app(intake, s.webhook_max_body_bytes), s.webhook_host, s.webhook_port).wiring()


def build_app(settings: WebhookSettings | None = None) -> ServiceApp:
    settings = settings or load_settings(WebhookSettings, SERVICE)
    secrets = load_secrets(settings)  # before connecting anywhere: a bad secret stops the start with a clear message

    async def wire(io: Connections) -> Wiring:
        return await bootstrap(io, settings, secrets)

    return ServiceApp(SERVICE, settings, wire, migrations_package="webhook_ingest")
