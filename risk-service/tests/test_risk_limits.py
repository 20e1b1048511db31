"""Limits: safe defaults < TOML file < RISK_* environment; per-symbol overrides; errors that name the key and
where it came from."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from risk_service.limits import Limits, LimitsError, SymbolLimits, load_limits

D = Decimal


def a_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "limits.toml"
    path.write_text(text)
    return path


# --- precedence ---------------------------------------------------------------------------------------------


def test_load_limits_when_nothing_given_then_safe_defaults():
    limits = load_limits(None, {})

    assert limits == Limits()
    assert limits.max_order_notional == D("50000")
    assert limits.max_open_orders == 50
    assert limits.price_collar_pct == D("10")


@pytest.mark.parametrize(("file_text", "env", "expected"), [
    ("", {}, D("50000")),
    ("max_order_notional = 25000\n", {}, D("25000")),
    ("", {"RISK_MAX_ORDER_NOTIONAL": "1000"}, D("1000")),
    ("max_order_notional = 25000\n", {"RISK_MAX_ORDER_NOTIONAL": "1000.50"}, D("1000.50")),
])
def test_load_limits_when_layers_set_a_limit_then_env_beats_file_beats_default(tmp_path, file_text, env,
                                                                               expected):
    limits = load_limits(a_file(tmp_path, file_text), env)

    assert limits.max_order_notional == expected


def test_load_limits_when_toml_has_a_float_then_it_is_read_exactly(tmp_path):
    limits = load_limits(a_file(tmp_path, "price_collar_pct = 2.1\nthrottle_window_s = 0.5\n"), {})

    assert limits.price_collar_pct == D("2.1")
    assert limits.throttle_window_s == D("0.5")


def test_load_limits_when_counts_given_then_they_are_ints(tmp_path):
    limits = load_limits(a_file(tmp_path, "max_open_orders = 7\n"), {"RISK_THROTTLE_MAX_ORDERS": "3"})

    assert (limits.max_open_orders, limits.throttle_max_orders) == (7, 3)


def test_load_limits_when_env_has_other_risk_settings_then_they_are_ignored():
    env = {"RISK_SIGNING_KEY_PATH": "/keys/risk.key", "RISK_APPROVAL_TTL_S": "30", "PATH": "/usr/bin"}

    assert load_limits(None, env) == Limits()


# --- per-symbol overrides -----------------------------------------------------------------------------------


def test_for_symbol_when_file_overrides_a_symbol_then_only_that_symbol_changes(tmp_path):
    path = a_file(tmp_path, "max_order_qty = 1000\n\n[symbols.AAPL]\nmax_order_qty = 50\nprice_collar_pct = 2.5\n")

    limits = load_limits(path, {})

    assert limits.for_symbol("AAPL").max_order_qty == D("50")
    assert limits.for_symbol("AAPL").price_collar_pct == D("2.5")
    assert limits.for_symbol("AAPL").max_order_notional == D("50000")
    assert limits.for_symbol("MSFT").max_order_qty == D("1000")


def test_for_symbol_when_env_sets_the_account_default_then_file_symbol_override_still_wins(tmp_path):
    path = a_file(tmp_path, "[symbols.AAPL]\nmax_order_qty = 50\n")

    limits = load_limits(path, {"RISK_MAX_ORDER_QTY": "7"})

    assert limits.for_symbol("AAPL").max_order_qty == D("50")
    assert limits.for_symbol("MSFT").max_order_qty == D("7")


def test_for_symbol_when_called_then_the_view_has_no_symbol_table():
    limits = Limits(symbols={"BRK.B": SymbolLimits(max_position_qty=D("3"))})

    view = limits.for_symbol("BRK.B")

    assert view.symbols == {}
    assert view.max_position_qty == D("3")


def test_describe_when_called_then_decimals_are_strings_and_overrides_listed():
    limits = Limits(max_order_notional=D("1234.50"), symbols={"AAPL": SymbolLimits(max_order_qty=D("5"))})

    described = limits.describe()

    assert described["max_order_notional"] == "1234.50"
    assert described["max_open_orders"] == 50
    assert described["symbols"] == {"AAPL": {"max_order_qty": "5"}}
    assert set(described) == set(Limits.model_fields)


# --- errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "key"), [
    ("max_oder_notional = 5\n", "max_oder_notional"),
    ("[symbols.AAPL]\nmax_ordr_qty = 5\n", "symbols.AAPL.max_ordr_qty"),
    ("[symbols.AAPL]\nmax_open_orders = 5\n", "symbols.AAPL.max_open_orders"),
    ("[symbols.aapl]\nmax_order_qty = 5\n", "symbols.aapl"),
    ("symbols = 3\n", "symbols"),
])
def test_load_limits_when_file_has_an_unknown_key_then_error_names_key_and_file(tmp_path, text, key):
    path = a_file(tmp_path, text)

    with pytest.raises(LimitsError) as caught:
        load_limits(path, {})

    assert caught.value.key == key
    assert str(path) in caught.value.source
    assert repr(key) in str(caught.value)


@pytest.mark.parametrize("value", ['"lots"', "true", "[1, 2]", '"1e5"', '"nan"', "inf"])
def test_load_limits_when_file_value_is_not_a_number_then_error(tmp_path, value):
    with pytest.raises(LimitsError, match="max_order_notional"):
        load_limits(a_file(tmp_path, f"max_order_notional = {value}\n"), {})


@pytest.mark.parametrize(("text", "key"), [
    ("max_order_notional = -1\n", "max_order_notional"),
    ("price_collar_pct = -0.5\n", "price_collar_pct"),
    ("[symbols.AAPL]\nmax_position_qty = -10\n", "symbols.AAPL.max_position_qty"),
])
def test_load_limits_when_file_limit_is_negative_then_error(tmp_path, text, key):
    with pytest.raises(LimitsError, match="negative") as caught:
        load_limits(a_file(tmp_path, text), {})

    assert caught.value.key == key


@pytest.mark.parametrize(("env", "key", "problem"), [
    ({"RISK_MAX_ORDER_NOTIONAL": "-5"}, "max_order_notional", "negative"),
    ({"RISK_MAX_ORDER_NOTIONAL": "ten"}, "max_order_notional", "plain decimal"),
    ({"RISK_MAX_OPEN_ORDERS": "2.5"}, "max_open_orders", "whole number"),
    ({"RISK_THROTTLE_WINDOW_S": "0"}, "throttle_window_s", "greater than 0"),
    ({"RISK_MAX_ORDR_NOTIONAL": "5"}, "max_ordr_notional", "unknown limit"),
])
def test_load_limits_when_env_value_is_bad_then_error_names_the_variable(env, key, problem):
    with pytest.raises(LimitsError, match=problem) as caught:
        load_limits(None, env)

    assert caught.value.key == key
    assert "environment variable RISK_" in caught.value.source


def test_load_limits_when_file_is_missing_then_error(tmp_path):
    with pytest.raises(LimitsError, match="does not exist"):
        load_limits(tmp_path / "nope.toml", {})


def test_load_limits_when_file_is_not_toml_then_error(tmp_path):
    with pytest.raises(LimitsError, match="not valid TOML"):
        load_limits(a_file(tmp_path, "max_order_notional = = 5\n"), {})


def test_limits_when_built_in_python_with_a_float_then_refused():
    with pytest.raises(ValidationError):
        Limits(max_order_notional=1.5)  # type: ignore[arg-type]


def test_limits_when_frozen_then_cannot_be_changed():
    with pytest.raises(ValidationError):
        Limits().max_order_qty = D(1)  # type: ignore[misc]
