"""From a request to a decision: gather the context, run the checks, sign or reject.

Pure apart from reading the in-memory views (reference data, trading state, book) handed in at construction:
no I/O, no clock of its own (``now`` is passed in), so it is tested with plain values. ``context`` is also what
the preview responder checks an order against.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tradebus_contracts import OrderRequested, RejectionReason, RiskRejected, TradingState, sign_approval
from tradebus_contracts.projection import EXACT
from tradebus_contracts.services import Service
from tradebus_contracts.signing import key_id_for
from tradebus_runtime import get_logger

from .book import Book
from .booking import Commitment
from .checks import evaluate
from .limits import Limits
from .model import Account, Asset, DecisionEvent, Quote, RiskContext, Verdict
from .pricing import reference_price

PRODUCER = Service.RISK.value
CHECK_FAILED = "CHECK_FAILED"  # a check raised on this input: rejected, and the error is logged for us
log = get_logger(__name__)


class ReferenceData(Protocol):
    """The reference data a decision reads (``refdata.RefData`` in production, a plain object in tests)."""

    def asset(self, symbol: str) -> Asset | None: ...
    def quote(self, symbol: str) -> Quote | None: ...
    def account_view(self) -> Account | None: ...
    def position_qty(self, symbol: str) -> Decimal: ...
    def settled_as_of(self, symbol: str) -> datetime | None: ...
    def gross_exposure(self) -> Decimal: ...
    def take_changed(self) -> set[str] | None: ...  # symbols whose quote or position changed; None: any


class TradingStateSource(Protocol):
    """Anything with a ``state`` attribute (the follower in production, a plain object in tests)."""

    state: TradingState


@dataclass(frozen=True)
class Signer:
    private_key: Ed25519PrivateKey
    ttl: timedelta

    @functools.cached_property
    def key_id(self) -> str:
        return key_id_for(self.private_key.public_key())


class Decider:
    def __init__(self, limits: Limits, refdata: ReferenceData, book: Book, signer: Signer,
                 trading_state: TradingStateSource) -> None:
        self.limits = limits
        self.refdata = refdata
        self.book = book
        self.signer = signer
        self.trading_state = trading_state
        self._growth: dict[str, Decimal] = {}  # per symbol with open orders: what they may add to gross exposure
        self._growth_total = Decimal(0)

    def context(self, symbol: str, now: datetime) -> RiskContext:
        settled, settled_as_of = self.refdata.position_qty(symbol), self.refdata.settled_as_of(symbol)
        projection = self.book.projection(symbol, settled, settled_as_of)
        account = self.refdata.account_view()
        return RiskContext(
            now=now,
            trading_state=self.trading_state.state,
            asset=self.refdata.asset(symbol),
            quote=self.refdata.quote(symbol),
            account=account,
            position_qty=settled,
            account_gross_exposure=self.refdata.gross_exposure(),
            open_orders=self.book.open_total,
            open_orders_symbol=self.book.open_by_symbol[symbol],
            daily_notional_used=self.book.daily_total,
            daily_notional_used_symbol=self.book.daily_by_symbol.get(symbol, Decimal(0)),
            submissions_in_window=self.book.submissions_in_window(now),
            pending_buy_qty=projection.buying,
            pending_sell_qty=projection.selling,
            other_symbols_gross_growth=self._gross_growth(exclude=symbol),
            buys_not_in_account=Decimal(0) if account is None else self.book.buys_not_in_account(account.as_of),
            position_at_broker=self.book.position_now(symbol, settled, settled_as_of),
            open_sell_qty=self.book.open_sell_qty(symbol),
        )

    def _gross_growth(self, exclude: str) -> Decimal:
        """What the open orders of every symbol but ``exclude`` may add to the account's gross exposure: per symbol,
        how far its worst case on either side is from flat beyond the settled position, at its reference price (a
        symbol with no price to value it at is left out: its own orders were checked when they were approved).

        Kept per symbol and summed as it goes: only the symbols whose book, quote or position changed since the last
        decision are valued again (all of them after a reload or a new account entry), so a decision costs the same
        with 1 or 500 symbols working."""
        book_changed, refdata_changed = self.book.take_changed(), self.refdata.take_changed()
        if book_changed is None or refdata_changed is None:
            self._growth, self._growth_total = {}, Decimal(0)
            stale: set[str] = self.book.working_symbols()
        else:
            stale = book_changed | refdata_changed
        for symbol in stale:
            before, now = self._growth.pop(symbol, Decimal(0)), self._growth_of(symbol)
            if now:
                self._growth[symbol] = now
            self._growth_total = EXACT.add(EXACT.subtract(self._growth_total, before), now)
        return EXACT.subtract(self._growth_total, self._growth.get(exclude, Decimal(0)))

    def _growth_of(self, symbol: str) -> Decimal:
        price = reference_price(self.refdata.quote(symbol))
        if price is None:
            return Decimal(0)
        settled = self.refdata.position_qty(symbol)
        growth = self.book.projection(symbol, settled, self.refdata.settled_as_of(symbol)).gross_growth()
        return EXACT.multiply(growth, price) if growth else Decimal(0)

    def decide(self, request: OrderRequested, now: datetime) -> tuple[DecisionEvent, Commitment | None]:
        """The decision event for ``request`` and what it commits (None when rejected)."""
        try:
            verdict = evaluate(request.order_fields(), self.context(request.symbol, now), self.limits)
        except Exception as exc:  # a check that cannot evaluate this order rejects it: never approve blind
            log.exception("risk.check_failed", order_id=str(request.order_id))
            verdict = Verdict(False, (RejectionReason(code=CHECK_FAILED, message=(
                f"the order could not be checked ({type(exc).__name__}); it is rejected rather than guessed"),
                field=None),), None, None)
        if verdict.approved:
            approval = sign_approval(
                request,
                private_key=self.signer.private_key,
                issued_at=now,
                ttl=self.signer.ttl,
                producer=PRODUCER,
                key_id=self.signer.key_id,
            )
            return approval, Commitment(verdict.estimated_cost, verdict.shares)
        rejection = RiskRejected(
            **request.order_fields().model_dump(),
            order_id=request.order_id,
            reasons=list(verdict.reasons),
            message="; ".join(r.message for r in verdict.reasons),
            producer=PRODUCER,
            correlation_id=str(request.order_id),
            causation_id=request.event_id,
            occurred_at=now,
        )
        return rejection, None
