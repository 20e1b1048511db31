"""Generate ``docs/asyncapi.yaml``: the bus's AsyncAPI 3.0 document, from ``topology`` through faststream.

    uv run python -m tradebus_contracts.asyncapi_export            # rewrite docs/asyncapi.yaml
    uv run python -m tradebus_contracts.asyncapi_export --check    # exit 1 if the file is stale

How: a FastStream app whose ``NatsBroker`` gets one stub per (channel, service) of ``topology.CHANNELS`` -- a
publisher for each producer, a subscriber (on the channel's JetStream stream) for each consumer -- and the same
for the core-NATS requests of ``topology.ENDPOINTS`` (a subscriber per responder, a publisher per requester).
Nothing connects: faststream's AsyncAPI 3.0.0 generator only reads the stubs. faststream is a dev dependency and
is imported only inside the functions below, so ``tradebus_contracts`` never needs it at run time.

Producers and consumers: one AsyncAPI *operation* per service and channel, keyed ``<service>:<action>:<channel>``
(``ticket-api:send:orders.requested``, ``risk-service:receive:orders.requested``), with ``action`` ``send`` for a
producer (or a requester) and ``receive`` for a consumer (or a responder), and the service as the operation's tag.
AsyncAPI 3.0 describes one application per document; this document describes the whole bus, so the operations of
all services sit side by side and the key and the tag say whose each one is. The channel's description also
names its producers and consumers in words.

faststream's output is then completed (``_complete``); each step fixes a gap of the generator:

- one channel per subject: faststream writes a channel per publisher/subscriber (all with the same address); here
  the operations of every service share one channel, keyed by the subject kind (``orders.requested``);
- the address keeps its ``{symbol}`` / ``{service}`` token and the parameter is declared under the channel's
  ``parameters`` (faststream leaves it undeclared); a symbol's '.' is written '_' in a subject (``BRK_B``);
- the JetStream stream of each channel (``x-jetstream-stream``, plus the consumers' filter subject in
  ``x-nats-subject-filter``) and every stream's definition (``x-jetstream-streams`` at the root): faststream
  describes neither; its channel binding ``nats: {subject, bindingVersion: custom}`` is not the AsyncAPI NATS
  binding (whose channel binding is empty) and is dropped;
- one message per event, named by its event type: faststream names messages ``<title>:SubscribeMessage``, and
  AsyncAPI 3.0 requires component keys to match ``^[a-zA-Z0-9._-]+$`` (no ':'; the official JSON Schema does not
  enforce it); its correlation id points at a header, tradebus carries ``correlation_id`` in the body; the
  ``Nats-Msg-Id`` header is described;
- payloads are the events' JSON Schemas exactly as ``schema_export`` writes ``contracts/schemas/<Event>.json``,
  with their ``$defs`` moved to ``components/schemas`` (so ``$ref``s resolve inside this document);
- decimals are strings: any ``number``-or-``string`` rendering of a ``Decimal`` becomes the decimal-string schema
  of ``decimal_types`` (Money and Quantity already are; this keeps a bare ``Decimal`` from slipping through);
- request/reply: the reply of each ``rpc.*`` / ``health.*`` request (faststream has no reply), on a reply channel
  whose address is null (the requester's ``_INBOX`` subject, unknown in advance).

Output is stable: channels, operations and streams in ``topology`` order, schemas by name with sorted keys, no
YAML aliases, newline at the end. With ``schema_export``, the only modules of this package that touch files, and
only when run.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
import warnings
from decimal import Decimal
from importlib.metadata import version as _package_version
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import BaseModel, TypeAdapter

from tradebus_contracts import generated
from tradebus_contracts.decimal_types import DecimalString
from tradebus_contracts.services import OPERATOR
from tradebus_contracts.streams import ALL_STREAMS, AUDIT_STREAM, StreamDefinition
from tradebus_contracts.subjects import DLQ, HEALTH
from tradebus_contracts.topology import ALL_SERVICES, CHANNELS, ENDPOINTS, Channel, Endpoint

__all__ = [
    "DEFAULT_DOCUMENT",
    "REGENERATE",
    "SERVER_URL",
    "channel_key",
    "endpoint_key",
    "operation_key",
    "build_app",
    "raw_document",
    "build_document",
    "render_document",
    "is_stale",
    "main",
]

# contracts/src/tradebus_contracts/asyncapi_export.py -> <repo>/docs/asyncapi.yaml
DEFAULT_DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.yaml"
REGENERATE = "uv run python -m tradebus_contracts.asyncapi_export"
SERVER_URL = "nats://127.0.0.1:4222"  # tradebus_runtime.settings' default NATS_URL

_SERVER = "development"  # faststream's name for a broker's only server
_DEFS = "#/$defs/"
_SCHEMAS = "#/components/schemas/"
_PARAMETERS = {
    "symbol": {
        "description": "The symbol as one subject token: a '.' in a symbol is written '_' (`BRK.B` -> `BRK_B`); "
        "the event body carries the real symbol.",
        "examples": ["AAPL", "BRK_B"],
    },
    "activity_type": {
        "description": "Alpaca's activity type (FILL, DIV, SPLIT, NC, MA, CSD, ...); with no symbol the last token "
        "is `_`.",
        "examples": ["FILL", "SPLIT"],
    },
    "service": {
        "description": "A tradebus service name.",
        "enum": list(ALL_SERVICES),
    },
}
_OPERATOR_TAG = "The operator's command line: not a service, but a producer and a requester."


# --- names ---------------------------------------------------------------------------------------------------------


def channel_key(channel: Channel) -> str:
    """The channel's id in the document: its subject kind (``orders.requested``, ``control.trading_state``)."""
    return channel.kind


