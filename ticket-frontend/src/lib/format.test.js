import Big from "big.js";
import { describe, expect, it } from "vitest";
import { formatMoney, formatPnl, formatPrice, isZeroOrNone } from "./format.js";

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
