import { describe, expect, it } from "vitest";
import {
  allowedTimeInForce,
  constrainForm,
  emptyForm,
  estimateCost,
  toOrderRequest,
  validateForm,
  sellBuyingPowerNote,
} from "./orderRules.js";
import { formatMoney, formatPrice } from "./format.js";
import { describeEvent, isFinal, progressSteps } from "./orderStatus.js";
import { FINAL_PROGRESS, OrderProgress } from "./vocabulary.generated.js";

const form = (over) => ({ ...emptyForm(), symbol: "AAPL", qty: "10", ...over });
const QUOTE = { bid: "100.00", ask: "100.10" };

describe("order rules", () => {
  it("test_validate_when_order_is_complete_then_no_errors", () => {
    expect(validateForm(form({ type: "stop_limit", limit_price: "0.5123", stop_price: "0.52" }))).toEqual({});
    expect(validateForm(form({ symbol: "brk.b" }))).toEqual({});
  });

  it("test_validate_when_price_fields_are_not_needed_then_their_content_is_ignored", () => {
    expect(validateForm(form({ type: "market", limit_price: "junk", stop_price: "junk" }))).toEqual({});
  });

  it("test_validate_when_fractional_with_gtc_then_tif_error", () => {
    expect(validateForm(form({ qty: "0.5", time_in_force: "gtc" })).time_in_force).toMatch(/Day/);
  });

  it("test_validate_when_qty_is_whole_with_trailing_zeros_then_not_fractional", () => {
    expect(allowedTimeInForce(form({ qty: "10.000" })).values).toContain("gtc");
  });

  it("test_constrain_when_notional_chosen_then_market_day_no_extended_hours", () => {
    const f = constrainForm(form({ type: "limit", time_in_force: "gtc", extended_hours: true, amountMode: "notional" }));
    expect(f).toMatchObject({ type: "market", time_in_force: "day", extended_hours: false });
  });

  it("test_estimate_is_exact_decimal_arithmetic", () => {
    const { cost } = estimateCost(form({ qty: "0.003", type: "limit", limit_price: "0.1001" }), QUOTE);
    expect(cost.toString()).toBe("0.0003003");
    expect(estimateCost(form({ qty: "3", side: "buy" }), QUOTE).cost.toString()).toBe("300.3");
  });

  it("test_estimate_when_market_without_quote_then_unknown", () => {
    expect(estimateCost(form({}), null)).toEqual({ cost: null, basis: "ask" });
  });

  it("test_request_uses_alpaca_names_and_decimal_strings", () => {
    expect(toOrderRequest(form({ symbol: " aapl ", qty: ".5", type: "stop", stop_price: "99." }), "id-1")).toEqual({
      symbol: "AAPL", side: "buy", type: "stop", time_in_force: "day", qty: "0.5", notional: null,
      limit_price: null, stop_price: "99", extended_hours: false, order_id: "id-1",
    });
  });

  it("test_format_money_rounds_half_up_to_the_cent", () => {
    expect(formatMoney("1234.565")).toBe("$1,234.57");
    expect(formatMoney(null)).toBe("—");
    expect(formatPrice("0.5123")).toBe("$0.5123");
    expect(formatPrice("95.5")).toBe("$95.50");
  });

  it("test_order_status_final_and_progress", () => {
    expect(isFinal("filled")).toBe(true);
    expect(isFinal("partially_filled")).toBe(false);
    const steps = progressSteps({ status: "canceled", timeline: [{ event_type: "OrderSubmitted" }] });
    expect(steps.map((s) => [s.label, s.state])).toEqual([
      ["Requested", "done"], ["Approved", "done"], ["Submitted", "done"], ["Canceled", "failed"],
    ]);
  });

  it("test_progress_when_filled_in_one_fill_then_no_partially_filled_step", () => {
    const fill = { event_type: "FillReported" };
    const labels = (order) => progressSteps(order).map((s) => `${s.label}:${s.state}`);
    expect(labels({ status: "filled", filled_qty: "2", timeline: [fill] })).toEqual(["Requested:done", "Approved:done", "Submitted:done", "Filled:done"]);
    expect(labels({ status: "filled", filled_qty: "2", timeline: [fill, fill] })).toContain("Partially filled:done");
    expect(labels({ status: "canceled", filled_qty: "1", timeline: [fill] })).toContain("Partially filled:done"); // the rest canceled
    expect(labels({ status: "submitted", filled_qty: "0", timeline: [] })).toContain("Partially filled:pending"); // still open
  });

  it("test_order_status_when_the_api_says_final_then_final_for_every_final_progress_only", () => {
    expect(Object.values(OrderProgress).filter(isFinal)).toEqual([...FINAL_PROGRESS]);
    expect(isFinal("cancelled")).toBe(false); // not a status the API gives
  });

  it("test_progress_when_rejected_then_the_timeline_says_by_risk_or_by_broker", () => {
    const byRisk = progressSteps({ status: "rejected", timeline: [{ event_type: "RiskRejected" }] });
    expect(byRisk.map((s) => [s.label, s.state])).toEqual([["Requested", "done"], ["Rejected by risk", "failed"]]);
    const byBroker = progressSteps({ status: "rejected", timeline: [{ event_type: "RiskApproved" }, { event_type: "OrderSubmitted" }] });
    expect(byBroker.at(-1)).toEqual({ key: "final", label: "Rejected by broker", state: "failed" });
    expect(progressSteps(null).map((s) => s.state)).toEqual(["done", "pending", "pending", "pending", "pending"]);
  });

  it("test_describe_event_reads_the_contract_field_names", () => {
    expect(describeEvent("CancelResult", { outcome: "too_late_filled" })).toBe("Cancel: too late filled");
    expect(describeEvent("RiskRejected", { reasons: [{ code: "QTY_NOT_POSITIVE", message: "qty must be > 0" }] }))
      .toBe("Rejected by risk: qty must be > 0");
  });
});

describe("sellBuyingPowerNote", () => {
  it("explains an unchanged buying power for a sell of shares held, and nothing for a buy or a short sale", () => {
    const same = { buying_power: "1000.00", buying_power_after: "1000" };
    expect(sellBuyingPowerNote("sell", same)).toMatch(/uses no buying power; its proceeds count once it fills/);
    expect(sellBuyingPowerNote("buy", same)).toBeNull();
    expect(sellBuyingPowerNote("sell", { buying_power: "1000", buying_power_after: "600" })).toBeNull();
    expect(sellBuyingPowerNote("sell", null)).toBeNull();
  });
});
