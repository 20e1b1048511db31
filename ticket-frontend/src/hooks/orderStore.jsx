// The order store of the page (lib/orderStore.js) and what feeds it: every order event from /api/events, a re-read
// of the orders on view shortly after (the API's read model folds the same events a moment later; while its answer
// is behind the events seen, it is asked again), a full catch-up whenever the event stream (re)connects (events
// sent while it was down are lost), and polling as the floor. The cards and the blotter subscribe to it with
// `useOrder` and `useOrderList`.
import { createContext, useContext, useEffect, useMemo, useSyncExternalStore } from "react";
import * as api from "../api.js";
import { emptyOrders, isBehind, listOf, ordersReducer, timelineOf } from "../lib/orderStore.js";
import { isFinal } from "../lib/orderStatus.js";
import { useOrderEvents } from "./orderEvents.jsx";
import { usePolling } from "./usePolling.js";

export const SETTLE_MS = 200; // a burst of events (requested, approved, submitted, filled) is one re-read
export const BEHIND_RETRY_MS = 400;
export const BEHIND_RETRIES = 15;
export const ORDER_REFRESH_MS = 5000;
export const ORDER_REFRESH_OFFLINE_MS = 1500;

/** A multiset: how many views show each key. */
function viewers() {
  const counts = new Map();
  return {
    add(key) {
      counts.set(key, (counts.get(key) ?? 0) + 1);
      return () => (counts.get(key) > 1 ? counts.set(key, counts.get(key) - 1) : counts.delete(key));
    },
    has: (key) => counts.has(key),
    keys: () => [...counts.keys()],
  };
}

/**
 * The store: `getState`, `subscribe` (for useSyncExternalStore), `onEvent`, `catchUp`, `loadOrder`, `loadList`,
 * `watchOrder(id)` / `watchList(filter)` (a view shows it: re-read it on events; each returns its release).
 * `client` is the API (`getOrder`, `listOrders`), replaceable in tests.
 */
export function createOrderStore(client = api) {
  let state = emptyOrders();
  let timer = null;
  let retries = 0;
  const listeners = new Set();
  const orders = viewers();
  const lists = viewers();

  const dispatch = (action) => {
    state = ordersReducer(state, action);
    listeners.forEach((listener) => listener());
  };

  async function loadOrder(orderId) {
    try {
      dispatch({ type: "read", orders: [await client.getOrder(orderId)] });
    } catch (err) {
      // 404 right after the request: the read model has not caught up yet, which is no error to show
      dispatch({ type: "readFailed", key: orderId, message: err.status === 404 ? null : err.message });
    }
  }

  async function loadList(filter) {
    try {
      dispatch({ type: "read", orders: (await client.listOrders(filter)).orders, list: filter });
    } catch (err) {
      dispatch({ type: "readFailed", key: `list:${filter}`, message: err.message });
    }
  }

  const onView = (orderId) => orders.has(orderId) || lists.keys().some((f) => state.lists[f]?.includes(orderId));

  async function sync() {
    timer = null;
    await Promise.all([...orders.keys().map(loadOrder), ...lists.keys().map(loadList)]);
    const behind = Object.keys(state.live).some((id) => onView(id) && isBehind(state, id));
    if (behind && retries < BEHIND_RETRIES) {
      retries += 1;
      schedule(BEHIND_RETRY_MS);
    }
  }

  function schedule(ms) {
    if (timer === null) timer = setTimeout(sync, ms);
  }

  return {
    getState: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onEvent(event) {
      const before = state;
      dispatch({ type: "event", event });
      if (state === before) return; // not about an order, or a repeat
      retries = 0;
      schedule(SETTLE_MS);
    },
    /** Everything on view read again now: after a reconnect, events sent meanwhile never arrive. */
    catchUp() {
      clearTimeout(timer);
      retries = 0;
      return sync();
    },
    loadOrder,
    loadList,
    watchOrder: (orderId) => orders.add(orderId),
    watchList: (filter) => lists.add(filter),
    stop: () => clearTimeout(timer),
  };
}

const OrderStoreContext = createContext(null);

/** Under OrderEventsProvider: the page's one order store, fed by its one event stream. */
export function OrderStoreProvider({ children, client = api }) {
  const store = useMemo(() => createOrderStore(client), [client]);
  useEffect(() => () => store.stop(), [store]);
  const connected = useOrderEvents(store.onEvent);
  useEffect(() => {
    if (connected) store.catchUp();
  }, [connected, store]);
  const value = useMemo(() => ({ store, connected }), [store, connected]);
  return <OrderStoreContext.Provider value={value}>{children}</OrderStoreContext.Provider>;
}

function useStore() {
  const context = useContext(OrderStoreContext);
  if (!context) throw new Error("useOrder and useOrderList need an OrderStoreProvider");
  return context;
}

/**
 * One order as the page knows it: `{order, timeline, error}` (`order` null until the API has it). Read now, on
 * its events, and polled while it is open (faster while the event stream is down).
 */
export function useOrder(orderId) {
  const { store, connected } = useStore();
  const state = useSyncExternalStore(store.subscribe, store.getState);
  const order = state.byId[orderId] ?? null;
  useEffect(() => store.watchOrder(orderId), [store, orderId]);
  usePolling(() => store.loadOrder(orderId), connected ? ORDER_REFRESH_MS : ORDER_REFRESH_OFFLINE_MS,
    !isFinal(order?.status), [orderId]);
  return { order, timeline: timelineOf(state, orderId), error: state.errors[orderId] ?? null };
}

/** A blotter filter's orders: `{orders, error}` (`orders` null before the first answer). */
export function useOrderList(filter, refreshMs = ORDER_REFRESH_MS) {
  const { store } = useStore();
  const state = useSyncExternalStore(store.subscribe, store.getState);
  useEffect(() => store.watchList(filter), [store, filter]);
  usePolling(() => store.loadList(filter), refreshMs, true, [filter]);
  return { orders: listOf(state, filter), error: state.errors[`list:${filter}`] ?? null };
}
