"""Collars as a trader meets them, with plain values: passive limits and protective stops pass at any distance up to
the sanity bound; a limit that would pay too much (or sell too cheaply) the moment it arrives is refused, naming
the side and the price; a stop the market has passed is only pointed out, in the preview."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from risk_service.limits import Limits, SymbolLimits
from risk_service.responders import RiskResponders

D = Decimal
QUOTE = {"bid": D("187.20"), "ask": D("187.30")}  # conftest's AAPL quote


def order(**fields):
    return {"symbol": "AAPL", "time_in_force": "gtc", "qty": "10", **fields}


@pytest.fixture
def preview(decider, now, refdata):
    refdata.position = D(10)
    responders = RiskResponders(decider, clock=lambda: now)

    async def ask(**fields):
        return await responders.preview(json.dumps(order(**fields)).encode())

    return ask


@pytest.mark.parametrize("fields", [
    {"side": "sell", "type": "stop", "stop_price": "159.12"},  # a stop-loss 15 % under the bid
    {"side": "buy", "type": "limit", "limit_price": "149.84"},  # a resting bid 20 % under the ask
    {"side": "sell", "type": "limit", "limit_price": "280.00"},  # a resting offer 50 % over the bid
    {"side": "buy", "type": "stop", "stop_price": "280.00"},  # a buy stop 50 % over: covers a short, or a breakout
    {"side": "sell", "type": "stop_limit", "stop_price": "159.12", "limit_price": "150.00"},  # stop-loss with a floor
])
async def test_preview_when_a_passive_limit_or_protective_stop_is_far_from_the_market_then_approved(preview, fields):
    reply = await preview(**fields)

    assert reply.approved and reply.reasons == []


@pytest.mark.parametrize(("fields", "code", "says"), [
    ({"side": "buy", "type": "limit", "limit_price": "215.40"}, "PRICE_COLLAR_BUY_LIMIT_ABOVE_ASK",
     "a buy limit at $215.40 is 15% above the ask $187.30; the collar is 10%"),
    ({"side": "sell", "type": "limit", "limit_price": "159.12"}, "PRICE_COLLAR_SELL_LIMIT_BELOW_BID",
     "a sell limit at $159.12 is 15% below the bid $187.20"),
    ({"side": "buy", "type": "stop_limit", "stop_price": "190", "limit_price": "220"},
     "PRICE_COLLAR_BUY_STOP_LIMIT_ABOVE_STOP", "a buy stop-limit's limit $220 is 15.79% above its stop $190"),
    ({"side": "sell", "type": "stop_limit", "stop_price": "180", "limit_price": "150"},
     "PRICE_COLLAR_SELL_STOP_LIMIT_BELOW_STOP", "is 16.67% below its stop $180"),
    ({"side": "sell", "type": "limit", "limit_price": "1000000000"}, "PRICE_FAR_FROM_MARKET",
     "no limit or stop price may be more than 90% away"),
    ({"side": "sell", "type": "stop", "stop_price": "9.99"}, "PRICE_FAR_FROM_MARKET",
     "stop price $9.99 is 94.66% away"),
])
async def test_preview_when_a_price_pays_too_much_sells_too_cheaply_or_is_absurd_then_refused_naming_it(
    preview, fields, code, says
):
    reply = await preview(**fields)

    found = {r.code: r for r in reply.reasons}
    assert not reply.approved and says in found[code].message


@pytest.mark.parametrize(("fields", "says"), [
    ({"side": "buy", "type": "stop", "stop_price": "180.00"}, "a buy stop at $180.00 is at or below the ask $187.30"),
    ({"side": "sell", "type": "stop_limit", "stop_price": "187.20", "limit_price": "180.00"},
     "a sell stop at $187.20 is at or above the bid $187.20"),
])
async def test_preview_when_a_stop_would_trigger_at_once_then_approved_with_advice(preview, fields, says):
    reply = await preview(**fields)

    (advice,) = reply.warnings
    assert reply.approved and not reply.reasons and advice.code == "STOP_TRIGGERS_NOW" and says in advice.message


def test_decide_when_a_stop_would_trigger_at_once_then_approved_without_a_word(decider, now, order_requested):
    from tradebus_contracts import RiskApproved

    event, _ = decider.decide(order_requested(type="stop", limit_price=None, stop_price=D("180")), now)

    assert isinstance(event, RiskApproved)


async def test_preview_when_the_symbol_has_its_own_collar_or_bound_then_it_applies(decider, now, preview):
    decider.limits = Limits(symbols={"AAPL": SymbolLimits(price_collar_pct=D("20"))})
    wide_collar = await preview(side="buy", type="limit", limit_price="215.40")
    decider.limits = Limits(symbols={"AAPL": SymbolLimits(price_sanity_pct=D("10"))})
    tight_bound = await preview(side="buy", type="limit", limit_price="149.84")

    assert wide_collar.approved
    assert [r.code for r in tight_bound.reasons] == ["PRICE_FAR_FROM_MARKET"]
