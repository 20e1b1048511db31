"""The broker's FILL history, for a rebuild (AC-21.2.3): the gateway's paged request, and each Alpaca FILL activity
as the same ``Fill`` the live path books.

Only the gateway holds broker credentials, so it pages through Alpaca's ``/v2/account/activities/FILL`` for us:
``rpc.order-gateway.fills-history`` (`rpc.GATEWAY_FILLS_HISTORY`) takes a `rpc.FillsHistoryRequest` and answers a
`rpc.FillsHistoryReply` (raw FILL activities and the next page's token) or ``{"error": ...}``; ``read_page`` is the
one place here that asks.

A FILL activity (REST v1): ``id`` ("<timestamp>::<uuid>"), ``order_id`` (the broker's), ``symbol``, ``side``
(``buy``, ``sell``, ``sell_short``), ``qty`` (this execution), ``price``, ``cum_qty`` (the order's after it),
``leaves_qty``, ``type`` (``fill`` when it completed the order, else ``partial_fill``), ``transaction_time``.
Its execution id is the part after ``::`` (the whole id when there is none): where that equals the trade update's
``execution_id`` the two paths meet by id; where it does not (or the gateway's polling made a synthetic id), they
meet by the order's cumulative range (``coverage``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from nats.aio.client import Client as NatsClient
from pydantic import ValidationError

from tradebus_contracts.orders import OrderSide
from tradebus_contracts.rpc import (
    FILLS_HISTORY_MAX_PAGE_SIZE,
    FillsHistoryReply,
    FillsHistoryRequest,
)
from tradebus_contracts.subjects import GATEWAY_FILLS_HISTORY

from .activities import InvalidActivity, to_decimal
from .sequencer import Fill


class HistoryUnavailable(Exception):
    """The gateway did not give the history (no answer, an error, a page that is not one)."""


def fill_from_activity(raw: Mapping[str, Any]) -> Fill:
    activity_id = str(raw.get("id") or "")
    if raw.get("activity_type", "FILL") != "FILL" or not activity_id:
        raise InvalidActivity(f"not a FILL activity with an id: {activity_id or raw.get('activity_type')!r}")
    try:
        side = OrderSide.BUY if raw["side"] == "buy" else OrderSide.SELL  # sell, sell_short
        qty, price, cum_qty = (to_decimal(raw[k], k) for k in ("qty", "price", "cum_qty"))
        executed_at = datetime.fromisoformat(str(raw["transaction_time"]).replace("Z", "+00:00"))
        order_id, symbol = str(raw["order_id"]), str(raw["symbol"])
    except (KeyError, ValueError) as exc:
        raise InvalidActivity(f"FILL activity {activity_id}: {type(exc).__name__}: {exc}") from None
    if qty is None or price is None or cum_qty is None or qty <= 0 or executed_at.tzinfo is None:
        raise InvalidActivity(f"FILL activity {activity_id}: needs qty > 0, price, cum_qty and an aware time")
    execution_id = activity_id.split("::", 1)[1] if "::" in activity_id else activity_id
    return Fill(execution_id, order_id, symbol.upper(), side, qty, price, cum_qty, executed_at,
                order_final=raw.get("type") == "fill")


async def read_page(nc: NatsClient, page_token: str | None, timeout: float,
                    page_size: int = FILLS_HISTORY_MAX_PAGE_SIZE) -> tuple[list[dict[str, Any]], str | None]:
    """One page of FILL activities and the token of the next (None: the last page)."""
    try:
        request = FillsHistoryRequest(page_token=page_token, page_size=page_size)
        reply = await nc.request(GATEWAY_FILLS_HISTORY, request.model_dump_json().encode(), timeout=timeout)
    except Exception as exc:
        raise HistoryUnavailable(f"{GATEWAY_FILLS_HISTORY}: {type(exc).__name__}: {exc}") from exc
    try:
        body = FillsHistoryReply.model_validate_json(reply.data)
    except ValidationError:  # {"error": ...}, or not a page at all
        answer = reply.data[:200].decode(errors="replace")
        raise HistoryUnavailable(f"{GATEWAY_FILLS_HISTORY} answered {answer}") from None
    return body.activities, body.next_page_token or None


async def read_history(nc: NatsClient, timeout: float, page_size: int = FILLS_HISTORY_MAX_PAGE_SIZE) -> list[Fill]:
    """Every FILL the broker has, each once (a page read twice repeats ids), as fills."""
    fills: dict[str, Fill] = {}
    token: str | None = None
    seen_tokens: set[str] = set()
    while True:
        activities, token = await read_page(nc, token, timeout, page_size)
        for raw in activities:
            fill = fill_from_activity(raw)
            fills.setdefault(fill.execution_id, fill)
        if token is None:
            return list(fills.values())
        if token in seen_tokens:
            raise HistoryUnavailable(f"{GATEWAY_FILLS_HISTORY} handed out page token {token!r} twice")
        seen_tokens.add(token)
