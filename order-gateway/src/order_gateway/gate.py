"""The gate: may this approval be submitted? Pure; `decisions.plan` adds the one check that needs the order row
(the approval is unused).

Submit only when the signature verifies under a trusted key id, the approval is unexpired, and trading is not
HALTED; while REDUCING, only an order that reduces the position passes, whatever the gateway's other orders still
working in the symbol do: the broker's settled position plus their remainders and the fills it may not have yet,
read through the same projection as risk's (``tradebus_contracts.projection``), so two sells of a long of 100 are
not both "reducing" (defence in depth: the risk service enforces both first). What is submitted is always
`signed_order(approval)`: exactly the signed fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tradebus_contracts import ApprovalRejected, OrderSide, RiskApproved, TradingState, verify_approval
from tradebus_contracts.projection import Projection, Working


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str  # UNKNOWN_KEY_ID | BAD_SIGNATURE | EXPIRED | NOT_YET_VALID | MALFORMED | TRADING_HALTED | ...
    message: str


def check(approval: RiskApproved, trusted: Mapping[str, Ed25519PublicKey], now: datetime,
          trading_state: TradingState, position_qty: Decimal | None, working: Iterable[Working] = ()) -> Refusal | None:
    """None when the approval may be submitted now; else why not. ``position_qty`` is the broker's settled position
    (None: not known yet), ``working`` what the gateway's other orders in the symbol may still move."""
    try:
        verify_approval(approval, trusted, now)
    except ApprovalRejected as exc:
        return Refusal(exc.code, str(exc))
    if trading_state == TradingState.HALTED:
        return Refusal("TRADING_HALTED", "trading is halted: nothing is submitted")
    if trading_state == TradingState.REDUCING:
        if position_qty is None:
            return Refusal("TRADING_REDUCING_ONLY", "trading is reducing-only and the position is unknown")
        projection = Projection.of(position_qty, working)
        # a notional order's share count is unknown until it fills: not provably reducing
        if approval.qty is None or not projection.reduces(approval.side, approval.qty):
            return Refusal("TRADING_REDUCING_ONLY",
                           f"trading is reducing-only: {approval.side.value} {approval.qty} does not reduce "
                           f"the position of {position_qty}{_working(projection, approval)}")
    return None


def _working(projection: Projection, approval: RiskApproved) -> str:
    working = projection.buying if approval.side is OrderSide.BUY else projection.selling
    if working is None:
        return f" (open {approval.side.value}s of unknown size are working)"
    return f" once the open {approval.side.value}s of {working} working fill" if working else ""
