"""Ledger against broker: the comparison, the drift rule and what the policy does about it, as plain values.

**A broker read is an explicit value.** ``BrokerRead`` lists the positions the broker returned and the symbols
it *affirmed* flat (a per-symbol read that answered "no such position"); ``ReadFailed`` is a read that did not
happen. A symbol the ledger holds that is neither listed nor affirmed flat is ``Unknown``: an empty or partial list
is never taken to mean flat (Lumibot read ``positions=[]`` as "verified flat"), the shell confirms with a
per-symbol read first, as NautilusTrader does before it calls an order missing.

**Compare.** Quantity must match exactly. Basis is compared only against the Alpaca-method average
(``alpaca_average``), since our FIFO tax lots differ from Alpaca's figures by design: the averages match when
``|ours − broker's| ≤ max(absolute, relative × |broker's|)``.

**Drift** needs a mismatch on two reads at least ``min_gap`` (30 s) apart with no order in flight for the symbol:
positions lead orders at Alpaca by about 10 s (Alpaca-API#276), so one read proves nothing. A read taken while an
order is in flight neither starts nor confirms a suspicion, it clears it; a read we could not verify leaves the
watch as it was. A drift is reported once per (ledger qty, broker qty) it shows; when the two agree again it is
``Reconciled``.

**Policy** (``SyncRules.policy``): ``alert`` (default) reports the drift and changes nothing; ``adopt`` also emits
an ``Adjustment`` that makes the ledger equal the broker, with an id derived from the symbol and the two reads
(so running the same decision twice gives the same adjustment, and the ledger applies it once); ``reduce`` also
emits ``Reduce`` for a quantity drift: a recommendation, not a switch (trading state is account-wide and the
operator's, ``tradectl halt --reducing``; a basis-only drift recommends nothing). Never a synthetic order, never a
silent overwrite.

Severity: ``info`` basis only; ``warning`` quantity on the same side below ``critical_notional``; ``critical``
when one side is flat, the sides differ, or the difference is worth at least ``critical_notional``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import AbstractSet, Mapping

from .lots import ZERO

NAMESPACE = uuid.UUID("8f6d2a4e-0c1b-5e7a-9d3f-5a1c2b3d4e5f")  # ids of drifts and adjustments (uuid5)


class Policy(StrEnum):
    ALERT = "alert"
    ADOPT = "adopt"
    REDUCE = "reduce"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class SyncRules:
    """How reads are judged (see the module docstring): the policy, the gap between the two reads of a drift, the
    tolerance on the average, and the notional from which a quantity drift is critical."""

    policy: Policy = Policy.ALERT
    min_gap: timedelta = timedelta(seconds=30)
    relative_tolerance: Decimal = Decimal("0.0001")
    absolute_tolerance: Decimal = Decimal("0.0001")
    critical_notional: Decimal = Decimal("10000")


@dataclass(frozen=True, slots=True)
class Figures:
    """One side's position: signed quantity, average entry price, signed cost basis."""

    qty: Decimal
    avg_entry_price: Decimal
    cost_basis: Decimal


FLAT = Figures(ZERO, ZERO, ZERO)


