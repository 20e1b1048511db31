"""order-gateway: the only process that holds broker credentials and talks to Alpaca (through alpaca-py).

ROLE        Submits orders the risk service approved — only when the Ed25519 signature verifies under a trusted
            key, the approval is unexpired and unused, and trading is not HALTED (REDUCING enforced too) — exactly
            once; tracks them to their last fill; cancels with verification.
CONSUMES    ``RiskApproved`` (``risk.approved.*``, durable ``order-gateway`` on RISK), ``CancelRequested``
            (``orders.cancel.*``, durable ``order-gateway-cancel`` on ORDERS), ``BrokerTradeUpdate``
            (``broker.trade_updates.*``, durable ``order-gateway-trade-updates`` on BROKER: trade updates
            webhook-ingest verified), Alpaca's trade_updates stream, polling of open orders, Alpaca's real-time
            stock data stream (quotes and trades of the watched symbols; REST polling while it is down).
EMITS       OrderSubmitted, SubmissionFailed, OrderStatusChanged, FillReported (one per execution), CancelResult,
            dead letters with the reason for refused approvals and for webhook updates it cannot apply; the
            ``REFDATA`` KV bucket (assets, quotes, positions, account, clock, calendar) for the services that hold
            no credentials; ``BrokerActivity`` (``broker.activities.<TYPE>.<SYMBOL>`` on BROKER: every account
            activity once). ANSWERS ``rpc.order-gateway.positions`` (a fresh broker read) and
            ``rpc.order-gateway.fills-history`` (the account's FILL activities, paged).
PERSISTENCE Schema ``order_gateway``: orders (written pending BEFORE the broker call), fills, approvals_seen,
            broker_calls, activities_published, outbox, broker_credentials (AES-256-GCM).
SECURITY    Paper by default; live needs ``--live`` AND TRADEBUS_MODE=live AND stored live credentials. Secrets are
            registered for log redaction the moment they are read.
"""
