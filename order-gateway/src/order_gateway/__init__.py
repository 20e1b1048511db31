"""order-gateway: the only process that holds broker credentials and talks to Alpaca (through alpaca-py).

ROLE        Submits orders the risk service approved — only when the Ed25519 signature verifies under a trusted
            key, the approval is unexpired and unused, and trading is not HALTED (REDUCING enforced too) — exactly
            once; tracks them to their last fill; cancels with verification.
CONSUMES    ``RiskApproved`` (``risk.approved.*``, durable ``order-gateway`` on RISK), ``CancelRequested``
            (``orders.cancel.*``, durable ``order-gateway-cancel`` on ORDERS), ``BrokerTradeUpdate``
            (``broker.trade_updates.*``, durable ``order-gateway-trade-updates`` on BROKER: trade updates
            webhook-ingest verified), Alpaca's trade_updates stream, polling of open orders.
EMITS       OrderSubmitted, SubmissionFailed, OrderStatusChanged, FillReported (one per execution), CancelResult,
            dead letters with the reason for refused approvals and for webhook updates it cannot apply; the
            ``REFDATA`` KV bucket (assets, quotes, positions, account) for the services that hold no credentials.
PERSISTENCE Schema ``order_gateway``: orders (written pending BEFORE the broker call), fills, approvals_seen,
            broker_calls, outbox, broker_credentials (AES-256-GCM).
SECURITY    Paper by default; live needs ``--live`` AND TRADEBUS_MODE=live AND stored live credentials. Secrets are
            registered for log redaction the moment they are read.
"""