def endpoint_key(endpoint: Endpoint) -> str:
    """The request channel's id: its subject without a parameter (``rpc.risk-service.preview``, ``health``)."""
    return endpoint.subject.split(".{", 1)[0]


def operation_key(service: str, action: str, key: str) -> str:
    """``ticket-api:send:orders.requested``: one service's side of one channel."""
    return f"{service}:{action}:{key}"


def _subject_template(channel: Channel) -> str:
    return ".".join([channel.kind, *(f"{{{name}}}" for name in channel.parameters)])


def _summary(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or model.__name__).strip().split("\n\n", 1)[0].split())


# --- faststream -----------------------------------------------------------------------------------------------------


def build_app() -> Any:
    """A FastStream app with a stub publisher or subscriber per (channel or request, service). Never started."""
    from faststream import FastStream
    from faststream.nats import JStream, NatsBroker
    from faststream.specification import AsyncAPI

    broker = NatsBroker(SERVER_URL, apply_types=False, description="The tradebus NATS server (JetStream enabled).")
    for channel in CHANNELS:
        key, stream = channel_key(channel), JStream(channel.stream, declare=False)
        for service in channel.producers:
            broker.publisher(_subject_template(channel), stream=stream, schema=channel.event,
                             title=operation_key(service, "send", key))
        for service in channel.consumers:
            broker.subscriber(_subject_template(channel), stream=stream, title=operation_key(service, "receive", key))(
                _stub(channel.event))
    for endpoint in ENDPOINTS:
        key = endpoint_key(endpoint)
        request = endpoint.request or dict[str, Any]
        for service in endpoint.requesters:
            broker.publisher(endpoint.subject, schema=request, title=operation_key(service, "send", key))
        for service in endpoint.responders:
            broker.subscriber(endpoint.subject, title=operation_key(service, "receive", key))(_stub(request))
    specification = AsyncAPI(broker, title="tradebus bus", version=_package_version("tradebus-contracts"),
                             schema_version="3.0.0")
    return FastStream(broker, specification=specification)


def _stub(payload_type: Any) -> Any:
    async def handle(body):  # faststream reads the payload type from the annotation set below
        return None

    handle.__annotations__ = {"body": payload_type, "return": None}
    return handle


def raw_document() -> dict[str, Any]:
    """faststream's AsyncAPI 3.0.0 document for ``build_app()``, as plain JSON data, before ``_complete``."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # an "overwrite channel/operation" warning is a name clash
        specification = build_app().schema.to_specification()
    return json.loads(specification.to_json())


# --- completing faststream's output -------------------------------------------------------------------------------


def build_document() -> dict[str, Any]:
    """The finished document: faststream's output completed by ``_complete``, as plain JSON data."""
    return json.loads(json.dumps(_complete(raw_document())))  # StrEnum members -> str


