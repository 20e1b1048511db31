// Which way a quote last moved, per figure: a price that changed ticks "up" or "down" and keeps that direction
// until it changes again; decimal strings compared exactly (big.js).
import { toBig } from "./format.js";

export const QUOTE_FIGURES = ["bid", "ask", "last"];

/** `{bid, ask, last}`, each "up" | "down" | null, from the quote before (`prev`, may be null) and `next`. */
export function quoteTicks(prev, next, kept = {}) {
  const ticks = {};
  for (const figure of QUOTE_FIGURES) {
    const before = toBig(prev?.[figure]);
    const now = toBig(next?.[figure]);
    if (before === null || now === null) ticks[figure] = now === null ? null : (kept[figure] ?? null);
    else ticks[figure] = now.gt(before) ? "up" : now.lt(before) ? "down" : (kept[figure] ?? null);
  }
  return ticks;
}
