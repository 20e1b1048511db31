// A fake ticket API for component tests: `fetch` answers from a route table and records every call, so a
// test can say "exactly one POST /api/orders". EventSource is a fake the test drives by hand.
import { vi } from "vitest";

export const QUOTE = { symbol: "AAPL", bid: "100.00", ask: "100.10", last: "100.05", timestamp: "2026-11-24T14:30:00Z", stale: false };

export const defaultRoutes = () => ({
  "GET /api/mode": () => ({ body: { mode: "paper", broker: "simulator" } }),
  "GET /api/status": () => ({ body: status() }),
  "GET /api/quotes/AAPL": () => ({ body: QUOTE }),
  // by default the server has nothing to add, so the client's own estimate is what shows
  "POST /api/orders/preview": () => ({
    body: { estimated_cost: null, price_basis: null, buying_power: "50000.00", buying_power_after: null, warnings: [], errors: [], approvable: true, trading_state: "active" },
  }),
  "POST /api/orders": (body) => ({ status: 202, body: { order_id: body.order_id, status: "requested" } }),
  "GET /api/orders": () => ({ body: { orders: [] } }),
  "GET /api/positions": () => ({ body: ledger() }),
});

/** A GET /api/status answer: paper, the market open until 16:00 New York time, trading active unless `trading_state`. */
export function status({ trading_state = {}, ...rest } = {}) {
  return {
    mode: "paper",
    broker: "simulator",
    market: { is_open: true, next_open: "2026-11-25T14:30:00Z", next_close: "2026-11-24T21:00:00Z", as_of: "2026-11-24T15:00:00Z" },
    trading_state: { state: "active", reason: null, changed_by: null, changed_at: null, ...trading_state },
    ...rest,
  };
}

/** A GET /api/positions answer: the ledger's `positions` and `totals` (flat by default) and the broker's account. */
export function ledger({ positions = [], totals = {}, ...rest } = {}) {
  return {
    positions,
    totals: { cost_basis: "0.00", market_value: "0.00", unrealized_pl: "0.00", realized_pl: "0.00", day_pl: "0.00", dividends: "0.00", ...totals },
    as_of: "2026-11-24T15:00:00Z",
    last_sync_at: null,
    last_sync_ok: null,
    account: { buying_power: "50000.00", equity: "50000.00", cash: "50000.00", as_of: "2026-11-24T15:00:00Z" },
    ...rest,
  };
}

/** One ledger position with every figure; `fields` override. */
export function ledgerPosition(symbol, fields = {}) {
  return {
    symbol, qty: "10", avg_cost: "100.00", cost_basis: "1000.00", last: "101.00", market_value: "1010.00",
    unrealized_pl: "10.00", realized_pl: "0.00", day_pl: "10.00", drift: false, ...fields,
  };
}

/** Install a fake fetch; `overrides` replace routes ("METHOD /path" without the query string). */
export function mockApi(overrides = {}) {
  const routes = { ...defaultRoutes(), ...overrides };
  const calls = [];
  const fetchMock = vi.fn(async (url, init = {}) => {
    const method = (init.method ?? "GET").toUpperCase();
    const path = String(url).split("?")[0];
    const body = init.body ? JSON.parse(init.body) : undefined;
    calls.push({ method, path, url: String(url), body });
    const route = routes[`${method} ${path}`] ?? routes[`${method} ${path.replace(/\/[^/]+$/, "/:id")}`]
      ?? routes[`${method} ${path.replace(/\/[^/]+\/cancel$/, "/:id/cancel")}`];
    if (!route) return new Response(JSON.stringify({ detail: "Not Found" }), { status: 404 });
    const result = await route(body, path);
    if (result instanceof Error) throw result;
    const status = result.status ?? 200;
    return new Response(JSON.stringify(result.body ?? null), { status, headers: { "Content-Type": "application/json" } });
  });
  vi.stubGlobal("fetch", fetchMock);
  return {
    calls,
    fetchMock,
    callsTo: (method, path) => calls.filter((c) => c.method === method && c.path === path),
  };
}

/** A hand-driven EventSource: `FakeEventSource.last.emit("FillReported", {...})`. */
export class FakeEventSource {
  static instances = [];
  static get last() {
    return FakeEventSource.instances[FakeEventSource.instances.length - 1];
  }
  constructor(url) {
    this.url = url;
    this.listeners = {};
    this.closed = false;
    FakeEventSource.instances.push(this);
  }
  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }
  close() {
    this.closed = true;
  }
  open() {
    this.onopen?.({});
  }
  /** The connection drops (EventSource reconnects by itself: call `open()` for the reconnect). */
  fail() {
    this.onerror?.({});
  }
  emit(type, data) {
    const message = { data: JSON.stringify({ event_type: type, ...data }) };
    (this.listeners[type] ?? []).forEach((fn) => fn(message));
  }
}

export function installEventSource() {
  FakeEventSource.instances = [];
  vi.stubGlobal("EventSource", FakeEventSource);
  return FakeEventSource;
}
