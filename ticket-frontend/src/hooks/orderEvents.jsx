// One EventSource on /api/events for the whole page, shared through context: each view subscribes to the
// events it cares about. `connected` tells views whether to lean on polling instead.
import { createContext, useContext, useEffect, useMemo, useRef, useState } from "react";
import { subscribeEvents } from "../api.js";

const OrderEventsContext = createContext({ subscribe: () => () => {}, connected: false });

export function OrderEventsProvider({ children }) {
  const listeners = useRef(new Set());
  const [connected, setConnected] = useState(false);
  useEffect(
    () =>
      subscribeEvents(
        (event) => listeners.current.forEach((listener) => listener(event)),
        setConnected,
      ),
    [],
  );
  const value = useMemo(
    () => ({
      connected,
      subscribe(listener) {
        listeners.current.add(listener);
        return () => listeners.current.delete(listener);
      },
    }),
    [connected],
  );
  return <OrderEventsContext.Provider value={value}>{children}</OrderEventsContext.Provider>;
}

/** Call `handler({type, data})` for every event from /api/events; returns whether the stream is up. */
export function useOrderEvents(handler) {
  const { subscribe, connected } = useContext(OrderEventsContext);
  const handlerRef = useRef(handler);
  handlerRef.current = handler;
  useEffect(() => subscribe((event) => handlerRef.current(event)), [subscribe]);
  return connected;
}
