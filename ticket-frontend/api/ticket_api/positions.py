"""The positions panel's answer: position-sync-service's ledger (`rpc.LedgerPositionsReply`), rounded for people.

The ledger keeps money exact (an average cost of 1/3 share lots has 28 digits); this is the one place it is
rounded, at the API's edge, so every reader of ``GET /api/positions`` sees the same figures:

- amounts (cost basis, market value, P&L, dividends): to the cent;
- per-share prices (average cost, last): to their tick, the cent at or above $1 and 1/100 cent below (the tick risk
  holds order prices to), so a $0.5123 average is not shown as $0.51;
- quantities: to 9 decimals (the broker's fractional precision), trailing zeros dropped ("10", not "10.000000000").

Always ``ROUND_HALF_UP``: it is what the browser's ``formatMoney`` does (big.js ``roundHalfUp``), so a figure rounded
here and one rounded there agree. Half-even's advantage (no bias when many rounded figures are added up) does not
apply: each total is rounded from the ledger's exact total, never summed from rounded rows.

What this module does not do is decide what "no answer" means: a reply that is not a ledger (the responder's
``{"error": ...}``, anything outside the contract) raises `LedgerUnavailable`, never an empty list that would read
as "flat".
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Context, Decimal

from pydantic import ValidationError

from tradebus_contracts.decimal_types import MAX_DIGITS, decimal_to_str
from tradebus_contracts.rpc import LedgerPosition, LedgerPositionsReply, LedgerPositionsRequest, LedgerTotals

from .models import AccountOut, PositionOut, PositionsOut, PositionTotalsOut

UNAVAILABLE = "positions are unavailable"
CENT = Decimal("0.01")
SUB_DOLLAR_TICK = Decimal("0.0001")
QTY_PLACES = Decimal("0.000000001")
# wide enough for every contract value (MAX_DIGITS): quantize must never run out of precision on a huge amount
_CONTEXT = Context(prec=MAX_DIGITS + 10, rounding=ROUND_HALF_UP)


class LedgerUnavailable(Exception):
    """position-sync-service answered, but not with the ledger (it failed, or the reply is outside the contract)."""


def ledger_request() -> bytes:
    return LedgerPositionsRequest(lots=False).model_dump_json().encode()


def money(value: Decimal) -> str:
    """An amount to the cent: "1872.50", "-3.33", never "-0.00"."""
    return _spell(value.quantize(CENT, context=_CONTEXT))


def price(value: Decimal) -> str:
    """A per-share price to its tick: the cent at or above $1, 1/100 cent below."""
    rounded = value.quantize(SUB_DOLLAR_TICK, context=_CONTEXT)
    if abs(rounded) >= 1:  # decided on the rounded value: 0.99996 is $1.00, not $1.0000
        rounded = value.quantize(CENT, context=_CONTEXT)
    return _spell(rounded)


def quantity(value: Decimal) -> str:
    """A share quantity to 9 decimals without trailing zeros: "10", "0.333333333"."""
    rounded = value.quantize(QTY_PLACES, context=_CONTEXT)
    return _spell(rounded.normalize(_CONTEXT) if rounded else Decimal(0))


def _spell(value: Decimal) -> str:
    return decimal_to_str(value.copy_abs() if value.is_zero() else value)


def _money_or_none(value: Decimal | None) -> str | None:
    return None if value is None else money(value)


def position_out(p: LedgerPosition) -> PositionOut:
    return PositionOut(
        symbol=p.symbol, qty=quantity(p.qty), avg_cost=price(p.avg_cost), cost_basis=money(p.cost_basis),
        last=None if p.last is None else price(p.last), market_value=_money_or_none(p.market_value),
        unrealized_pl=_money_or_none(p.unrealized_pl), realized_pl=money(p.realized_pl),
        day_pl=_money_or_none(p.day_pl), drift=p.drift,
    )


def totals_out(t: LedgerTotals) -> PositionTotalsOut:
    return PositionTotalsOut(
        cost_basis=money(t.cost_basis), market_value=_money_or_none(t.market_value),
        unrealized_pl=_money_or_none(t.unrealized_pl), realized_pl=money(t.realized_pl),
        day_pl=_money_or_none(t.day_pl), dividends=money(t.dividends),
    )


def shape_positions(raw: bytes, account: AccountOut | None) -> PositionsOut:
    """The API's answer from position-sync's reply; raises `LedgerUnavailable` for a reply that is not a ledger."""
    reply = read_ledger(raw)
    return PositionsOut(
        positions=[position_out(p) for p in sorted(reply.positions, key=lambda p: p.symbol)],
        totals=totals_out(reply.totals), as_of=reply.as_of, last_sync_at=reply.last_sync_at,
        last_sync_ok=reply.last_sync_ok, account=account,
    )


def read_ledger(raw: bytes) -> LedgerPositionsReply:
    try:
        return LedgerPositionsReply.model_validate_json(raw)
    except ValidationError as exc:
        raise LedgerUnavailable(f"{UNAVAILABLE}: {_why(raw, exc)}") from None


def _why(raw: bytes, exc: ValidationError) -> str:
    try:
        body = json.loads(raw)
    except ValueError:
        return "position-sync-service answered with something that is not JSON"
    if isinstance(body, dict) and "error" in body:  # the responder failed: tradebus_runtime.service
        return f"position-sync-service could not read the ledger ({str(body['error'])[:200]})"
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"position-sync-service answered outside the contract ({where}: {first['msg']})"[:300]
