"""webhook-ingest: the HTTP door for signed fill webhooks (Standard Webhooks).

ROLE       ``POST /webhooks/fills`` receives one Alpaca trade_update object signed per Standard Webhooks
           (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``: HMAC-SHA256 with a ``whsec_`` secret).
EMITS      ``BrokerTradeUpdate`` on ``broker.trade_updates.<SYMBOL>`` (stream BROKER, ``Nats-Msg-Id`` derived from the
           webhook-id) — never ``FillReported``: the order gateway, the one authority for fills, applies the update
           through the same path as its own stream and polling. A verified body that cannot be mapped goes to
           ``dlq.webhook-ingest`` with the reason (answered 202, so the sender stops retrying).
STATE      PostgreSQL schema ``webhook_ingest``: every webhook-id answered 2xx, kept forever (senders retry for days).
SECURITY   Verifies before it parses: over the raw bytes, any of several secrets (rotation), integer timestamps
           within a configurable tolerance both ways, bodies capped (413 before reading more). Anything that does
           not verify gets 400/401 with a short reason and changes nothing. Secrets are never logged (registered
           for redaction at start). 2xx only after JetStream's PubAck; 503 + Retry-After while NATS or PostgreSQL
           is unreachable, so nothing a sender hands over is lost.

Pure core: ``verify`` (headers, timestamp, signatures), ``mapping`` (body -> BrokerTradeUpdate or the reason it
cannot be one), ``intake`` (the sequence, behind two ports). I/O: ``edges`` (PostgreSQL through ``batching``, NATS),
``routes`` (HTTP), ``app`` (settings and bootstrap).
"""
