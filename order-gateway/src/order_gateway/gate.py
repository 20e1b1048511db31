"""The gate: may this approval be submitted? Pure; `decisions.plan` adds the one check that needs the order row
(the approval is unused).

Submit only when the signature verifies under a trusted key id, the approval is unexpired, and trading is not
HALTED; while REDUCING, only an order that reduces the current position passes (defence in depth: the risk
service enforces both first). What is submitted is always `signed_order(approval)`: exactly the signed fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tradebus_contracts import ApprovalRejected, RiskApproved, TradingState, verify_approval
from tradebus_contracts.exposure import reduces_position


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str  # UNKNOWN_KEY_ID | BAD_SIGNATURE | EXPIRED | NOT_YET_VALID | MALFORMED | TRADING_HALTED | ...
    message: str


def check(approval: RiskApproved, trusted: Mapping[str, Ed25519PublicKey], now: datetime,
          trading_state: TradingState, position_qty: Decimal | None) -> Refusal | None:
    """None when the approval may be submitted now; else why not."""
    try:
        verify_approval(approval, trusted, now)
    except ApprovalRejected as exc:
        return Refusal(exc.code, str(exc))
    if trading_state == TradingState.HALTED:
        return Refusal("TRADING_HALTED", "trading is halted: nothing is submitted")
    if trading_state == TradingState.REDUCING:
        if position_qty is None:
            return Refusal("TRADING_REDUCING_ONLY", "trading is reducing-only and the position is unknown")
        # a notional order's share count is unknown until it fills: not provably reducing
        if approval.qty is None or not reduces_position(approval.side, approval.qty, position_qty):
            return Refusal("TRADING_REDUCING_ONLY",
                           f"trading is reducing-only: {approval.side.value} {approval.qty} does not reduce "
                           f"the position of {position_qty}")
    return None