def _complete(raw: dict[str, Any]) -> dict[str, Any]:
    parts = _Parts(raw)
    for channel in CHANNELS:
        parts.add_channel(channel)
    for endpoint in ENDPOINTS:
        parts.add_endpoint(endpoint)
    if list(raw["servers"]) != [_SERVER]:
        raise RuntimeError(f"expected faststream to write one server {_SERVER!r}, got {list(raw['servers'])}")
    unexplained = sorted(set(raw["operations"]) - set(parts.operations))
    if unexplained:
        raise RuntimeError(f"faststream wrote operations that topology does not explain: {unexplained}")
    return {
        "asyncapi": raw["asyncapi"],
        "info": _info(raw["info"]),
        "defaultContentType": raw["defaultContentType"],
        "servers": raw["servers"],
        "channels": parts.channels,
        "operations": parts.operations,
        "components": {
            "messages": parts.messages,
            "schemas": {name: _canonical(parts.schemas[name]) for name in sorted(parts.schemas)},
        },
        "x-jetstream-streams": {stream.name: _stream(stream) for stream in ALL_STREAMS},
    }


class _Parts:
    """The document's channels, operations, messages and schemas, filled in ``topology`` order."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.channels: dict[str, Any] = {}
        self.operations: dict[str, Any] = {}
        self.messages: dict[str, Any] = {}
        self.schemas: dict[str, Any] = {}

    def add_channel(self, channel: Channel) -> None:
        key = channel_key(channel)
        message = _add_model(channel.event, self.schemas, self.messages, event=True)
        address = _address_of(self.raw, key, channel.producers + channel.consumers)
        self.channels[key] = _event_channel(channel, address, message)
        for action, services in (("send", channel.producers), ("receive", channel.consumers)):
            for service in services:
                self.operations[operation_key(service, action, key)] = _operation(
                    self.raw, service, action, key, message, channel.event)

    def add_endpoint(self, endpoint: Endpoint) -> None:
        key, reply_key = endpoint_key(endpoint), f"{endpoint_key(endpoint)}.reply"
        if endpoint.request:
            request = _add_model(endpoint.request, self.schemas, self.messages)
        else:
            request = _add_free_form(f"{key}.request", "The request: a JSON object (requesters send `{}`).",
                                     self.messages)
        if endpoint.reply:
            reply = _add_model(endpoint.reply, self.schemas, self.messages)
        else:
            reply = _add_free_form(reply_key, f"The reply: a JSON object. {endpoint.summary}", self.messages)
        address = _address_of(self.raw, key, endpoint.requesters + endpoint.responders)
        self.channels[key] = _request_channel(endpoint, address, request)
        self.channels[reply_key] = _reply_channel(endpoint, reply)
        for action, services in (("send", endpoint.requesters), ("receive", endpoint.responders)):
            for service in services:
                operation = _operation(self.raw, service, action, key, request, endpoint.request)
                operation["reply"] = {"channel": _ref("channels", reply_key),
                                      "messages": [_ref("channels", reply_key, "messages", reply)]}
                self.operations[operation_key(service, action, key)] = operation


def _address_of(raw: dict[str, Any], key: str, services: tuple[str, ...]) -> str:
    """The one address faststream gave every publisher and subscriber of this channel."""
    addresses = {raw["channels"][_raw_channel_key(raw, s, a, key)]["address"]
                 for s in services for a in ("send", "receive") if _has_operation(raw, s, a, key)}
    if len(addresses) != 1:
        raise RuntimeError(f"channel {key}: expected one address from faststream, got {sorted(addresses)}")
    return addresses.pop()


def _has_operation(raw: dict[str, Any], service: str, action: str, key: str) -> bool:
    return operation_key(service, action, key) in raw["operations"]


def _raw_channel_key(raw: dict[str, Any], service: str, action: str, key: str) -> str:
    reference = raw["operations"][operation_key(service, action, key)]["channel"]["$ref"]
    return reference.removeprefix("#/channels/")


def _operation(raw: dict[str, Any], service: str, action: str, key: str, message: str,
               model: type[BaseModel] | None) -> dict[str, Any]:
    name = operation_key(service, action, key)
    produced = raw["operations"].get(name)
    if produced is None or produced["action"] != action:
        raise RuntimeError(f"faststream did not write the {action} operation {name}")
    if model is not None:
        found = {_payload_name(raw, m["$ref"]) for m in produced["messages"]}
        if found != {model.__name__}:
            raise RuntimeError(f"faststream gave {name} the payload(s) {sorted(found)}, not {model.__name__}")
    verb = "sends" if action == "send" else "receives"
    return {
        "action": produced["action"],
        "channel": _ref("channels", key),
        "title": f"{service} {verb} {message}",
        "tags": [{"name": service}],
        "messages": [_ref("channels", key, "messages", message)],
    }


def _payload_name(raw: dict[str, Any], reference: str) -> str:
    """The schema name behind an operation's message reference in faststream's output."""
    message = _resolve(raw, _resolve(raw, reference)["$ref"])
    return message["payload"]["$ref"].removeprefix(_SCHEMAS)


def _resolve(document: dict[str, Any], reference: str) -> Any:
    node: Any = document
    for part in reference.removeprefix("#/").split("/"):
        node = node[unquote(part).replace("~1", "/").replace("~0", "~")]
    return node


def _event_channel(channel: Channel, address: str, message: str) -> dict[str, Any]:
    stream = next(s for s in ALL_STREAMS if s.name == channel.stream)
    audit = f"; copied into `{AUDIT_STREAM.name}`" if stream.name in AUDIT_STREAM.sources else ""
    body: dict[str, Any] = {
        "address": address,
        "title": message,
        "summary": _summary(channel.event),
        "description": (
            (f"Subjects `{address}`; consumers filter `{channel.subject_filter}`. " if channel.parameters else
             f"Subject `{address}`. ")
            + f"JetStream stream `{stream.name}`: {stream.description}{audit}. "
            f"Producers: {', '.join(channel.producers)}. Consumers: {', '.join(channel.consumers)}."
        ),
        "servers": [_ref("servers", _SERVER)],
        "messages": {message: _ref("components", "messages", message)},
    }
    if channel.parameters:
        parameters = {name: copy.deepcopy(_PARAMETERS[name]) for name in channel.parameters}
        if channel.kind == DLQ:
            parameters["service"]["description"] = "The service that could not use the message."
            parameters["service"]["location"] = "$message.payload#/service"
        body["parameters"] = parameters
    body["x-jetstream-stream"] = stream.name
    body["x-nats-subject-filter"] = channel.subject_filter
    return body


def _request_channel(endpoint: Endpoint, address: str, message: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "address": address,
        "title": endpoint.subject,
        "summary": endpoint.summary,
        "description": (
            "A core NATS request (request/reply), outside every stream: JetStream never captures it. "
            f"Responders: {', '.join(endpoint.responders)}. Requesters: {', '.join(endpoint.requesters)}."
        ),
        "servers": [_ref("servers", _SERVER)],
        "messages": {message: _ref("components", "messages", message)},
    }
    if address.startswith(f"{HEALTH}."):
        body["parameters"] = {"service": {**copy.deepcopy(_PARAMETERS["service"]),
                                          "description": "The service asked for its health report."}}
    return body


def _reply_channel(endpoint: Endpoint, message: str) -> dict[str, Any]:
    failure = " A responder that fails answers `{\"error\": \"<what went wrong>\"}` instead." \
        if endpoint.subject.startswith("rpc.") else ""
    return {
        "address": None,
        "title": f"{endpoint.subject} reply",
        "description": f"The requester's inbox (`_INBOX.…`), chosen per request by NATS request/reply.{failure}",
        "servers": [_ref("servers", _SERVER)],
        "messages": {message: _ref("components", "messages", message)},
    }


def _add_model(model: type[BaseModel], schemas: dict[str, Any], messages: dict[str, Any], *,
               event: bool = False) -> str:
    """Put the model's schema (``$defs`` moved to ``components/schemas``) and its message into the components."""
    name = model.__name__
    schema = _decimals_as_strings(model.model_json_schema())
    for def_name, definition in schema.pop("$defs", {}).items():
        _put(schemas, def_name, _refs_to_components(definition))
    _put(schemas, name, _refs_to_components(schema))
    message: dict[str, Any] = {
        "name": name,
        "title": name,
        "summary": _summary(model),
        "contentType": "application/json",
    }
    if event:
        message["headers"] = {
            "type": "object",
            "properties": {
                "Nats-Msg-Id": {
                    "type": "string",
                    "format": "uuid",
                    "description": "The event's event_id: JetStream stores a re-publish within the stream's "
                    "duplicate window once.",
                },
            },
        }
        message["correlationId"] = {
            "description": "The order_id for anything about an order, else the operation's id.",
            "location": "$message.payload#/correlation_id",
        }
    message["payload"] = _ref("components", "schemas", name)
    messages[name] = message
    return name


