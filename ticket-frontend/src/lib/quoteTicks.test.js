import { describe, expect, it } from "vitest";
import { quoteTicks } from "./quoteTicks.js";

const quote = (bid, ask, last) => ({ bid, ask, last });

describe("which way the quote moved", () => {
  it("test_ticks_when_the_first_quote_arrives_then_no_direction", () => {
    expect(quoteTicks(null, quote("187.20", "187.30", "187.25"))).toEqual({ bid: null, ask: null, last: null });
  });

  it("test_ticks_when_bid_rises_and_ask_falls_then_up_and_down_compared_exactly", () => {
    // 0.1 + 0.2 style float noise must not make a move: decimal strings compare exactly
    const ticks = quoteTicks(quote("187.20", "187.30", "187.25"), quote("187.2000001", "187.29", "187.25"));
    expect(ticks).toEqual({ bid: "up", ask: "down", last: null });
  });

  it("test_ticks_when_a_figure_does_not_move_then_it_keeps_its_last_direction", () => {
    const kept = { bid: "up", ask: "down", last: "up" };
    expect(quoteTicks(quote("10", "11", "10.5"), quote("10.00", "11", "10.4"), kept)).toEqual({ bid: "up", ask: "down", last: "down" });
  });

  it("test_ticks_when_last_is_missing_then_no_direction_for_it", () => {
    expect(quoteTicks(quote("10", "11", "10.5"), quote("10", "11", null), { last: "up" }).last).toBeNull();
  });
});
