"""The OpenAPI document of webhook-ingest's HTTP API, served at ``GET /openapi.json`` (and fuzzed by schemathesis)."""

from __future__ import annotations

from typing import Any

from .mapping import TRADE_UPDATE_EVENTS


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": True, "description": description, "schema": {"type": "string"}}


def _json(schema: str, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if headers:
        response["headers"] = headers
    return response


_DECIMAL = {"type": "string", "description": "a decimal number as a string"}
_ORDER = {
    "type": "object",
    "description": "Alpaca's order object as it stands after the update (other fields are kept as sent)",
    "required": ["id", "client_order_id", "symbol", "side", "status"],
    "properties": {
        "id": {"type": "string"},
        "client_order_id": {"type": "string"},
        "symbol": {"type": "string"},
        "side": {"type": "string", "enum": ["buy", "sell"]},
        "status": {"type": "string"},
        "filled_qty": _DECIMAL,
        "filled_avg_price": {"type": "string", "nullable": True},
    },
}
_TRADE_UPDATE = {
    "type": "object",
    "description": "One Alpaca trade_update object: the `data` of a trade_updates stream message",
    "required": ["event", "order"],
    "properties": {
        "event": {"type": "string", "enum": sorted(TRADE_UPDATE_EVENTS)},
        "timestamp": {"type": "string"},
        "execution_id": {"type": "string", "description": "fill and partial_fill only"},
        "qty": _DECIMAL,
        "price": _DECIMAL,
        "position_qty": _DECIMAL,
        "order": _ORDER,
    },
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "string"}}}

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "webhook-ingest",
        "version": "1",
        "description": "Receives Alpaca trade updates as Standard Webhooks (HMAC-SHA256, `whsec_` secrets) and "
                       "publishes each verified one as BrokerTradeUpdate on broker.trade_updates.<SYMBOL>.",
    },
    "paths": {
        "/webhooks/fills": {
            "post": {
                "operationId": "receiveTradeUpdate",
                "summary": "One signed trade update",
                "description": "Verified over the raw body before anything parses it; a webhook-id is accepted once "
                               "and every repeat is answered 200 without effect. 2xx only once the event is stored "
                               "by JetStream. Bodies over the size limit (256 KiB by default) get 413.",
                "parameters": [
                    _header("webhook-id", "the delivery's id, the same on every retry (no '.')"),
                    _header("webhook-timestamp", "integer seconds since the epoch, within the tolerance of now"),
                    _header("webhook-signature", "space-separated `v1,<base64 HMAC-SHA256>` signatures of "
                                                 "`{webhook-id}.{webhook-timestamp}.{body}`"),
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _TRADE_UPDATE}}},
                "responses": {
                    "200": _json("Accepted", "published (status accepted), or a repeat of a known webhook-id "
                                             "(status duplicate)"),
                    "202": _json("DeadLettered", "verified but not a usable trade update: kept on dlq.webhook-ingest "
                                                 "with the reason; do not retry"),
                    "400": _json("Error", "malformed: a header missing or ill-formed, a body not UTF-8 or not JSON"),
                    "401": _json("Error", "not authentic (no signature matches) or out of time (stale or future)"),
                    "413": _json("Error", "body larger than the limit"),
                    "503": _json("Error", "the event bus or database is unavailable (or no secret is configured): "
                                          "retry later", _RETRY_AFTER),
                },
            }
        }
    },
    "components": {
        "schemas": {
            "Accepted": {
                "type": "object",
                "required": ["status", "webhook_id"],
                "properties": {
                    "status": {"type": "string", "enum": ["accepted", "duplicate"]},
                    "webhook_id": {"type": "string"},
                    "event_id": {"type": "string", "format": "uuid"},
                },
            },
            "DeadLettered": {
                "type": "object",
                "required": ["status", "webhook_id", "message"],
                "properties": {
                    "status": {"type": "string", "enum": ["dead_lettered"]},
                    "webhook_id": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
            "Error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
        }
    },
}