@dataclass(frozen=True, slots=True)
class BrokerRead:
    """A read that happened: the positions the broker listed, and the symbols a per-symbol read affirmed flat."""

    read_id: str
    as_of: datetime
    positions: Mapping[str, Figures]
    confirmed_flat: AbstractSet[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ReadFailed:
    """A read that did not happen (the gateway or the broker did not answer, ``reason``): it says nothing about any
    symbol, so every watch stays as it was."""

    read_id: str
    as_of: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Unknown:
    """What a read says about a symbol it neither listed nor affirmed flat: nothing (never taken to mean flat)."""

    reason: str


def observe(read: BrokerRead | ReadFailed, symbol: str) -> Figures | Unknown:
    """What a read says about one symbol: figures (``FLAT`` only when affirmed), or Unknown."""
    if isinstance(read, ReadFailed):
        return Unknown(f"broker read failed: {read.reason}")
    if symbol in read.positions:
        return read.positions[symbol]
    if symbol in read.confirmed_flat:
        return FLAT
    return Unknown("not in the broker's list; a per-symbol read must confirm it is flat")


def agrees(ledger: Figures, broker: Figures, rules: SyncRules) -> tuple[bool, bool]:
    """(quantity matches exactly, average matches within tolerance)."""
    if ledger.qty != broker.qty:
        return False, True
    if not ledger.qty:
        return True, True
    allowed = max(rules.absolute_tolerance, rules.relative_tolerance * abs(broker.avg_entry_price))
    return True, abs(ledger.avg_entry_price - broker.avg_entry_price) <= allowed


def severity(ledger: Figures, broker: Figures, rules: SyncRules) -> Severity:
    if ledger.qty == broker.qty:
        return Severity.INFO
    price = broker.avg_entry_price or ledger.avg_entry_price
    if not ledger.qty or not broker.qty or (ledger.qty > 0) != (broker.qty > 0):
        return Severity.CRITICAL
    return Severity.CRITICAL if abs(broker.qty - ledger.qty) * price >= rules.critical_notional else Severity.WARNING


# --- outcomes ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Drift:
    drift_id: uuid.UUID
    symbol: str
    severity: Severity
    ledger: Figures
    broker: Figures
    first_read_id: str
    second_read_id: str
    detected_at: datetime

    @property
    def qty_diff(self) -> Decimal:
        """Broker − ledger, as ``PositionDrift.qty_diff``."""
        return self.broker.qty - self.ledger.qty


@dataclass(frozen=True, slots=True)
class Adjustment:
    """The ledger takes the broker's figures for ``symbol``: the lots move to ``after.qty`` with no trade (FIFO at
    each lot's own basis, new shares at the broker's average; nothing realized) and the Alpaca-method average
    becomes the broker's."""

    adjustment_id: uuid.UUID
    symbol: str
    before: Figures
    after: Figures
    reason: str
    drift_id: uuid.UUID
    at: datetime


@dataclass(frozen=True, slots=True)
class Reduce:
    """Under ``reduce``, a quantity drift recommends reducing-only trading until it is reconciled (never a switch)."""

    symbol: str
    drift_id: uuid.UUID
    reason: str


@dataclass(frozen=True, slots=True)
class Reconciled:
    symbol: str
    figures: Figures
    resolution: str  # "agreed" (it resolved itself) | "adopted_broker" (after an adjustment)
    drift_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Unverified:
    """The broker's side is unknown for this symbol: nothing was decided. Worth an alert when it persists."""

    symbol: str
    reason: str
    read_id: str


Outcome = Drift | Adjustment | Reduce | Reconciled | Unverified


# --- the watch: one symbol's state between reads ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Suspect:
    """A mismatch seen on read ``read_id`` at ``at`` and not yet confirmed: a read ``min_gap`` or more later that
    still differs, with no order in flight, makes it a drift."""

    read_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Drifting:
    """A drift reported and not yet reconciled; ``adopted`` when the ledger took the broker's figures for it."""

    drift: Drift
    adopted: bool


Watch = Suspect | Drifting | None


def decide(watch: Watch, symbol: str, ledger: Figures, observed: Figures | Unknown, read_id: str, at: datetime,
           in_flight: bool, rules: SyncRules) -> tuple[Watch, tuple[Outcome, ...]]:
    """One read of one symbol → the new watch and what to do (see the module docstring)."""
    if isinstance(observed, Unknown):
        return watch, (Unverified(symbol, observed.reason, read_id),)
    qty_ok, basis_ok = agrees(ledger, observed, rules)
    if qty_ok and basis_ok:
        if isinstance(watch, Drifting):
            resolution = "adopted_broker" if watch.adopted else "agreed"
            return None, (Reconciled(symbol, observed, resolution, watch.drift.drift_id),)
        return None, ()
    if in_flight:
        return (watch if isinstance(watch, Drifting) else None), ()
    if watch is None:
        return Suspect(read_id, at), ()
    if isinstance(watch, Suspect):
        if at - watch.at < rules.min_gap:
            return watch, ()
        first_read = watch.read_id
    else:
        if (watch.drift.ledger.qty, watch.drift.broker.qty) == (ledger.qty, observed.qty):
            return watch, ()  # the same drift, already reported
        first_read = watch.drift.first_read_id
    return _drift(symbol, ledger, observed, first_read, read_id, at, rules)


def _drift(symbol: str, ledger: Figures, broker: Figures, first_read: str, second_read: str, at: datetime,
           rules: SyncRules) -> tuple[Watch, tuple[Outcome, ...]]:
    key = f"{symbol}|{first_read}|{second_read}"
    drift = Drift(uuid.uuid5(NAMESPACE, f"drift|{key}"), symbol, severity(ledger, broker, rules), ledger, broker,
                  first_read, second_read, at)
    outcomes: list[Outcome] = [drift]
    if rules.policy is Policy.ADOPT:
        what = "quantity" if ledger.qty != broker.qty else "average entry price"
        reason = (f"broker {what} differed on reads {first_read} and {second_read} "
                  f"({rules.min_gap.total_seconds():g} s apart or more, no order in flight): ledger takes the broker's")
        outcomes.append(Adjustment(uuid.uuid5(NAMESPACE, f"adjustment|{key}"), symbol, ledger, broker, reason,
                                   drift.drift_id, at))
    elif rules.policy is Policy.REDUCE and ledger.qty != broker.qty:
        outcomes.append(Reduce(symbol, drift.drift_id, f"position drift ({drift.severity}): reducing-only trading "
                                                       "recommended until reconciled"))
    return Drifting(drift, adopted=rules.policy is Policy.ADOPT), tuple(outcomes)


@dataclass
class DriftWatch:
    """The watches of every symbol, and one broker read applied to all of them at once."""

    rules: SyncRules = field(default_factory=SyncRules)
    watches: dict[str, Suspect | Drifting] = field(default_factory=dict)

    def read(self, ledger: Mapping[str, Figures], read: BrokerRead | ReadFailed,
             in_flight: AbstractSet[str]) -> list[Outcome]:
        """``ledger``: the Alpaca-method figures per symbol as of the read's day; ``in_flight``: symbols with an
        order not yet final (or fills the ledger still holds back)."""
        symbols = {s for s, f in ledger.items() if f.qty} | set(self.watches)
        if isinstance(read, BrokerRead):
            symbols |= {s for s, f in read.positions.items() if f.qty}
        outcomes: list[Outcome] = []
        for symbol in sorted(symbols):
            watch, found = decide(self.watches.get(symbol), symbol, ledger.get(symbol, FLAT), observe(read, symbol),
                                  read.read_id, read.as_of, symbol in in_flight, self.rules)
            if watch is None:
                self.watches.pop(symbol, None)
            else:
                self.watches[symbol] = watch
            outcomes.extend(found)
        return outcomes
