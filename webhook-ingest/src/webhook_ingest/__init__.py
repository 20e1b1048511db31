"""webhook-ingest: the HTTP door for signed fill webhooks.

ROLE       ``POST /webhooks/fills`` receives one Alpaca trade_update object signed per Standard Webhooks
           (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``); will publish ``BrokerTradeUpdate``
           (the order gateway, the one authority for fills, turns it into ``FillReported``).
STATE      Foundation only: the server runs and reports health; the fills endpoint answers 503 with a message
           saying fill ingestion is not enabled yet, and publishes nothing. It never pretends to accept a fill.
SECURITY   Will verify every request against the ``whsec_...`` secrets in settings before reading it.
"""
