"""position-sync-service: the position ledger and its reconciliation with the broker.

ROLE       Consumes ``FillReported`` (``fills.>``, durable ``position-sync-service`` on FILLS); will keep the
           ledger (cost basis, splits, dividends), compare it with the broker every 5 minutes in market hours
           and publish PositionSnapshot / PositionDrift / PositionReconciled / CorporateActionApplied.
STATE      Foundation only: fills are taken into the inbox (schema ``position_sync_service``), de-duplicated
           by event_id, and logged with ``acted_on=false``; the ledger arrives with its own issue.
SECURITY   Holds no broker credentials: broker data will come from the order gateway over NATS.
"""
