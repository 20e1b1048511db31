"""position-sync-service: the position ledger and its reconciliation with the broker.

ROLE       Keeps one account's Decimal ledger — FIFO tax lots, realized P&L, the average Alpaca itself reports, an
           income ledger — from ``FillReported`` (FILLS, durable ``position-sync-service``) and the broker's
           activities (``BrokerActivity`` on ``broker.activities.*.*``, BROKER, durable
           ``position-sync-service-activities``: splits, dividends, returns of capital, name changes, mergers,
           applied whole per ``group_id``, once). Compares it with the broker (``rpc.order-gateway.positions``) on
           start, every ``POSITION_SYNC_INTERVAL_S`` while the market is open (REFDATA clock and calendar), after the
           close, after a NATS reconnect and on demand; publishes ``PositionSnapshot``, ``PositionDrift``,
           ``PositionReconciled`` and ``CorporateActionApplied`` (``positions.>``). Answers
           ``rpc.position-sync-service.positions`` (the ledger for people) and ``.sync`` (a sync, or a rebuild from the
           broker's FILL history through ``rpc.order-gateway.fills-history``).
CORE       Pure, no I/O, no clock read: ``lots``, ``sequencer``, ``alpaca_average``, ``activities``,
           ``corporate_actions``, ``reconcile``, ``ledger`` (see the README), and for the shell ``coverage`` (one
           execution counted once by whichever door), ``journal`` (inputs as rows, the fold, the rebuild plan),
           ``schedule`` (when to sync), ``reads`` (a broker read as a value), ``events``, ``views``, ``watches``.
SHELL      ``app`` (settings, wiring, the scheduler), ``keeper`` (the ledger in memory and its journal in PostgreSQL,
           changed together under one lock and one transaction), ``sync`` (one sync), ``history`` (the gateway's FILL
           history), ``store`` (SQL). State: schema ``position_sync_service`` (journal, pending legs, drift watch,
           syncs, closing prices; inbox and outbox).
SECURITY   Holds no broker credentials: broker data comes from the order gateway over NATS. Publishes only
           ``positions.>`` (and ``dlq.position-sync-service``): never ``control.>``, never an order.
"""
