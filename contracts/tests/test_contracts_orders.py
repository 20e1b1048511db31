"""Order vocabulary: Alpaca's own values, valid symbols, deterministic client order ids."""

from __future__ import annotations

from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tradebus_contracts.orders import (
    OrderFields,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
    client_order_id_for,
    order_id_from_client_order_id,
)


def test_enums_when_compared_with_alpaca_py_then_values_are_alpacas():
    alpaca = pytest.importorskip("alpaca.trading.enums")

    assert {s.value for s in OrderStatus} == {s.value for s in alpaca.OrderStatus}
    assert {s.value for s in TimeInForce} == {s.value for s in alpaca.TimeInForce}
    assert {s.value for s in OrderSide} == {s.value for s in alpaca.OrderSide}
    assert {s.value for s in OrderType} <= {s.value for s in alpaca.OrderType}


@given(st.uuids())
def test_client_order_id_when_derived_then_stable_short_and_reversible(order_id):
    client_order_id = client_order_id_for(order_id)

    assert client_order_id == client_order_id_for(UUID(str(order_id)))
    assert len(client_order_id) <= 48
    assert order_id_from_client_order_id(client_order_id) == order_id


@pytest.mark.parametrize("foreign", ["my-order-1", "tb-", "tb-xyz", "tb-" + "A" * 32, "tb-" + "0" * 31,
                                     "TB-" + "0" * 32, "tb-" + "0" * 33])
def test_order_id_from_client_order_id_when_not_made_by_tradebus_then_none(foreign):
    assert order_id_from_client_order_id(foreign) is None


@pytest.mark.parametrize("symbol", ["AAPL", "BRK.B", "A", "BF.B", "SPY", "X1", "ABCDEFGHIJKLMNOP"])
def test_order_fields_when_symbol_is_a_ticker_then_accepted(symbol):
    fields = OrderFields(symbol=symbol, side="sell", type="market", time_in_force="day", qty="1")

    assert fields.symbol == symbol
    assert fields.extended_hours is False


def test_order_fields_when_qty_and_notional_both_set_then_still_well_typed_for_risk_to_judge():
    fields = OrderFields(symbol="AAPL", side="buy", type="stop_limit", time_in_force="gtc", qty="1", notional="5")

    assert fields.limit_price is None and fields.stop_price is None


def test_order_fields_when_time_in_force_is_not_alpacas_then_rejected():
    with pytest.raises(ValidationError, match="time_in_force"):
        OrderFields(symbol="AAPL", side="buy", type="market", time_in_force="gtd", qty="1")
