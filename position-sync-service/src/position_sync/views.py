"""The ledger for people (``rpc.position-sync-service.positions``): per symbol quantity, FIFO cost, the Alpaca-method
average, the live price and P&L, a drift flag, lots when asked; account totals. Pure: prices, closing marks and the
drifting symbols are passed in.

* ``last``: the quote's last trade, else its mid; no quote, no ``last``/``market_value``/``unrealized_pl``/``day_pl``.
* ``day_pl``: quantity × last − start-of-day quantity × the prior close − cash paid today (``Ledger.snapshot``);
  the prior close is the closing mark the after-close sync recorded on an earlier New York day (split-adjusted);
  none recorded yet, no ``day_pl``.
* Totals are exact sums; a total that would leave out a position without a price is None instead. ``realized_pl``
  counts every symbol ever held; ``dividends`` is the income ledger's cash dividends.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from decimal import Decimal

from tradebus_contracts.refdata import QuoteRef
from tradebus_contracts.rpc import LedgerPosition, LedgerPositionsReply, LedgerTotals, LotView

from .corporate_actions import ActionKind
from .events import money
from .ledger import Ledger
from .lots import ZERO

TWO = Decimal(2)


def last_price(quote: QuoteRef | None) -> Decimal | None:
    if quote is None:
        return None
    return quote.last if quote.last is not None else (quote.bid + quote.ask) / TWO


def positions_reply(ledger: Ledger, now: datetime, quotes: Mapping[str, QuoteRef], prior_closes: Mapping[str, Decimal],
                    drifting: Collection[str], with_lots: bool, last_sync_at: datetime | None,
                    last_sync_ok: bool | None) -> LedgerPositionsReply:
    rows: list[LedgerPosition] = []
    realized = ZERO
    for symbol in sorted(ledger.positions):
        price = last_price(quotes.get(symbol))
        view = ledger.snapshot(symbol, now, price, prior_closes.get(symbol))
        realized += view.realized_pnl
        if not view.qty:
            continue
        lots = [LotView(lot_id=lot.lot_id, opened_at=lot.opened_at, qty=lot.qty, price=money(lot.cost / lot.qty),
                        cost_basis=money(lot.cost)) for lot in view.lots] if with_lots else []
        rows.append(LedgerPosition(
            symbol=symbol, qty=view.qty, avg_cost=view.avg_entry_price, cost_basis=view.cost_basis,
            broker_avg_entry_price=money(view.alpaca.avg_entry_price), last=price,
            market_value=None if price is None else money(view.qty * price), unrealized_pl=view.unrealized_pnl,
            realized_pl=view.realized_pnl, day_pl=view.today_pnl, drift=symbol in drifting, lots=lots))
    dividends = sum((e.amount for e in ledger.income if e.kind is ActionKind.CASH_DIVIDEND), ZERO)
    totals = LedgerTotals(cost_basis=sum((r.cost_basis for r in rows), ZERO),
                          market_value=_total(r.market_value for r in rows),
                          unrealized_pl=_total(r.unrealized_pl for r in rows), realized_pl=realized,
                          day_pl=_total(r.day_pl for r in rows), dividends=dividends)
    return LedgerPositionsReply(positions=rows, totals=totals, as_of=now, last_sync_at=last_sync_at,
                                last_sync_ok=last_sync_ok)


def _total(values) -> Decimal | None:
    values = list(values)
    if any(v is None for v in values):
        return None
    return sum(values, ZERO)
