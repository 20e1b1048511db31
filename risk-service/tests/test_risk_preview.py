"""The preview responder with plain values: the reply a ticket gets (``rpc.PreviewReply``) — the checks' verdict,
the estimate, and the buying power before and after the order — or the malformed fields. No servers, no clock."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from risk_service.responders import RiskResponders
from tradebus_contracts import TradingState
from tradebus_contracts.rpc import FieldProblem

LIMIT = {"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "day", "qty": "10",
         "limit_price": "187.25"}


@pytest.fixture
def preview(decider, now):
    responders = RiskResponders(decider, clock=lambda: now)

    async def ask(**order):
        return await responders.preview(json.dumps(order).encode())

    return ask


async def test_preview_when_a_buy_passes_then_its_cost_comes_off_the_buying_power(preview):
    reply = await preview(**LIMIT)

    assert reply.ok and reply.approved and reply.reasons == []
    assert (reply.estimated_cost, reply.price_basis) == (Decimal("1872.50"), "limit_price")
    assert (reply.buying_power, reply.buying_power_after) == (Decimal("100000"), Decimal("98127.50"))
    assert reply.trading_state is TradingState.ACTIVE
    assert '"buying_power_after":"98127.50"' in reply.model_dump_json()  # as the runtime sends it


async def test_preview_when_selling_a_held_position_then_buying_power_is_unchanged(preview, refdata):
    refdata.position = Decimal("10")

    reply = await preview(**{**LIMIT, "side": "sell"})

    assert reply.approved and reply.buying_power_after == reply.buying_power == Decimal("100000")


async def test_preview_when_a_sell_goes_past_the_long_then_only_the_opening_part_uses_buying_power(preview, refdata):
    refdata.position = Decimal("10")

    reply = await preview(**{**LIMIT, "side": "sell", "qty": "15"})

    assert reply.estimated_cost == Decimal("2808.75")
    assert reply.buying_power_after == Decimal("100000") - Decimal("2808.75") * 5 / 15


async def test_preview_when_a_notional_sell_goes_past_the_long_then_its_shares_are_counted_at_the_bid(
    preview, refdata
):
    refdata.position = Decimal("5")

    reply = await preview(symbol="AAPL", side="sell", type="market", time_in_force="day", notional="1872.00")

    assert reply.price_basis == "notional"
    assert reply.buying_power_after == Decimal("100000") - Decimal("936")  # 10 shares at 187.20, 5 of them short


async def test_preview_when_the_order_fails_then_every_reason_and_no_approval(preview):
    reply = await preview(**{**LIMIT, "qty": "0", "limit_price": "187.255"})

    assert reply.ok and not reply.approved
    assert {"QTY_NOT_POSITIVE", "SUB_PENNY_PRICE"} <= {r.code for r in reply.reasons}


async def test_preview_when_amounts_are_too_big_to_carry_then_they_are_unknown_and_the_reasons_still_come(preview):
    reply = await preview(**{**LIMIT, "qty": "1" + "0" * 25, "limit_price": "1" + "0" * 19})

    assert reply.ok and reply.estimated_cost is None and reply.buying_power_after is None
    assert "ORDER_NOTIONAL_EXCEEDS_LIMIT" in {r.code for r in reply.reasons}


@pytest.mark.parametrize(("raw", "fields"), [
    (b'{"qty": 1.5}', {"symbol", "side", "type", "time_in_force", "qty"}),
    (b"not json", {None}),
])
async def test_preview_when_the_request_is_malformed_then_not_ok_with_the_fields_at_fault(decider, now, raw, fields):
    reply = await RiskResponders(decider, clock=lambda: now).preview(raw)

    assert reply.ok is False and {e.field for e in reply.errors} == fields
    assert all(isinstance(e, FieldProblem) and e.message for e in reply.errors)
    assert reply.approved is False and reply.buying_power_after is None
