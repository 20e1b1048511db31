"""The bootstrap of audit-recorder: settings and the signing key read at start, the AUDIT stream's protection and
the table's continuity checked, then the recorder built complete and run as the service's one background task."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nats.js import JetStreamContext
from pydantic import Field

from tradebus_contracts.services import Service
from tradebus_contracts.signing import key_id_for
from tradebus_contracts.streams import AUDIT
from tradebus_runtime import Connections, ServiceApp, ServiceSettings, Wiring, get_logger
from tradebus_runtime.keys import load_signing_key
from tradebus_runtime.settings import load_settings

from .cadence import Anchor, Cadence
from .checkpoints import Checkpoints, last_anchor
from .recorder import Recorder, RecorderConfig
from .startup import StreamProtection, protection_problems
from .store import Store

SERVICE = Service.AUDIT_RECORDER
log = get_logger(__name__)


class AuditRecorderSettings(ServiceSettings):
    signing_key_path: Path = Field(
        validation_alias="AUDIT_SIGNING_KEY_PATH",
        description="PEM file of the recorder's Ed25519 checkpoint key (tradectl keys gen-audit)")
    checkpoint_dir: Path | None = Field(
        default=None, validation_alias="AUDIT_CHECKPOINT_DIR",
        description="where checkpoints.jsonl is appended (default $TRADEBUS_HOME/audit)")
    checkpoint_every_events: int = Field(default=1000, gt=0, validation_alias="AUDIT_CHECKPOINT_EVERY_EVENTS")
    checkpoint_every_s: float = Field(default=10.0, gt=0, validation_alias="AUDIT_CHECKPOINT_EVERY_S")
    batch: int = Field(default=1000, gt=0, le=10_000, validation_alias="AUDIT_BATCH")

    def checkpoint_directory(self) -> Path:
        return self.checkpoint_dir or self.tradebus_home / "audit"


class StreamUnprotected(RuntimeError):
    """The AUDIT stream could lose history: the recorder refuses to run on it."""


def load_key(path: Path) -> Ed25519PrivateKey:
    return load_signing_key(path, service=SERVICE, what="checkpoint signing key", create_with="tradectl keys gen-audit")


async def check_protection(js: JetStreamContext) -> None:
    """Refuse a stream that could lose history. The shell declares AUDIT with its protections first, so this fails
    where that declaration could not take effect (e.g. a NATS user not allowed to update streams)."""
    config = (await js.stream_info(AUDIT.name)).config
    problems = protection_problems(AUDIT.name, StreamProtection(bool(config.deny_delete), bool(config.deny_purge),
                                                                config.max_age))
    if problems:
        raise StreamUnprotected("refusing to record: " + "; ".join(problems))


async def bootstrap(io: Connections, settings: AuditRecorderSettings, key: Ed25519PrivateKey) -> Wiring:
    await check_protection(io.bus.js)
    checkpoints = Checkpoints(io.bus, key, settings.checkpoint_directory())
    cadence = Cadence(settings.checkpoint_every_events, settings.checkpoint_every_s)

    async def open_store() -> Store:
        return await Store.open(settings.database_url, SERVICE)

    anchor = await last_anchor(io.bus.js, Anchor(0, datetime.now(UTC)))
    recorder = Recorder(io.bus.js, open_store, checkpoints, RecorderConfig(settings.batch, cadence), anchor)
    await recorder.open()
    if anchor.seq > recorder.head.seq:  # rows a checkpoint vouched for are gone; they are recorded again from AUDIT
        log.warning("audit.table_behind_checkpoint", head_seq=recorder.head.seq, checkpoint_seq=anchor.seq)
    log.info("audit.signing_key", key_id=key_id_for(key.public_key()),
             checkpoint_file=str(settings.checkpoint_directory()))
    return Wiring(background={"record": recorder.run_forever}, checks={"recorder": recorder.alive},
                  on_stop=[recorder.stop])


def build_app(settings: AuditRecorderSettings | None = None) -> ServiceApp:
    settings = settings or load_settings(AuditRecorderSettings, SERVICE)
    key = load_key(settings.signing_key_path)

    async def wire(io: Connections) -> Wiring:
        return await bootstrap(io, settings, key)

    return ServiceApp(SERVICE, settings, wire, migrations_package="audit_recorder")
