import { useState } from "react";
import { getStatus } from "../api.js";
import { newerTradingState, tradingStateFromEvent } from "../lib/tradingState.js";
import { EventType } from "../lib/vocabulary.generated.js";
import { useOrderEvents } from "./orderEvents.jsx";
import { usePolling } from "./usePolling.js";

// the market clock moves slowly (the gateway reads it every minute); the trading state arrives live, so polling
// is only the catch-up, faster while the event stream is down
export const STATUS_REFRESH_MS = 10000;
export const STATUS_REFRESH_OFFLINE_MS = 2000;

/**
 * The market clock and the trading state: `{loaded, error, market, trading}` from /api/status, the trading state
 * replaced at once by every `TradingStateChanged` from /api/events, and read again whenever the stream (re)connects.
 */
export function useStatus() {
  const [status, setStatus] = useState({ loaded: false, error: null, market: null, trading: null });
  const connected = useOrderEvents(({ type, data }) => {
    if (type !== EventType.TradingStateChanged) return;
    setStatus((prev) => ({ ...prev, trading: newerTradingState(prev.trading, tradingStateFromEvent(data)) }));
  });
  usePolling(
    async () => {
      try {
        const data = await getStatus();
        setStatus((prev) => ({
          loaded: true,
          error: null,
          market: data?.market ?? null,
          trading: newerTradingState(prev.trading, data?.trading_state ?? null),
        }));
      } catch (err) {
        setStatus((prev) => ({ ...prev, error: err.message }));
      }
    },
    connected ? STATUS_REFRESH_MS : STATUS_REFRESH_OFFLINE_MS,
    true,
    [connected],
  );
  return status;
}