def _add_free_form(name: str, description: str, messages: dict[str, Any]) -> str:
    messages[name] = {
        "name": name,
        "title": name,
        "contentType": "application/json",
        "payload": {"type": "object", "description": f"{description} Free-form: no contract model."},
    }
    return name


def _put(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    if name in schemas and schemas[name] != schema:
        raise RuntimeError(f"two different schemas are both named {name!r}")
    schemas[name] = schema


def _refs_to_components(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (v.replace(_DEFS, _SCHEMAS, 1) if k == "$ref" and isinstance(v, str) else _refs_to_components(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_refs_to_components(v) for v in node]
    return node


_DECIMAL_STRING = TypeAdapter(Annotated[Decimal, DecimalString("decimal")]).json_schema()


def _decimals_as_strings(node: Any) -> Any:
    """pydantic renders a bare ``Decimal`` as ``anyOf: [number, string]``: a decimal travels as a string only."""
    if isinstance(node, dict):
        branches = node.get("anyOf")
        if isinstance(branches, list) and sorted(b.get("type", "") for b in branches if isinstance(b, dict)) == [
                "number", "string"] and len(branches) == 2:
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            return {**copy.deepcopy(_DECIMAL_STRING), **rest}
        return {k: _decimals_as_strings(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_decimals_as_strings(v) for v in node]
    return node


def _info(info: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": info["title"],
        "version": info["version"],
        "description": (
            "Every subject of the tradebus bus (DESIGN §4): who sends it, who receives it, the JetStream stream "
            "that keeps it and the JSON Schema of its message. Generated from `tradebus_contracts.topology` by "
            f"faststream's AsyncAPI generator; do not edit, regenerate with `{REGENERATE}`.\n\n"
            "- Each operation is one service's side of one channel, keyed `<service>:<send|receive>:<channel>` and "
            "tagged with the service.\n"
            "- Money and quantities are decimal strings, never JSON numbers.\n"
            "- A symbol is one subject token: its '.' is written '_' (`orders.requested.BRK_B`).\n"
            "- Publishers set the `Nats-Msg-Id` header to the event's `event_id`; every domain stream drops a "
            "duplicate within its window. `AUDIT` sources every domain stream (see `x-jetstream-streams`).\n"
            "- `rpc.*` and `health.*` are core NATS requests outside every stream; each has a reply channel."
        ),
        "tags": [{"name": name} for name in ALL_SERVICES] + [{"name": OPERATOR, "description": _OPERATOR_TAG}],
    }


def _stream(stream: StreamDefinition) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(stream).items() if k != "name"}


def _ref(*parts: str) -> dict[str, str]:
    return {"$ref": "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)}


def _canonical(node: Any) -> Any:
    """Sorted keys, as ``schema_export`` writes them: the same schema reads the same everywhere."""
    if isinstance(node, dict):
        return {k: _canonical(node[k]) for k in sorted(node)}
    if isinstance(node, list):
        return [_canonical(v) for v in node]
    return node


# --- the file ------------------------------------------------------------------------------------------------------


def render_document() -> str:
    """The YAML text of ``build_document()``."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    def _text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
        style = "|" if "\n" in text else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)

    _Dumper.add_representer(str, _text)
    header = (f"# Generated by tradebus_contracts.asyncapi_export from tradebus_contracts.topology: do not edit.\n"
              f"# Regenerate: {REGENERATE}\n")
    return header + yaml.dump(build_document(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120,
                              default_flow_style=False)


def _expected(out: Path) -> dict[Path, str]:
    return {out: render_document()}


def is_stale(path: Path = DEFAULT_DOCUMENT, text: str | None = None) -> bool:
    """True when ``path`` is missing or differs from a fresh generation."""
    return bool(generated.stale({path: render_document() if text is None else text}))


def main(argv: list[str] | None = None) -> int:
    return generated.command_line(argv, prog="python -m tradebus_contracts.asyncapi_export",
                                  summary=__doc__.splitlines()[0], default_out=DEFAULT_DOCUMENT,
                                  expected=_expected, regenerate=REGENERATE)


if __name__ == "__main__":
    sys.exit(main())
