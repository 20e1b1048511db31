"""The ticket API's settings: one frozen pydantic-settings class, read from the environment (STYLE §9)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from tradebus_runtime import ServiceSettings

DIST = Path(__file__).resolve().parents[2] / "dist"


class TicketSettings(ServiceSettings):
    ticket_host: str = "127.0.0.1"
    ticket_port: int = 8000
    mode: Literal["paper", "live"] = Field(default="paper", validation_alias="TRADEBUS_MODE")
    broker: Literal["simulator", "alpaca"] = Field(default="simulator", validation_alias="TRADEBUS_BROKER")
    frontend_dist: Path = DIST
    quote_stale_after_s: float = Field(default=60.0, gt=0, validation_alias="TICKET_QUOTE_STALE_S",
                                       description="a quote older than this is reported stale (risk's default)")
    preview_timeout_s: float = Field(default=2.0, gt=0, validation_alias="TICKET_PREVIEW_TIMEOUT_S",
                                     description="how long a preview waits for the risk service")
    positions_timeout_s: float = Field(default=2.0, gt=0, validation_alias="TICKET_POSITIONS_TIMEOUT_S",
                                       description="how long GET /api/positions waits for position-sync-service")
