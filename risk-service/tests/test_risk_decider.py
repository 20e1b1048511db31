"""The decider with plain values: approvals are signed and verify, rejections carry reasons, a check that raises
rejects (CHECK_FAILED) instead of approving blind."""

from decimal import Decimal
from uuid import uuid4

import risk_service.decider as decider_module
from risk_service.booking import Commitment
from risk_service.decider import CHECK_FAILED
from tradebus_contracts import OrderRequested, RiskApproved, RiskRejected, verify_approval
from tradebus_contracts.signing import key_id_for


def request(**fields):
    order_id = uuid4()
    base = dict(producer="t", order_id=order_id, correlation_id=str(order_id), symbol="AAPL", side="buy",
                type="limit", time_in_force="day", qty=Decimal("10"), limit_price=Decimal("187.25"))
    base.update(fields)
    return OrderRequested(**base)


def test_decide_when_order_passes_then_signed_approval_and_its_cost(decider, signing_key, now):
    event, commitment = decider.decide(request(), now)

    assert isinstance(event, RiskApproved) and commitment == Commitment(Decimal("1872.50"), Decimal("10"))
    verify_approval(event, {key_id_for(signing_key.public_key()): signing_key.public_key()}, now)


def test_decide_when_order_fails_then_rejection_with_every_reason_and_no_cost(decider, now):
    event, cost = decider.decide(request(qty=Decimal("0"), limit_price=Decimal("187.255")), now)

    assert isinstance(event, RiskRejected) and cost is None
    assert {"QTY_NOT_POSITIVE", "SUB_PENNY_PRICE"} <= {r.code for r in event.reasons}


def test_decide_when_a_check_raises_then_rejected_as_check_failed_never_approved(decider, now, monkeypatch):
    def broken(*args, **kwargs):
        raise ArithmeticError("boom")

    monkeypatch.setattr(decider_module, "evaluate", broken)
    event, cost = decider.decide(request(), now)

    assert isinstance(event, RiskRejected) and cost is None
    assert [r.code for r in event.reasons] == [CHECK_FAILED]
