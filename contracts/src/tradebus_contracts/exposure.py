"""What an order does to a position, as every service must read it the same way.

Two facts that the risk service (its REDUCING mode, short-sale and buying-power checks) and the order gateway (its
REDUCING gate, defence in depth) must never disagree on:

* whether an order only **reduces** a position: the opposite side, and no more than is held. Selling 150 of a long
  100 is not a reduction: it closes the long and opens a short of 50;
* how much of an order needs **buying power**: all of a buy (buying to cover a short is paid for too); of a sell,
  only the part that opens or grows a short — selling what is held needs none.

Pure functions over Decimals; a position is signed (long > 0, short < 0, flat 0). Whether an order reduces a position
is ``projection.Projection.reduces``: the checks read the position with the open orders working on it (its worst
cases), and ``Projection(position).reduces`` is the answer with nothing working.
"""

from __future__ import annotations

from decimal import Decimal

from tradebus_contracts.orders import OrderSide

__all__ = ["opposes_position", "buying_power_needed"]

_ZERO = Decimal(0)


def opposes_position(side: OrderSide, position_qty: Decimal) -> bool:
    """The order trades against the position: a sell of a long, a buy of a short (never true when flat)."""
    return position_qty > 0 if side is OrderSide.SELL else position_qty < 0


def buying_power_needed(side: OrderSide, cost: Decimal | None, shares: Decimal | None,
                        position_qty: Decimal) -> Decimal | None:
    """The buying power an order uses: all of a buy's cost; of a sell, the share of its value that opens or grows a
    short. None when it cannot be known (no cost, or a sell whose share count is unknown)."""
    if side is OrderSide.BUY or cost is None:
        return cost
    if shares is None or shares <= 0:
        return None
    opening = shares - max(position_qty, _ZERO)
    return cost * opening / shares if opening > 0 else _ZERO
