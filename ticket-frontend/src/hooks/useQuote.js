import { useState } from "react";
import { getQuote } from "../api.js";
import { quoteTicks } from "../lib/quoteTicks.js";
import { usePolling } from "./usePolling.js";

// The quotes are not on /api/events (REFDATA is a KV bucket the API mirrors), so the ticket reads the quote every
// second; the gateway writes a symbol's quote at most a few times a second.
export const QUOTE_REFRESH_MS = 1000;

/**
 * The live quote of `symbol`: `{quote, ticks, error}`; `ticks` the direction of the last move of bid, ask and last
 * ("up" | "down" | null). A failed refresh keeps the last quote but marks it stale; an unknown symbol (404) clears it.
 */
export function useQuote(symbol) {
  const [state, setState] = useState({ symbol: "", quote: null, ticks: {}, error: null });
  usePolling(
    async () => {
      try {
        const quote = await getQuote(symbol);
        setState((prev) => {
          const before = prev.symbol === symbol ? prev : { quote: null, ticks: {} };
          return { symbol, quote, ticks: quoteTicks(before.quote, quote, before.ticks), error: null };
        });
      } catch (err) {
        setState((prev) => {
          if (err.status === 404) return { symbol, quote: null, ticks: {}, error: `No quote: ${symbol} is not a known symbol.` };
          const kept = prev.symbol === symbol && prev.quote ? { ...prev.quote, stale: true } : null;
          return { symbol, quote: kept, ticks: kept ? prev.ticks : {}, error: "The quote could not be refreshed." };
        });
      }
    },
    QUOTE_REFRESH_MS,
    Boolean(symbol),
    [symbol],
  );
  // a quote for the symbol typed before is no quote for this one
  if (!symbol || state.symbol !== symbol) return { quote: null, ticks: {}, error: null };
  return { quote: state.quote, ticks: state.ticks, error: state.error };
}
