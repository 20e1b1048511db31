"""The decider with plain values: approvals are signed and verify, rejections carry reasons, a check that raises
rejects (CHECK_FAILED) instead of approving blind."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

import risk_service.decider as decider_module
from risk_service.book import Book
from risk_service.decider import CHECK_FAILED, Decider, Signer
from risk_service.limits import Limits
from risk_service.model import Account, Asset, Quote
from tradebus_contracts import OrderRequested, RiskApproved, RiskRejected, TradingState, verify_approval
from tradebus_contracts.signing import generate_private_key, key_id_for

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


class FakeRefData:
    def asset(self, symbol):
        return Asset("AAPL", True, True, True, NOW) if symbol == "AAPL" else None

    def quote(self, symbol):
        return Quote("AAPL", Decimal("187.20"), Decimal("187.30"), None, NOW) if symbol == "AAPL" else None

    def account_view(self):
        return Account(Decimal("100000"), Decimal("100000"), NOW)

    def position_qty(self, symbol):
        return Decimal(0)

    def gross_exposure(self):
        return Decimal(0)


class State:
    state = TradingState.ACTIVE


@pytest.fixture
def decider():
    key = generate_private_key()
    return Decider(Limits(), FakeRefData(), Book(throttle_window=timedelta(seconds=1)), Signer(key, timedelta(seconds=30)),
                   State()), key


def request(**fields):
    order_id = uuid4()
    base = dict(producer="t", order_id=order_id, correlation_id=str(order_id), symbol="AAPL", side="buy",
                type="limit", time_in_force="day", qty=Decimal("10"), limit_price=Decimal("187.25"))
    base.update(fields)
    return OrderRequested(**base)


def test_decide_when_order_passes_then_signed_approval_and_its_cost(decider):
    d, key = decider

    event, cost = d.decide(request(), NOW)

    assert isinstance(event, RiskApproved) and cost == Decimal("1872.50")
    verify_approval(event, {key_id_for(key.public_key()): key.public_key()}, NOW)


def test_decide_when_order_fails_then_rejection_with_every_reason_and_no_cost(decider):
    d, _ = decider

    event, cost = d.decide(request(qty=Decimal("0"), limit_price=Decimal("187.255")), NOW)

    assert isinstance(event, RiskRejected) and cost is None
    assert {"QTY_NOT_POSITIVE", "SUB_PENNY_PRICE"} <= {r.code for r in event.reasons}


def test_decide_when_a_check_raises_then_rejected_as_check_failed_never_approved(decider, monkeypatch):
    d, _ = decider

    def broken(*args, **kwargs):
        raise ArithmeticError("boom")

    monkeypatch.setattr(decider_module, "evaluate", broken)
    event, cost = d.decide(request(), NOW)

    assert isinstance(event, RiskRejected) and cost is None
    assert [r.code for r in event.reasons] == [CHECK_FAILED]
