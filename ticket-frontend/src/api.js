// Every call the ticket makes to its API (DESIGN §7) lives here, so a change in the contract is a change in
// this one file. Money and quantities stay decimal strings end to end: the browser never turns them into floats
// on their way to the server. Enum values are the contracts' (lib/vocabulary.generated.js).
import { LIVE_EVENT_TYPES } from "./lib/vocabulary.generated.js";

export class ApiError extends Error {
  constructor(status, body, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

async function request(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, null, `The ticket API cannot be reached (${err?.message ?? "network error"}).`);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    throw new ApiError(response.status, data, errorMessage(response.status, data));
  }
  return data;
}

function errorMessage(status, data) {
  const detail = data && typeof data === "object" ? data.detail : null;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail) && detail.length > 0) {
    return detail.map((d) => d.msg).filter(Boolean).join("; ");
  }
  return `The ticket API answered ${status}.`;
}

/** `{mode: "paper"|"live", broker: "simulator"|"alpaca"}` */
export const getMode = () => request("GET", "/api/mode");

/**
 * The status bar's facts: `{mode, broker, market: {is_open, next_open, next_close, as_of} | null, trading_state:
 * {state: "active"|"reducing"|"halted"|null, reason, changed_by, changed_at}}`; `market` is null before the broker's
 * clock was read, `state` null when the API cannot confirm it (then `reason` says why). Changes of the trading state
 * also arrive live as `TradingStateChanged` on /api/events.
 */
export const getStatus = () => request("GET", "/api/status");

/** `{symbol, bid, ask, last, timestamp, stale}`; an ApiError with status 404 for an unknown symbol. */
export const getQuote = (symbol) => request("GET", `/api/quotes/${encodeURIComponent(symbol)}`);

/**
 * `{estimated_cost, price_basis, buying_power, buying_power_after, warnings: [{code, message}],
 * errors: [{field, code, message}], approvable, trading_state}`; 422 for a malformed body.
 */
export const previewOrder = (order) => request("POST", "/api/orders/preview", order);

/** 202 `{order_id, status: "requested"}`: the order is only requested; its fate arrives as events. */
export const placeOrder = (order) => request("POST", "/api/orders", order);

export const getOrder = (orderId) => request("GET", `/api/orders/${encodeURIComponent(orderId)}`);

/** `{orders: [...]}`, newest first, without timelines. */
export const listOrders = (status = "all") =>
  request("GET", `/api/orders?status=${encodeURIComponent(status)}`);

export const cancelOrder = (orderId) =>
  request("POST", `/api/orders/${encodeURIComponent(orderId)}/cancel`);

/**
 * The ledger (position-sync-service): `{positions: [{symbol, qty, avg_cost, cost_basis, last, market_value,
 * unrealized_pl, realized_pl, day_pl, drift}], totals: {cost_basis, market_value, unrealized_pl, realized_pl, day_pl,
 * dividends}, as_of, last_sync_at, last_sync_ok, account: {buying_power, equity, cash, as_of} | null}`, money rounded
 * to the cent by the API; `last`, `market_value`, `unrealized_pl` and `day_pl` null without a price. An ApiError
 * with status 503 when position-sync does not answer (never an empty list).
 */
export const getPositions = () => request("GET", "/api/positions");

/**
 * A 422 body (`{"detail": [{"loc": [..., "field"], "msg"}]}`) as `{field: message}`; the field is the last
 * string in `loc` (FastAPI puts "body" first).
 */
export function fieldErrorsFrom422(body) {
  const out = {};
  const detail = body && Array.isArray(body.detail) ? body.detail : [];
  for (const item of detail) {
    const loc = Array.isArray(item.loc) ? item.loc : [];
    const field = [...loc].reverse().find((part) => typeof part === "string" && part !== "body") ?? "_";
    if (!out[field]) out[field] = item.msg ?? "Invalid value.";
  }
  return out;
}

/**
 * Subscribe to `/api/events` (server-sent events named by event type). `onEvent({type, data})` gets each
 * event; `onConnection(bool)` tells whether the stream is up, so callers can fall back to polling.
 * Returns the unsubscribe function. Without EventSource (old browsers, jsdom) it reports "down" once.
 */
export function subscribeEvents(onEvent, onConnection = () => {}) {
  if (typeof EventSource === "undefined") {
    onConnection(false);
    return () => {};
  }
  const source = new EventSource("/api/events");
  const handle = (type) => (message) => {
    let data = null;
    try {
      data = JSON.parse(message.data);
    } catch {
      return; // not JSON: nothing an order view can use
    }
    onEvent({ type: data?.event_type ?? type, data });
  };
  for (const type of LIVE_EVENT_TYPES) source.addEventListener(type, handle(type));
  source.onmessage = handle("message");
  source.onopen = () => onConnection(true);
  source.onerror = () => onConnection(false);
  return () => source.close();
}

/** The order an event is about (every event about an order carries its `order_id`), or null. */
export function eventOrderId(data) {
  return data?.order_id ?? null;
}
