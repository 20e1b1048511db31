import { describe, expect, it } from "vitest";
import { emptyOrders, isBehind, listOf, mergeOrder, ordersReducer, statusRank, timelineOf } from "./orderStore.js";

const ID = "7d1c6c9e-0000-4000-8000-000000000001";
const order = (status, updated_at, fields = {}) => ({
  order_id: ID, symbol: "AAPL", side: "buy", type: "market", qty: "2", status, filled_qty: "0", reject_reasons: [],
  created_at: "2026-11-24T14:30:00.000Z", updated_at, ...fields,
});
const event = (type, occurred_at, fields = {}) => ({
  type, data: { event_type: type, event_id: `${type}-${occurred_at}`, order_id: ID, occurred_at, ...fields },
});
const entry = ({ type, data }) => ({ event_type: type, occurred_at: data.occurred_at, summary: type, event: data });
const apply = (actions, state = emptyOrders()) => actions.reduce(ordersReducer, state);

describe("the order store: one picture of each order", () => {
  it("test_read_when_a_newer_status_arrives_then_it_replaces_the_older", () => {
    const state = apply([
      { type: "read", orders: [order("approved", "2026-11-24T14:30:01.000Z")] },
      { type: "read", orders: [order("filled", "2026-11-24T14:30:03.000Z", { filled_qty: "2" })] },
    ]);
    expect(state.byId[ID].status).toBe("filled");
    expect(state.byId[ID].filled_qty).toBe("2");
  });

  it.each([
    ["an earlier status", "submitted", "2026-11-24T14:30:05.000Z"],
    ["a stale read of an earlier moment", "approved", "2026-11-24T14:30:01.000Z"],
  ])("test_read_when_a_list_answer_with_%s_comes_after_filled_then_the_order_stays_filled", (_, status, updatedAt) => {
    const state = apply([
      { type: "read", orders: [order("filled", "2026-11-24T14:30:03.000Z", { filled_qty: "2" })] },
      { type: "read", orders: [order(status, updatedAt)], list: "all" },
    ]);
    expect(state.byId[ID].status).toBe("filled");
    expect(listOf(state, "all").map((o) => o.status)).toEqual(["filled"]); // the blotter reads the same order
  });

  it("test_read_when_a_second_final_status_arrives_then_the_first_final_status_stays", () => {
    const state = apply([
      { type: "read", orders: [order("canceled", "2026-11-24T14:30:03.000Z")] },
      { type: "read", orders: [order("filled", "2026-11-24T14:30:09.000Z")] },
    ]);
    expect(state.byId[ID].status).toBe("canceled");
  });

  it("test_read_when_the_same_status_is_read_later_then_the_later_read_wins", () => {
    const state = apply([
      { type: "read", orders: [order("partially_filled", "2026-11-24T14:30:02.000Z", { filled_qty: "1" })] },
      { type: "read", orders: [order("partially_filled", "2026-11-24T14:30:04.000Z", { filled_qty: "1.5" })] },
      { type: "read", orders: [order("partially_filled", "2026-11-24T14:30:02.000Z", { filled_qty: "1" })] },
    ]);
    expect(state.byId[ID].filled_qty).toBe("1.5");
  });

  it("test_read_when_a_list_read_follows_a_detail_read_then_the_timeline_is_kept", () => {
    const requested = event("OrderRequested", "2026-11-24T14:30:00.000Z");
    const state = apply([
      { type: "read", orders: [order("approved", "2026-11-24T14:30:01.000Z", { timeline: [entry(requested)] })] },
      { type: "read", orders: [order("submitted", "2026-11-24T14:30:02.000Z")], list: "all" },
    ]);
    expect(state.byId[ID].status).toBe("submitted");
    expect(state.byId[ID].timeline).toHaveLength(1);
  });

  it("test_status_rank_when_compared_then_it_follows_the_servers_order_with_every_final_status_last", () => {
    const ranks = ["requested", "approved", "submitted", "partially_filled", "filled"].map(statusRank);
    expect(ranks).toEqual([0, 1, 2, 3, 4]);
    expect(["rejected", "canceled", "expired", "failed"].map(statusRank)).toEqual([4, 4, 4, 4]);
  });
});

