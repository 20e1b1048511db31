import { useState } from "react";
import { getQuote } from "../api.js";
import { usePolling } from "./usePolling.js";

export const QUOTE_REFRESH_MS = 2000;

/**
 * The live quote of `symbol` (refreshed every 2 s): `{quote, error}`. A failed refresh keeps the last quote
 * but marks it stale; an unknown symbol (404) clears it.
 */
export function useQuote(symbol) {
  const [state, setState] = useState({ symbol: "", quote: null, error: null });
  usePolling(
    async () => {
      try {
        const quote = await getQuote(symbol);
        setState({ symbol, quote, error: null });
      } catch (err) {
        setState((prev) => {
          if (err.status === 404) return { symbol, quote: null, error: `No quote: ${symbol} is not a known symbol.` };
          const kept = prev.symbol === symbol && prev.quote ? { ...prev.quote, stale: true } : null;
          return { symbol, quote: kept, error: "The quote could not be refreshed." };
        });
      }
    },
    QUOTE_REFRESH_MS,
    Boolean(symbol),
    [symbol],
  );
  // a quote for the symbol typed before is no quote for this one
  if (!symbol || state.symbol !== symbol) return { quote: null, error: null };
  return { quote: state.quote, error: state.error };
}
