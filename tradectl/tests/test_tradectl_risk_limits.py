"""``tradectl risk limits``: the risk service's reply as a table (money to cents with thousands separators, percent,
seconds, counts), today's usage beside its limit, per-symbol overrides; ``--json`` keeps the reply."""

from __future__ import annotations

from tradectl.risk_limits import limit_label, limit_value, limits_rows, limits_table, override_lines, usage_cell


def limits_reply(**over) -> dict:
    limits = {"max_order_notional": "50000", "max_order_qty": "10000", "max_open_orders": 50,
              "max_daily_notional": "500000", "price_collar_pct": "10", "throttle_window_s": "0.5",
              "max_account_gross_exposure": "250000.5", "symbols": {"AAPL": {"max_order_qty": "500",
                                                                             "price_collar_pct": "3"}}}
    reply = {"limits": limits, "trading_state": "reducing", "approval_ttl_s": 30.0, "signing_key_id": "0d79bc22",
             "open_orders": 3, "daily_notional_used": "1234.505"}
    return {**reply, **over}


def test_limit_value_when_shown_then_each_unit_reads_as_such():
    assert [limit_value("max_order_notional", "1234567.8"), limit_value("max_account_gross_exposure", "250000"),
            limit_value("price_collar_pct", "2.50"), limit_value("max_quote_age_s", "86400"),
            limit_value("max_order_qty", "10000.000"), limit_value("max_open_orders", 50),
            limit_value("max_position_qty", "0.5"), limit_value("something_new", None)] == [
        "1,234,567.80", "250,000.00", "2.5 %", "86,400 s", "10,000", "50", "0.5", "-"]


def test_limit_label_when_the_name_carries_a_unit_then_the_unit_is_left_to_the_value():
    assert [limit_label("max_quote_age_s"), limit_label("price_sanity_pct"), limit_label("max_order_notional")] == [
        "max quote age", "price sanity", "max order notional"]


def test_usage_cell_when_something_is_used_then_amount_and_share_of_the_limit():
    assert usage_cell("max_daily_notional", "500000", "1234.505") == "1,234.51 (0.2 %)"
    assert usage_cell("max_open_orders", 50, 3) == "3 (6.0 %)"
    assert usage_cell("max_open_orders", 50, 0) == "0"
    assert usage_cell("max_order_qty", "10000", None) == ""


def test_limits_rows_when_the_reply_has_usage_then_it_sits_beside_its_limit_and_symbols_are_not_a_row():
    rows = limits_rows(limits_reply())

    assert rows == [
        ("max order notional", "50,000.00", ""),
        ("max order qty", "10,000", ""),
        ("max open orders", "50", "3 (6.0 %)"),
        ("max daily notional", "500,000.00", "1,234.51 (0.2 %)"),
        ("price collar", "10 %", ""),
        ("throttle window", "0.5 s", ""),
        ("max account gross exposure", "250,000.50", ""),
    ]


def test_limits_table_when_rendered_then_state_header_aligned_columns_and_overrides():
    lines = limits_table(limits_reply()).splitlines()

    assert lines[0].split("   ") == ["trading state REDUCING", "approval TTL 30 s", "signing key 0d79bc22"]
    assert lines[2].split() == ["LIMIT", "VALUE", "USED"]
    assert lines[3].split("  ")[0] == "max order notional" and lines[3].endswith("50,000.00")
    values = [line.index("50,000.00") + len("50,000.00") for line in lines if "50,000.00" in line]
    assert values == [len(lines[3])] * len(values)  # right-aligned value column
    assert lines[6].rstrip().endswith("1,234.51 (0.2 %)")
    assert lines[-2:] == ["per-symbol overrides:", "  AAPL  max order qty 500, price collar 3 %"]


def test_limits_table_when_the_service_adds_a_field_then_it_is_still_shown():
    text = limits_table(limits_reply(limits={"max_new_notional": "1000", "symbols": {}}, shards=4))

    assert "max new notional" in text and "1,000.00" in text
    assert "per-symbol overrides: none" in text and "shards: 4" in text


def test_override_lines_when_no_symbol_has_overrides_then_none():
    assert override_lines({"limits": {"symbols": {}}}) == []
    assert override_lines({}) == []