describe("live events and catching up", () => {
  it("test_event_when_it_arrives_before_the_api_has_it_then_the_timeline_shows_it_and_the_order_is_behind", () => {
    const requested = event("OrderRequested", "2026-11-24T14:30:00.000Z");
    const approved = event("RiskApproved", "2026-11-24T14:30:01.000Z");
    const state = apply([
      { type: "read", orders: [order("requested", "2026-11-24T14:30:00.000Z", { timeline: [entry(requested)] })] },
      { type: "event", event: requested },
      { type: "event", event: approved },
    ]);
    expect(state.byId[ID].status).toBe("requested"); // an event never sets the status: the API's read does
    expect(timelineOf(state, ID).map((e) => e.event_type)).toEqual(["OrderRequested", "RiskApproved"]);
    expect(isBehind(state, ID)).toBe(true);
  });

  it("test_event_when_the_api_read_has_folded_it_then_the_order_is_caught_up_and_the_line_shown_once", () => {
    const approved = event("RiskApproved", "2026-11-24T14:30:01.000Z");
    const state = apply([
      { type: "event", event: approved },
      { type: "read", orders: [order("approved", "2026-11-24T14:30:01.000Z", { timeline: [entry(approved)] })] },
    ]);
    expect(isBehind(state, ID)).toBe(false);
    expect(timelineOf(state, ID)).toHaveLength(1);
  });

  it("test_event_when_it_arrives_twice_then_it_is_kept_once", () => {
    const fill = event("FillReported", "2026-11-24T14:30:02.000Z");
    const once = apply([{ type: "event", event: fill }]);
    expect(ordersReducer(once, { type: "event", event: fill })).toBe(once);
  });

  it("test_event_when_it_is_not_about_an_order_then_nothing_changes", () => {
    const state = emptyOrders();
    const halted = { type: "TradingStateChanged", data: { state: "halted", occurred_at: "2026-11-24T14:30:00Z" } };
    expect(ordersReducer(state, { type: "event", event: halted })).toBe(state);
  });

  it("test_events_when_they_arrive_out_of_order_then_the_timeline_is_in_time_order", () => {
    const state = apply([
      { type: "event", event: event("FillReported", "2026-11-24T14:30:03.000Z") },
      { type: "event", event: event("RiskApproved", "2026-11-24T14:30:01.000Z") },
      { type: "event", event: event("OrderSubmitted", "2026-11-24T14:30:02.000Z") },
    ]);
    expect(timelineOf(state, ID).map((e) => e.event_type)).toEqual(["RiskApproved", "OrderSubmitted", "FillReported"]);
    expect(isBehind(state, ID)).toBe(true); // events of an order the API has not shown yet
  });

  it("test_reconnect_when_the_catch_up_read_is_further_than_anything_seen_live_then_it_is_taken_whole", () => {
    // the stream was down while the order filled: the page saw only "approved" live, then reads it again
    const approved = event("RiskApproved", "2026-11-24T14:30:01.000Z");
    const filled = event("FillReported", "2026-11-24T14:30:03.000Z");
    const state = apply([
      { type: "read", orders: [order("requested", "2026-11-24T14:30:00.000Z")], list: "open" },
      { type: "event", event: approved },
      { type: "read", orders: [order("filled", "2026-11-24T14:30:03.000Z", { filled_qty: "2", timeline: [entry(approved), entry(filled)] })] },
      { type: "read", orders: [], list: "open" },
    ]);
    expect(state.byId[ID].status).toBe("filled");
    expect(timelineOf(state, ID).map((e) => e.event_type)).toEqual(["RiskApproved", "FillReported"]);
    expect(isBehind(state, ID)).toBe(false);
    expect(listOf(state, "open")).toEqual([]);
  });

  it("test_open_list_when_the_page_knows_an_order_is_final_then_it_is_left_out_before_the_next_list_read", () => {
    const state = apply([
      { type: "read", orders: [order("submitted", "2026-11-24T14:30:02.000Z")], list: "open" },
      { type: "read", orders: [order("canceled", "2026-11-24T14:30:04.000Z")] },
    ]);
    expect(listOf(state, "open")).toEqual([]);
    expect(listOf(state, "closed")).toBeNull(); // never read: not "no orders"
  });

  it("test_read_failed_when_a_read_succeeds_later_then_the_error_is_gone", () => {
    const failed = apply([{ type: "readFailed", key: ID, message: "The ticket API answered 500." }]);
    expect(failed.errors[ID]).toBe("The ticket API answered 500.");
    const ok = ordersReducer(failed, { type: "read", orders: [order("approved", "2026-11-24T14:30:01.000Z")] });
    expect(ok.errors[ID]).toBeUndefined();
  });
});
