import Big from "big.js";
import { describe, expect, it } from "vitest";
import {
  formatMarketTime,
  formatMoney,
  formatPnl,
  formatPrice,
  formatQty,
  formatShares,
  isZeroOrNone,
  orderAction,
  orderAmount,
  orderTerms,
} from "./format.js";

describe("money, prices and P&L for people", () => {
  it.each([
    ["1234.565", "$1,234.57"],
    ["-1234.5", "-$1,234.50"],
    ["0", "$0.00"],
    ["-0.004", "$0.00"],
    ["999999.995", "$1,000,000.00"],
    ["12345678901234567.89", "$12,345,678,901,234,567.89"], // past a float's 2^53: exact, digit by digit
    [new Big("2.5"), "$2.50"],
    [null, "—"],
    ["", "—"],
    ["not a number", "—"],
  ])("test_format_money_when_%s_then_%s", (value, shown) => {
    expect(formatMoney(value)).toBe(shown);
  });

  it.each([
    ["402", { text: "+$402.00", direction: "up" }],
    ["1234.565", { text: "+$1,234.57", direction: "up" }],
    ["-12.3", { text: "-$12.30", direction: "down" }],
    ["-0.001", { text: "$0.00", direction: "flat" }],
    ["0.00", { text: "$0.00", direction: "flat" }],
    [null, { text: "—", direction: "none" }],
  ])("test_format_pnl_when_%s_then_signed_text_and_direction", (value, shown) => {
    expect(formatPnl(value)).toEqual(shown);
  });

  it("test_format_price_when_large_or_sub_dollar_then_grouped_and_its_own_decimals", () => {
    expect(formatPrice("612345.5")).toBe("$612,345.50");
    expect(formatPrice("0.5123")).toBe("$0.5123");
    expect(formatPrice(null)).toBe("—");
  });

  it("test_is_zero_or_none_when_asked_then_exact", () => {
    expect(isZeroOrNone("0.00")).toBe(true);
    expect(isZeroOrNone(null)).toBe(true);
    expect(isZeroOrNone("0.0000000001")).toBe(false);
  });
});

describe("quantities and orders for people", () => {
  it.each([
    ["1", "1 share"],
    ["1.000", "1 share"],
    ["10", "10 shares"],
    ["0.5", "0.5 shares"],
    ["0.123456789", "0.123456789 shares"],
    ["1000000", "1,000,000 shares"],
    ["-2.50", "-2.5 shares"],
    [null, "—"],
  ])("test_format_shares_when_%s_then_%s", (value, shown) => {
    expect(formatShares(value)).toBe(shown);
  });

  it("test_format_qty_when_large_or_tiny_then_grouped_and_never_in_exponent_form", () => {
    expect(formatQty("1234567.125")).toBe("1,234,567.125");
    expect(formatQty("0.000000001")).toBe("0.000000001");
    expect(formatQty("100000000000000000000000")).toBe("100,000,000,000,000,000,000,000");
  });

  it.each([
    [{ type: "market" }, "Market"],
    [{ type: "limit", limit_price: "400" }, "Limit $400.00"],
    [{ type: "stop", stop_price: "190.5" }, "Stop $190.50"],
    [{ type: "stop_limit", stop_price: "189", limit_price: "189.5" }, "Stop limit: stop $189.00, limit $189.50"],
  ])("test_order_terms_when_%o_then_%s_and_the_type_is_said_once", (order, shown) => {
    expect(orderTerms(order)).toBe(shown);
  });

  it("test_order_action_when_qty_or_notional_then_it_reads_as_the_confirm_button", () => {
    expect(orderAction({ side: "buy", symbol: "AAPL", qty: "10", notional: null })).toBe("Buy 10 AAPL");
    expect(orderAction({ side: "sell", symbol: "AAPL", qty: "3", notional: null })).toBe("Sell 3 AAPL");
    expect(orderAction({ side: "buy", symbol: "BRK.B", qty: null, notional: "1250" })).toBe("Buy $1,250.00 of BRK.B");
    expect(orderAmount({ qty: "1" })).toBe("1 share");
  });

  it("test_format_market_time_when_utc_instant_then_new_york_weekday_and_time", () => {
    expect(formatMarketTime("2026-11-24T21:00:00Z")).toBe("Tue 16:00 ET"); // EST, UTC-5
    expect(formatMarketTime("2026-07-01T13:30:00Z")).toBe("Wed 09:30 ET"); // EDT, UTC-4
    expect(formatMarketTime(null)).toBe("—");
  });
});
