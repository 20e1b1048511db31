"""ticket API: the only way a browser reaches the bus.

ROLE       Serves the built trade ticket (``ticket-frontend/dist``) and its HTTP API (DESIGN §7) on one port
           (default 8000); OpenAPI at ``/openapi.json``.
EMITS      ``OrderRequested`` (event_id derived from the order_id, so a double click is one message) and
           ``CancelRequested`` (requested_by "ticket"), producer "ticket-api".
CONSUMES   Durable consumers ``ticket-api`` (ORDERS), ``ticket-api-risk`` (RISK), ``ticket-api-fills`` (FILLS)
           into the read model (schema ``ticket_api``: ``orders``, ``order_events``); core subscriptions on
           ``orders.>``, ``risk.>``, ``fills.>``, ``positions.>`` for ``GET /api/events`` (SSE), one set per
           browser, removed when it goes away; the ``REFDATA`` KV bucket (quotes, positions, account).
ASKS       ``rpc.risk-service.preview`` (core request/reply, ``rpc.PreviewRequest`` -> ``rpc.PreviewReply``) for
           the estimate: risk is the authority for the cost, the buying power after and every reason.
MODULES    ``app`` the bootstrap (builds the complete ``context.Ticket`` from open connections) and the FastAPI
           app, ``routes`` module-level endpoints given the ``Ticket`` by dependency, ``models`` bodies,
           ``reducer`` the pure order fold, ``readmodel`` PostgreSQL, ``preview`` risk's reply shaped for the form,
           ``live`` SSE, ``guards`` the body limit and the 422 replies, ``js_vocabulary`` writes the frontend's
           ``src/lib/vocabulary.generated.js`` from the contracts.
SECURITY   Holds no broker credentials and never shows a secret. Bad input is a 4xx with a message (422 per
           field, quoting at most an excerpt of it; 413 for a body over 64 KiB, never read whole), a JSON NaN,
           Infinity or 1e400 included; only an unanswering dependency (risk, NATS) gives 503. The risk service,
           not this API, decides; an order that breaks a business rule is requested and then rejected with reasons.
"""
