"""risk-service as a real process against real NATS and PostgreSQL: decisions, redelivery, kill switch, DLQ.
The harness (`risk` fixture) is in conftest.py."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tradebus_contracts import RiskApproved, RiskRejected, decode_event, verify_approval
from tradebus_contracts.subjects import RISK_PREVIEW

pytestmark = pytest.mark.integration


def now():
    return datetime.now(UTC)


async def test_request_when_order_passes_every_check_then_signed_approval_verifies(risk, order_requested):
    request = order_requested(qty="10", limit_price="187.25")

    await risk.request(request)
    decision = await risk.decision_for(request.order_id)

    assert isinstance(decision, RiskApproved)
    verify_approval(decision, risk.trusted, now())
    assert decision.causation_id == request.event_id and decision.qty == Decimal("10")


async def test_request_when_several_checks_fail_then_rejected_with_every_reason(risk, order_requested):
    request = order_requested(qty="0", limit_price="187.255")

    await risk.request(request)
    decision = await risk.decision_for(request.order_id)

    assert isinstance(decision, RiskRejected)
    codes = {r.code for r in decision.reasons}
    assert {"QTY_NOT_POSITIVE", "SUB_PENNY_PRICE"} <= codes
    assert decision.message


async def test_request_when_quote_is_stale_then_rejected_rather_than_guessed(risk, order_requested):
    await risk.seed(quote_age=timedelta(hours=2))
    await asyncio.sleep(0.3)
    request = order_requested()

    await risk.request(request)
    decision = await risk.decision_for(request.order_id)

    assert isinstance(decision, RiskRejected)
    assert "QUOTE_STALE" in {r.code for r in decision.reasons}


async def test_request_when_republished_or_redelivered_then_same_decision_never_a_second_approval(
    risk, order_requested
):
    request = order_requested()
    again = request.model_copy(update={"event_id": __import__("uuid").uuid4()})  # same order, new message

    await risk.request(request)
    first = await risk.decision_for(request.order_id)
    risk.stop()
    risk.start()  # a restart in between: the decision comes from PostgreSQL
    await risk.healthy()
    await risk.request(again)
    second = await risk.decision_for(request.order_id)
    info = await risk.js.stream_info("RISK")

    assert isinstance(first, RiskApproved)
    assert second.event_id == first.event_id and second.approval_id == first.approval_id
    assert info.state.messages == 1  # the re-publish carried the same Nats-Msg-Id: stored once


async def test_request_when_order_id_is_reused_for_another_order_then_dead_lettered_not_decided_again(
    risk, order_requested
):
    request = order_requested()
    await risk.request(request)
    await risk.decision_for(request.order_id)
    impostor = order_requested(order_id=request.order_id, qty="999")

    await risk.request(impostor)
    dlq = await risk.js.pull_subscribe("dlq.risk-service", stream="DLQ")
    letter = decode_event((await dlq.fetch(1, timeout=10))[0].data)

    assert "already decided for different order fields" in letter.reason
    assert (await risk.js.stream_info("RISK")).state.messages == 1


async def test_kill_switch_when_halted_reducing_and_resumed_then_decisions_follow_and_survive_restart(
    risk, order_requested
):
    await risk.set_position("10")
    await risk.tradectl("halt", "--reason", "test halt")
    await asyncio.sleep(0.3)
    halted = order_requested(side="sell", qty="5")
    await risk.request(halted)
    assert "TRADING_HALTED" in {r.code for r in (await risk.decision_for(halted.order_id)).reasons}

    risk.stop()
    risk.start()
    await risk.healthy()
    still_halted = order_requested()
    await risk.request(still_halted)
    assert "TRADING_HALTED" in {r.code for r in (await risk.decision_for(still_halted.order_id)).reasons}

    await risk.tradectl("halt", "--reducing", "--reason", "wind down")
    await asyncio.sleep(0.3)
    reduce, grow = order_requested(side="sell", qty="5"), order_requested(side="buy", qty="5")
    await risk.request(reduce)
    await risk.request(grow)
    assert isinstance(await risk.decision_for(reduce.order_id), RiskApproved)
    assert "TRADING_REDUCING_ONLY" in {r.code for r in (await risk.decision_for(grow.order_id)).reasons}

    await risk.tradectl("resume")
    await asyncio.sleep(0.3)
    after = order_requested(side="buy", qty="5")
    await risk.request(after)
    assert isinstance(await risk.decision_for(after.order_id), RiskApproved)


async def test_garbage_when_published_on_the_request_subject_then_dead_lettered_and_service_keeps_deciding(
    risk, order_requested
):
    await risk.js.publish("orders.requested.AAPL", b"definitely not an order")
    request = order_requested()
    await risk.request(request)

    decision = await risk.decision_for(request.order_id)
    dlq = await risk.js.pull_subscribe("dlq.risk-service", stream="DLQ")
    letter = decode_event((await dlq.fetch(1, timeout=10))[0].data)

    assert isinstance(decision, RiskApproved)
    assert letter.reason.startswith("undecodable") and letter.payload_text == "definitely not an order"


async def test_limits_when_asked_through_tradectl_then_active_limits_and_state_are_shown(risk):
    out = json.loads(await risk.tradectl("risk", "limits", "--json"))

    assert out["trading_state"] == "active"
    assert out["signing_key_id"] == risk.keys.key_id
    assert "max_order_notional" in out["limits"]


async def test_preview_when_asked_then_same_checks_without_a_decision(risk):
    good = {"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "day", "qty": "10",
            "limit_price": "187.25"}
    bad = {**good, "qty": "0", "limit_price": "187.255"}

    ok = json.loads((await risk.nc.request(RISK_PREVIEW, json.dumps(good).encode(), timeout=3)).data)
    no = json.loads((await risk.nc.request(RISK_PREVIEW, json.dumps(bad).encode(), timeout=3)).data)
    garbage = json.loads((await risk.nc.request(RISK_PREVIEW, b'{"qty": 1.5}', timeout=3)).data)
    await asyncio.sleep(0.3)

    assert ok["ok"] and ok["approved"] and ok["estimated_cost"] == "1872.50" and ok["price_basis"] == "limit_price"
    assert not no["approved"] and {"QTY_NOT_POSITIVE", "SUB_PENNY_PRICE"} <= {r["code"] for r in no["reasons"]}
    assert garbage["ok"] is False and garbage["errors"]
    assert risk.decisions.empty()  # a preview publishes nothing
    assert (await risk.js.stream_info("RISK")).state.messages == 0


async def test_request_when_amounts_are_huge_then_rejected_with_reasons_not_stuck(risk, order_requested):
    # found by the API fuzzer: 17-digit qty x 11-digit price overflowed the 28-digit default when formatting
    request = order_requested(type="stop", qty="64558506529067864", stop_price="30649977610.20", limit_price=None)

    await risk.request(request)
    decision = await risk.decision_for(request.order_id)

    assert isinstance(decision, RiskRejected)
    assert "ORDER_NOTIONAL_EXCEEDS_LIMIT" in {r.code for r in decision.reasons}
