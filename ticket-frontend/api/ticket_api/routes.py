"""The HTTP API of DESIGN §7. Every error is a 4xx with a message (``{"detail": ...}``; per-field 422s in
FastAPI's standard list form), except 503 when a dependency (the risk service, NATS) does not answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, HTTPException, Path, Query
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from tradebus_contracts import CancelRequested, OrderRequested
from tradebus_contracts.envelope import Envelope
from tradebus_contracts.orders import SYMBOL_PATTERN
from tradebus_contracts.subjects import RISK_PREVIEW
from tradebus_runtime import Bus, get_logger

from . import live
from .context import PRODUCER, Ticket, cancel_requested_event_id, order_requested_event_id
from .models import (
    AccountOut,
    CancelAccepted,
    Message,
    OrderAccepted,
    OrderDetailOut,
    OrderIn,
    OrderListOut,
    OrderOut,
    PositionOut,
    PositionsOut,
    PreviewOut,
    QuoteOut,
    TimelineEntry,
    dec,
)
from .preview import RiskUnavailable, preview_request, shape_preview
from .readmodel import ReadModel
from .reducer import OrderState

log = get_logger(__name__)

SymbolPath = Annotated[str, Path(pattern=SYMBOL_PATTERN, max_length=16, description="ticker, e.g. AAPL or BRK.B")]
NOT_FOUND = {404: {"model": Message, "description": "unknown"}}
BAD_BODY = {400: {"model": Message, "description": "the body could not be read (not UTF-8 JSON)"}}
UNAVAILABLE = {503: {"model": Message, "description": "a service it depends on does not answer"}}


def api_router(ticket: Ticket) -> APIRouter:
    router = APIRouter(prefix="/api")
    settings = ticket.settings

    def bus() -> Bus:
        if ticket.bus is None:
            raise HTTPException(503, "the ticket API is starting: not connected to NATS yet")
        return ticket.bus

    def read_model() -> ReadModel:
        if ticket.read_model is None:
            raise HTTPException(503, "the ticket API is starting: the read model is not open yet")
        return ticket.read_model

    async def publish(event: Envelope) -> None:
        try:
            await bus().publish(event)
        except (NatsError, TimeoutError) as exc:
            log.warning("ticket.publish_failed", event_type=event.event_type, error=str(exc))
            raise HTTPException(503, f"could not publish {event.event_type}: NATS did not confirm ({exc})") from None

    @router.get("/quotes/{symbol}", response_model=QuoteOut, responses=NOT_FOUND)
    async def quote(symbol: SymbolPath) -> QuoteOut:
        found = ticket.refdata.quotes.get(symbol)
        if found is None:
            raise HTTPException(404, f"no quote for {symbol}: the broker has not sent one (unknown symbol?)")
        stale = datetime.now(UTC) - found.as_of > timedelta(seconds=settings.quote_stale_after_s)
        return QuoteOut(symbol=found.symbol, bid=dec(found.bid), ask=dec(found.ask), last=dec(found.last),
                        timestamp=found.as_of, stale=stale)

    @router.post("/orders/preview", response_model=PreviewOut, responses={**BAD_BODY, **UNAVAILABLE})
    async def preview(order: OrderIn) -> PreviewOut:
        fields = order.order_fields()
        body = preview_request(fields, None if order.order_id is None else str(order.order_id))
        try:
            reply = await bus().nc.request(RISK_PREVIEW, body, timeout=settings.preview_timeout_s)
            position = ticket.refdata.positions.get(fields.symbol)
            return shape_preview(reply.data, fields, position.qty if position is not None else Decimal(0))
        except (NoRespondersError, NatsTimeoutError, TimeoutError):
            raise HTTPException(503, "the risk service did not answer: no estimate can be given right now") from None
        except RiskUnavailable as exc:
            raise HTTPException(503, str(exc)) from None

    @router.post("/orders", status_code=202, response_model=OrderAccepted,
                 responses={409: {"model": Message, "description": "order_id already used for another order"},
                            **BAD_BODY, **UNAVAILABLE})
    async def place(order: OrderIn) -> OrderAccepted:
        order_id = order.order_id or uuid4()
        fields = order.order_fields()
        known = await read_model().order(order_id)
        if known is not None and known.has_order_fields and _fields_of(known) != fields.model_dump(mode="json"):
            raise HTTPException(409, f"order_id {order_id} is already used for a different order")
        event = OrderRequested(event_id=order_requested_event_id(order_id), producer=PRODUCER, order_id=order_id,
                               correlation_id=str(order_id), **fields.model_dump())
        await publish(event)
        log.info("ticket.order_requested", order_id=str(order_id), symbol=fields.symbol)
        return OrderAccepted(order_id=order_id)

    @router.get("/orders", response_model=OrderListOut)
    async def orders(status: Literal["open", "closed", "all"] = "all",
                     limit: Annotated[int, Query(ge=1, le=500)] = 50) -> OrderListOut:
        return OrderListOut(orders=[_order_out(s) for s in await read_model().orders(status, limit)])

    @router.get("/orders/{order_id}", response_model=OrderDetailOut, responses=NOT_FOUND)
    async def order_detail(order_id: UUID) -> OrderDetailOut:
        state = await read_model().order(order_id)
        if state is None:
            raise HTTPException(404, f"no order {order_id} is known")
        timeline = [TimelineEntry(**entry) for entry in await read_model().timeline(order_id)]
        return OrderDetailOut(**_order_out(state).model_dump(), timeline=timeline)

    @router.post("/orders/{order_id}/cancel", status_code=202, response_model=CancelAccepted,
                 responses={**NOT_FOUND, 409: {"model": Message, "description": "the order is already final"},
                            **UNAVAILABLE})
    async def cancel(order_id: UUID) -> CancelAccepted:
        state = await read_model().order(order_id)
        if state is None:
            raise HTTPException(404, f"no order {order_id} is known")
        if state.is_final:
            raise HTTPException(409, f"order {order_id} is already {state.status}: there is nothing to cancel")
        attempt = await read_model().count_events(order_id, "CancelResult")
        await publish(CancelRequested(event_id=cancel_requested_event_id(order_id, attempt), producer=PRODUCER,
                                      order_id=order_id, correlation_id=str(order_id), symbol=state.symbol,
                                      requested_by="ticket"))
        log.info("ticket.cancel_requested", order_id=str(order_id))
        return CancelAccepted(order_id=order_id)

    @router.get("/positions", response_model=PositionsOut)
    async def positions() -> PositionsOut:
        account = ticket.refdata.account
        return PositionsOut(
            positions=[PositionOut(symbol=p.symbol, qty=dec(p.qty), avg_entry_price=dec(p.avg_entry_price),
                                   market_value=dec(p.market_value), as_of=p.as_of)
                       for _, p in sorted(ticket.refdata.positions.items())],
            account=None if account is None else AccountOut(
                buying_power=dec(account.buying_power), equity=dec(account.equity), cash=dec(account.cash),
                as_of=account.as_of),
        )

    @router.get("/events", response_class=live.EventSourceResponse,
                responses={200: {"content": {"text/event-stream": {}},
                                 "description": "one SSE message per event: `event: <EventType>`, `data: <JSON>`"}})
    async def events() -> live.EventSourceResponse:
        return live.event_stream(bus().nc)

    return router


def _fields_of(state: OrderState) -> dict[str, Any]:
    return {"symbol": state.symbol, "side": state.side, "type": state.type, "time_in_force": state.time_in_force,
            "qty": dec(state.qty), "notional": dec(state.notional), "limit_price": dec(state.limit_price),
            "stop_price": dec(state.stop_price), "extended_hours": state.extended_hours}


def _order_out(state: OrderState) -> OrderOut:
    return OrderOut(
        order_id=state.order_id, symbol=state.symbol or "", side=state.side, type=state.type,
        time_in_force=state.time_in_force, qty=dec(state.qty), notional=dec(state.notional),
        limit_price=dec(state.limit_price), stop_price=dec(state.stop_price), extended_hours=state.extended_hours,
        status=str(state.status), filled_qty=dec(state.filled_qty) or "0", filled_avg_price=dec(state.filled_avg_price),
        reject_reasons=list(state.reject_reasons), cancel_outcome=state.cancel_outcome, created_at=state.created_at,
        updated_at=state.updated_at,
    )
