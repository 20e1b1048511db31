"""position-sync-service: the position ledger and its reconciliation with the broker.

ROLE       Consumes ``FillReported`` (``fills.>``, durable ``position-sync-service`` on FILLS); will keep the
           ledger (cost basis, splits, dividends), compare it with the broker every 5 minutes in market hours
           and publish PositionSnapshot / PositionDrift / PositionReconciled / CorporateActionApplied.
CORE       Pure, no I/O, no clock read (times come with the inputs): ``lots`` (FIFO tax lots, realized P&L),
           ``sequencer`` (each execution once, in cumulative order per order), ``alpaca_average`` (the average
           Alpaca reports: weighted intraday, compressed FIFO across New York days), ``activities`` (Alpaca
           activity legs from plain dicts), ``corporate_actions`` (legs grouped whole by ``group_id``, applied once,
           alerts instead of half-applied groups), ``reconcile`` (ledger vs broker read, the two-reads drift rule,
           the alert/adopt/reduce policy as values) and ``ledger`` (the facade: one account's positions, income,
           snapshots, ``fold_fills``).
STATE      The shell is still the foundation: fills are taken into the inbox (schema ``position_sync_service``),
           de-duplicated by event_id, and logged with ``acted_on=false``; the core above is not wired in yet.
SECURITY   Holds no broker credentials: broker data (positions, activities) will come from the order gateway over
           NATS.
"""
