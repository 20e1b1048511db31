"""Structured JSON logs: one event name per thing that happened. Never a header, key or secret."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog


def configure(level: str = "info") -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), stream=sys.stderr, format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        cache_logger_on_first_use=True,
    )


log = structlog.get_logger("alpaca_sim")


def trade_update_logged(update: dict[str, Any]) -> None:
    """Broker listener: one line per trade update, bound to the order's ids."""
    order = update["order"]
    log.info(
        "trade_update", trade_event=update["event"], order_id=order["id"], client_order_id=order["client_order_id"],
        symbol=order["symbol"], status=order["status"], execution_id=update.get("execution_id"),
        qty=update.get("qty"), price=update.get("price"),
    )
