"""risk-service: the only way an order becomes submittable.

ROLE        Pre-trade risk gate. Consumes ``OrderRequested`` (``orders.requested.*``, durable ``risk-service`` on
            ORDERS) and publishes exactly one decision per order_id: ``RiskApproved`` (Ed25519-signed) or
            ``RiskRejected`` (every failed check as a reason code + message).
INPUTS      Reference data (assets, quotes, positions, account) from the ``REFDATA`` KV bucket kept by the order
            gateway; the trading state (``control.trading_state``); order outcomes (``orders.submitted|status|
            failed|cancel_result.*``, durable ``risk-service-orders``) to know which approvals are still open.
PERSISTENCE Schema ``risk_service``: ``decisions`` (one row per order_id, written before publishing).
SECURITY    Holds the approval signing key (file path in ``RISK_SIGNING_KEY_PATH``, never logged); holds no broker
            credentials. Missing or stale reference data means a rejection, never a guess.
"""
