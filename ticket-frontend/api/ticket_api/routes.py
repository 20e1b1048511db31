"""The HTTP API of DESIGN §7, as module-level routes. Each route receives the running `Ticket` (bus, read model,
reference data, settings) as a FastAPI dependency (`TicketDep`, from ``app.state``, set by ``app.http_app``).

Every error is a 4xx with a message (``{"detail": ...}``; per-field 422s in FastAPI's standard list form, each
quoting at most an excerpt of the input; 413 for a body over 64 KiB: ``guards``), except 503 when a dependency
(the risk service, position-sync-service, NATS) does not answer: one way to ask another service, `_ask`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from nats.errors import Error as NatsError

from tradebus_contracts import CancelRequested, OrderFields, OrderRequested
from tradebus_contracts.decimal_types import decimal_to_str
from tradebus_contracts.envelope import Envelope
from tradebus_contracts.orders import SYMBOL_PATTERN
from tradebus_contracts.subjects import LEDGER_POSITIONS, RISK_PREVIEW
from tradebus_runtime import Bus, get_logger
from tradebus_runtime.trading_state import TradingStateFollower, TradingStateUnknown

from . import live
from .context import PRODUCER, Ticket, cancel_requested_event_id, order_requested_event_id
from .guards import ExactJsonRoute
from .models import (
    AccountOut,
    CancelAccepted,
    MarketOut,
    Message,
    ModeOut,
    OrderAccepted,
    OrderDetailOut,
    OrderIn,
    OrderListOut,
    OrderOut,
    PositionsOut,
    PreviewOut,
    QuoteOut,
    StatusOut,
    TimelineEntry,
    TradingStateOut,
    dec,
)
from .positions import UNAVAILABLE as POSITIONS_UNAVAILABLE
from .positions import LedgerUnavailable, ledger_request, shape_positions
from .preview import RiskUnavailable, preview_request, shape_preview
from .readmodel import ReadModel
from .reducer import OrderState

log = get_logger(__name__)

SymbolPath = Annotated[str, Path(pattern=SYMBOL_PATTERN, max_length=16, description="ticker, e.g. AAPL or BRK.B")]
NOT_FOUND = {404: {"model": Message, "description": "unknown"}}
BAD_BODY = {400: {"model": Message, "description": "the body could not be read (not UTF-8 JSON)"}}
UNAVAILABLE = {503: {"model": Message, "description": "a service it depends on does not answer"}}
TOO_LARGE = {413: {"model": Message, "description": "the body is over 64 KiB (guards.BodyLimit)"}}


def _ticket(request: Request) -> Ticket:
    ticket: Ticket = request.app.state.ticket  # put there by app.http_app, the one app that serves this router
    return ticket


TicketDep = Annotated[Ticket, Depends(_ticket)]

router = APIRouter(prefix="/api", route_class=ExactJsonRoute)  # JSON numbers read as Decimals, every digit kept


@router.get("/mode", response_model=ModeOut)
async def mode(ticket: TicketDep) -> ModeOut:
    return ModeOut(mode=ticket.settings.mode, broker=ticket.settings.broker)


@router.get("/status", response_model=StatusOut)
async def status(ticket: TicketDep) -> StatusOut:
    """The page's status bar: mode, the broker's market clock (REFDATA ``clock``) and the trading state; the state's
    changes also arrive live as ``TradingStateChanged`` on ``/api/events``."""
    clock = ticket.refdata.clock
    market = None if clock is None else MarketOut(is_open=clock.is_open, next_open=clock.next_open,
                                                  next_close=clock.next_close, as_of=clock.as_of)
    return StatusOut(mode=ticket.settings.mode, broker=ticket.settings.broker, market=market,
                     trading_state=await _trading_state(ticket.trading))


async def _trading_state(trading: TradingStateFollower) -> TradingStateOut:
    try:
        state = await trading.current()
    except TradingStateUnknown as exc:
        return TradingStateOut(state=None, reason=str(exc), changed_by=None, changed_at=None)
    last = trading.last
    if last is None:  # never set: ACTIVE
        return TradingStateOut(state=state, reason=None, changed_by=None, changed_at=None)
    return TradingStateOut(state=state, reason=last.reason, changed_by=last.changed_by, changed_at=last.occurred_at)


@router.get("/quotes/{symbol}", response_model=QuoteOut, responses=NOT_FOUND)
async def quote(symbol: SymbolPath, ticket: TicketDep) -> QuoteOut:
    found = ticket.refdata.quotes.get(symbol)
    if found is None:
        raise HTTPException(404, f"no quote for {symbol}: the broker has not sent one (unknown symbol?)")
    stale = datetime.now(UTC) - found.as_of > timedelta(seconds=ticket.settings.quote_stale_after_s)
    return QuoteOut(symbol=found.symbol, bid=dec(found.bid), ask=dec(found.ask), last=dec(found.last),
                    timestamp=found.as_of, stale=stale)


@router.post("/orders/preview", response_model=PreviewOut, responses={**BAD_BODY, **TOO_LARGE, **UNAVAILABLE})
async def preview(order: OrderIn, ticket: TicketDep) -> PreviewOut:
    raw = await _ask(ticket.bus, RISK_PREVIEW, preview_request(order.order_fields(), order.order_id),
                     timeout=ticket.settings.preview_timeout_s,
                     unavailable="the risk service did not answer: no estimate can be given right now")
    try:
        return shape_preview(raw)
    except RiskUnavailable as exc:
        raise HTTPException(503, str(exc)) from None


@router.post("/orders", status_code=202, response_model=OrderAccepted,
             responses={409: {"model": Message, "description": "order_id already used for another order"},
                        **BAD_BODY, **TOO_LARGE, **UNAVAILABLE})
async def place(order: OrderIn, ticket: TicketDep) -> OrderAccepted:
    order_id = order.order_id or uuid4()
    fields = order.order_fields()
    known = await ticket.read_model.order(order_id)
    # compared as sent (decimal strings): a repeat spelled differently would be dropped as a duplicate message
    if known is not None and known.fields is not None and \
            known.fields.model_dump(mode="json") != fields.model_dump(mode="json"):
        raise HTTPException(409, f"order_id {order_id} is already used for a different order")
    event = OrderRequested(event_id=order_requested_event_id(order_id), producer=PRODUCER, order_id=order_id,
                           correlation_id=str(order_id), **fields.model_dump())
    await _publish(ticket.bus, event)
    log.info("ticket.order_requested", order_id=str(order_id), symbol=fields.symbol)
    return OrderAccepted(order_id=order_id)


@router.get("/orders", response_model=OrderListOut)
async def orders(ticket: TicketDep, status: Literal["open", "closed", "all"] = "all",
                 limit: Annotated[int, Query(ge=1, le=500)] = 50) -> OrderListOut:
    return OrderListOut(orders=[_order_out(s) for s in await ticket.read_model.orders(status, limit)])


@router.get("/orders/{order_id}", response_model=OrderDetailOut, responses=NOT_FOUND)
async def order_detail(order_id: UUID, ticket: TicketDep) -> OrderDetailOut:
    state = await _known_order(ticket.read_model, order_id)
    timeline = [TimelineEntry(**entry) for entry in await ticket.read_model.timeline(order_id)]
    return OrderDetailOut(**_order_out(state).model_dump(), timeline=timeline)


@router.post("/orders/{order_id}/cancel", status_code=202, response_model=CancelAccepted,
             responses={**NOT_FOUND, 409: {"model": Message, "description": "the order is already final"},
                        **TOO_LARGE, **UNAVAILABLE})
async def cancel(order_id: UUID, ticket: TicketDep) -> CancelAccepted:
    state = await _known_order(ticket.read_model, order_id)
    if state.is_final:
        raise HTTPException(409, f"order {order_id} is already {state.status}: there is nothing to cancel")
    attempt = await ticket.read_model.count_events(order_id, "CancelResult")
    await _publish(ticket.bus, CancelRequested(
        event_id=cancel_requested_event_id(order_id, attempt), producer=PRODUCER, order_id=order_id,
        correlation_id=str(order_id), symbol=state.symbol, requested_by="ticket"))
    log.info("ticket.cancel_requested", order_id=str(order_id))
    return CancelAccepted(order_id=order_id)


@router.get("/positions", response_model=PositionsOut, responses=UNAVAILABLE)
async def positions(ticket: TicketDep) -> PositionsOut:
    """The ledger's positions with P&L, from position-sync-service (``rpc.position-sync-service.positions``); 503
    when it does not answer: never an empty list, which would read as "flat"."""
    raw = await _ask(ticket.bus, LEDGER_POSITIONS, ledger_request(), timeout=ticket.settings.positions_timeout_s,
                     unavailable=f"{POSITIONS_UNAVAILABLE}: position-sync-service did not answer")
    account = ticket.refdata.account
    try:
        return shape_positions(raw, None if account is None else AccountOut(
            buying_power=dec(account.buying_power), equity=dec(account.equity), cash=dec(account.cash),
            as_of=account.as_of))
    except LedgerUnavailable as exc:
        log.warning("ticket.positions_unavailable", reason=str(exc))
        raise HTTPException(503, str(exc)) from None


@router.get("/events", response_class=live.EventSourceResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "one SSE message per event: `event: <EventType>`, `data: <JSON>`"}})
async def events(ticket: TicketDep) -> live.EventSourceResponse:
    return live.event_stream(ticket.bus.nc)


async def _ask(bus: Bus, subject: str, body: bytes, *, timeout: float, unavailable: str) -> bytes:
    """One request to another service over core NATS (``rpc.<service>.<what>``), its reply's bytes; no answer (no
    responder, a timeout, NATS away) is a 503 saying ``unavailable``."""
    try:
        reply = await bus.nc.request(subject, body, timeout=timeout)
    except (NatsError, TimeoutError) as exc:
        log.warning("ticket.request_unanswered", subject=subject, error=type(exc).__name__)
        raise HTTPException(503, unavailable) from None
    return reply.data


async def _publish(bus: Bus, event: Envelope) -> None:
    try:
        await bus.publish(event)
    except (NatsError, TimeoutError) as exc:
        log.warning("ticket.publish_failed", event_type=event.event_type, error=str(exc))
        raise HTTPException(503, f"could not publish {event.event_type}: NATS did not confirm ({exc})") from None


async def _known_order(read_model: ReadModel, order_id: UUID) -> OrderState:
    state = await read_model.order(order_id)
    if state is None:
        raise HTTPException(404, f"no order {order_id} is known")
    return state


_NO_FIELDS: dict[str, Any] = dict.fromkeys(OrderFields.model_fields)  # only a fill seen: the fields are unknown


def _order_out(state: OrderState) -> OrderOut:
    fields = _NO_FIELDS if state.fields is None else state.fields.model_dump(mode="json")
    return OrderOut(
        **{**fields, "symbol": state.symbol}, order_id=state.order_id, status=state.status,
        filled_qty=decimal_to_str(state.filled_qty), filled_avg_price=dec(state.filled_avg_price),
        reject_reasons=list(state.reject_reasons), cancel_outcome=state.cancel_outcome, created_at=state.created_at,
        updated_at=state.updated_at,
    )
