import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BEHIND_RETRY_MS, SETTLE_MS, createOrderStore } from "./orderStore.jsx";

const ID = "7d1c6c9e-0000-4000-8000-000000000002";
const at = (second) => `2026-11-24T14:30:0${second}.000Z`;
const order = (status, second) => ({ order_id: ID, symbol: "AAPL", status, filled_qty: "0", updated_at: at(second), timeline: [] });
const event = (type, second) => ({ type, data: { event_type: type, event_id: `${type}-${second}`, order_id: ID, occurred_at: at(second) } });

/** A fake ticket API whose answers the test sets; it counts the reads. */
function fakeClient(initial) {
  const client = {
    current: initial,
    list: [],
    getOrder: vi.fn(async () => client.current),
    listOrders: vi.fn(async () => ({ orders: client.list })),
  };
  return client;
}

describe("the order store keeps up with the events", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("test_event_when_the_api_is_still_behind_then_the_order_is_read_again_until_it_has_caught_up", async () => {
    const client = fakeClient(order("approved", 1));
    const store = createOrderStore(client);
    store.watchOrder(ID);

    store.onEvent(event("FillReported", 3)); // the read model folds it a moment later
    await vi.advanceTimersByTimeAsync(SETTLE_MS);
    expect(client.getOrder).toHaveBeenCalledTimes(1);
    expect(store.getState().byId[ID].status).toBe("approved");

    await vi.advanceTimersByTimeAsync(BEHIND_RETRY_MS);
    expect(client.getOrder).toHaveBeenCalledTimes(2);
    client.current = order("filled", 3);
    await vi.advanceTimersByTimeAsync(BEHIND_RETRY_MS);
    expect(store.getState().byId[ID].status).toBe("filled");

    await vi.advanceTimersByTimeAsync(BEHIND_RETRY_MS * 5);
    expect(client.getOrder).toHaveBeenCalledTimes(3); // caught up: no more reads
  });

  it("test_events_when_a_burst_arrives_then_it_is_one_read", async () => {
    const client = fakeClient(order("filled", 3));
    const store = createOrderStore(client);
    store.watchOrder(ID);

    ["RiskApproved", "OrderSubmitted", "FillReported"].forEach((type, i) => store.onEvent(event(type, i + 1)));
    await vi.advanceTimersByTimeAsync(SETTLE_MS + BEHIND_RETRY_MS * 3);

    expect(client.getOrder).toHaveBeenCalledTimes(1);
  });

  it("test_catch_up_when_the_stream_reconnects_then_every_order_and_list_on_view_is_read_again", async () => {
    const client = fakeClient(order("filled", 3));
    client.list = [order("filled", 3)];
    const store = createOrderStore(client);
    const release = store.watchOrder(ID);
    store.watchList("open");

    await store.catchUp();

    expect(client.getOrder).toHaveBeenCalledWith(ID);
    expect(client.listOrders).toHaveBeenCalledWith("open");
    expect(store.getState().byId[ID].status).toBe("filled");
    release();
    await store.catchUp();
    expect(client.getOrder).toHaveBeenCalledTimes(1); // no longer on view
  });

  it("test_read_when_the_order_is_not_known_yet_then_no_error_is_shown", async () => {
    const client = fakeClient(null);
    client.getOrder = vi.fn(async () => {
      throw Object.assign(new Error("no order is known"), { status: 404 });
    });
    const store = createOrderStore(client);

    await store.loadOrder(ID);

    expect(store.getState().errors[ID]).toBeNull();
  });
});
