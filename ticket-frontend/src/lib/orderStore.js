// The page's one picture of each order, keyed by order_id: the "Order status" cards and the blotter both read it,
// so they cannot disagree. A pure reducer over plain values (no I/O; hooks/orderStore.jsx feeds it).
//
// Two kinds of input. Reads from the API (GET /api/orders, GET /api/orders/{id}) carry the order as the server's
// reducer folded it: its `status` is the authority and is never re-derived here. Live events from /api/events
// arrive before the API's read model has folded them (it is fed by its own durable consumers), so they only add
// lines to the order's timeline at once and mark the order as "behind": the API is asked again until it has
// caught up. Reads can come back out of order (a slow list answer after a quick detail answer), so a read never
// moves an order backwards: the further status wins, then the later `updated_at`; the first final status stays.
import { describeEvent } from "./orderStatus.js";
import { FINAL_PROGRESS, ORDER_EVENT_TYPES, PROGRESS_RANK } from "./vocabulary.generated.js";

const FINAL = new Set(FINAL_PROGRESS);
const ORDER_EVENTS = new Set(ORDER_EVENT_TYPES);
// live events kept per order: an order's whole life is about ten; this only bounds a runaway
const LIVE_MAX = 100;

// the server's own order (tradebus_contracts.orders.PROGRESS_RANK): every final status ranks last
export const statusRank = (status) => PROGRESS_RANK[status] ?? 0;

const instant = (iso) => {
  const t = Date.parse(iso ?? "");
  return Number.isNaN(t) ? -Infinity : t;
};

export const emptyOrders = () => ({ byId: {}, lists: {}, live: {}, errors: {} });

/**
 * The order to keep from what the page knew (`known`) and a new read of it (`read`). A final status is never
 * replaced by another status; otherwise the further status wins, and at the same status the later `updated_at`
 * (a tie goes to the read). A list read has no timeline: the longest timeline seen is kept.
 */
export function mergeOrder(known, read) {
  if (!known) return read;
  const readIsNewer = FINAL.has(known.status)
    ? read.status === known.status && instant(read.updated_at) >= instant(known.updated_at)
    : statusRank(read.status) > statusRank(known.status) ||
      (statusRank(read.status) === statusRank(known.status) && instant(read.updated_at) >= instant(known.updated_at));
  const kept = readIsNewer ? read : known;
  const timeline = (read.timeline?.length ?? -1) >= (known.timeline?.length ?? -1) ? read.timeline : known.timeline;
  return timeline === undefined ? kept : { ...kept, timeline };
}

function withoutKey(map, key) {
  if (!(key in map)) return map;
  const { [key]: _dropped, ...rest } = map;
  return rest;
}

/** A live event as a timeline line, in the API's timeline shape (`event` holds the event's own fields). */
function liveEntry(type, data) {
  return { event_type: type, occurred_at: data.occurred_at, summary: describeEvent(type, data), event: data, live: true };
}

/**
 * Actions:
 * - `{type: "read", orders, list?}`: orders as the API answered; `list` ("all" | "open" | "closed") when they are
 *   that blotter filter's answer, newest first;
 * - `{type: "event", event: {type, data}}`: an event from /api/events (only events about an order count);
 * - `{type: "readFailed", key, message}`: a read that failed, `key` an order_id or `list:<filter>`.
 */
export function ordersReducer(state, action) {
  switch (action.type) {
    case "read": {
      const byId = { ...state.byId };
      for (const order of action.orders) byId[order.order_id] = mergeOrder(byId[order.order_id], order);
      const lists = action.list ? { ...state.lists, [action.list]: action.orders.map((o) => o.order_id) } : state.lists;
      const errors = action.list
        ? withoutKey(state.errors, `list:${action.list}`)
        : action.orders.reduce((acc, o) => withoutKey(acc, o.order_id), state.errors);
      return { ...state, byId, lists, errors };
    }
    case "event": {
      const { type, data } = action.event;
      const orderId = data?.order_id;
      if (!ORDER_EVENTS.has(type) || !orderId) return state;
      const seen = state.live[orderId] ?? [];
      if (data.event_id && seen.some((e) => e.event.event_id === data.event_id)) return state; // a repeat
      return { ...state, live: { ...state.live, [orderId]: [...seen, liveEntry(type, data)].slice(-LIVE_MAX) } };
    }
    case "readFailed":
      return { ...state, errors: { ...state.errors, [action.key]: action.message } };
    default:
      throw new Error(`unknown order store action ${action.type}`);
  }
}

/**
 * The order's timeline: the API's lines, then the live events it does not hold yet (by event_id), in time order.
 */
export function timelineOf(state, orderId) {
  const read = state.byId[orderId]?.timeline ?? [];
  const ids = new Set(read.map((e) => e.event?.event_id).filter(Boolean));
  const extra = (state.live[orderId] ?? []).filter((e) => !ids.has(e.event.event_id));
  if (!extra.length) return read;
  return [...read, ...extra].sort((a, b) => instant(a.occurred_at) - instant(b.occurred_at));
}

/**
 * Whether the API's picture of the order is behind the live events seen for it: an event newer than the order's
 * `updated_at` (the newest event the server folded), or events of an order the API has not shown yet.
 */
export function isBehind(state, orderId) {
  const live = state.live[orderId];
  if (!live?.length) return false;
  const order = state.byId[orderId];
  if (!order) return true;
  const folded = instant(order.updated_at);
  return live.some((e) => instant(e.occurred_at) > folded);
}

/** The orders of a blotter filter, as last listed; under "open" an order the page knows is final is left out. */
export function listOf(state, filter) {
  const ids = state.lists[filter];
  if (!ids) return null;
  const orders = ids.map((id) => state.byId[id]).filter(Boolean);
  return filter === "open" ? orders.filter((o) => !FINAL.has(o.status)) : orders;
}
