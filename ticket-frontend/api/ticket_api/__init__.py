"""ticket API: the only way a browser reaches the bus.

ROLE       Serves the built trade ticket (``ticket-frontend/dist``) and its HTTP API (DESIGN §7) on one port
           (default 8000); OpenAPI at ``/openapi.json``.
EMITS      ``OrderRequested`` (event_id derived from the order_id, so a double click is one message) and
           ``CancelRequested`` (requested_by "ticket"), producer "ticket-api".
CONSUMES   Durable consumers ``ticket-api`` (ORDERS), ``ticket-api-risk`` (RISK), ``ticket-api-fills`` (FILLS)
           into the read model (schema ``ticket_api``: ``orders``, ``order_events``); core subscriptions on
           ``orders.>``, ``risk.>``, ``fills.>``, ``positions.>`` for ``GET /api/events`` (SSE), one set per
           browser, removed when it goes away; the ``REFDATA`` KV bucket (quotes, positions, account).
ASKS       ``rpc.risk-service.preview`` (core request/reply) for the estimate: risk is the authority.
MODULES    ``app`` wiring, ``routes`` endpoints, ``models`` bodies, ``reducer`` the pure order fold,
           ``readmodel`` PostgreSQL, ``refdata`` KV mirror, ``preview`` risk's answer shaped, ``live`` SSE.
SECURITY   Holds no broker credentials and never shows a secret. Bad input is a 4xx with a message (422 per
           field); only an unanswering dependency (risk, NATS) gives 503. The risk service, not this API,
           decides; an order that breaks a business rule is requested and then rejected with reasons.
"""
