"""risk-service: the only way an order becomes submittable.

ROLE        Pre-trade risk gate. Consumes ``OrderRequested`` (``orders.requested.*``, durable ``risk-service`` on
            ORDERS) and publishes exactly one decision per order_id: ``RiskApproved`` (Ed25519-signed) or
            ``RiskRejected`` (every failed check as a reason code + message).
INPUTS      Reference data (assets, quotes, positions, account) from the ``REFDATA`` KV bucket kept by the order
            gateway; the trading state (``control.trading_state``); order outcomes (``orders.submitted|status|
            failed|cancel_result.*``, durable ``risk-service-orders``) to know which approvals are still open; fills
            (``fills.*``, durable ``risk-service-fills``) to know what they may still move: every position check
            reads the projected exposure (settled position + open orders + fills not yet settled).
ANSWERS     ``rpc.risk-service.preview`` (the ticket's estimate: ``rpc.PreviewRequest`` in, ``rpc.PreviewReply`` out;
            nothing signed, stored or booked) and ``rpc.risk-service.limits`` (``tradectl risk limits``).
PERSISTENCE Schema ``risk_service``: ``decisions`` (one row per order_id, inserted before publishing; a redelivery
            is answered with the stored event; side, shares and filled qty at the end for the book) and ``fills``
            (one row per execution id); the in-memory book is loaded from both at start and every few seconds.
SHAPE       Pure core: ``checks``/``limit_checks``/``collars``/``pricing`` (the checks), ``decider`` (request ->
            decision event), ``batch`` (a fetched batch -> what to insert, book and answer), ``book``/``booking``
            (what is committed; the projection from ``tradebus_contracts.projection``), ``responders.preview_reply``.
            I/O edge: ``handlers`` (persist and publish), the responders, ``store``, ``refdata``; wired in one place
            by ``app.bootstrap``.
SECURITY    Holds the approval signing key (file path in ``RISK_SIGNING_KEY_PATH``, never logged); holds no broker
            credentials. Missing or stale reference data means a rejection, never a guess.
"""
