// Display helpers. Amounts arrive as decimal strings (or big.js values); they are rounded with big.js and
// spelled digit by digit, so no float ever touches money (Number would lose cents past 2^53 / 100).
import Big from "big.js";
import { ORDER_TYPES, SIDES, TIME_IN_FORCE } from "./orderRules.js";

/** A decimal string (or big.js value) as big.js; null when there is none or it is not a number. */
export function toBig(value) {
  if (value === null || value === undefined || value === "") return null;
  try {
    return value instanceof Big ? value : new Big(String(value));
  } catch {
    return null;
  }
}

/** The sign and the grouped digits of a big.js value: `places` decimals, or as many as it has ("1,234.5"). */
function grouped(b, places) {
  const [whole, fraction] = (places === undefined ? b.abs().toFixed() : b.abs().toFixed(places)).split(".");
  return { sign: b.lt(0) ? "-" : "", digits: `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}${fraction === undefined ? "" : `.${fraction}`}` };
}

/** "-$1,234.50" from a big.js value already rounded to `places` decimals (never "-$0.00"). */
function dollars(b, places) {
  const { sign, digits } = grouped(b, places);
  return `${sign}$${digits}`;
}

/** "$1,234.57" (half-up to the cent, like the ticket API's rounding); "—" when there is no amount. */
export function formatMoney(value) {
  const b = toBig(value);
  return b === null ? "—" : dollars(b.round(2, Big.roundHalfUp), 2);
}

/**
 * A profit or loss: "+$1,234.57", "-$12.30", "$0.00", and its direction for colour (`up`, `down`, `flat`;
 * `none` without an amount, shown "—"). The sign is in the text, so the colour is never the only cue.
 */
export function formatPnl(value) {
  const b = toBig(value);
  if (b === null) return { text: "—", direction: "none" };
  const cents = b.round(2, Big.roundHalfUp);
  if (cents.eq(0)) return { text: dollars(cents, 2), direction: "flat" };
  return cents.gt(0) ? { text: `+${dollars(cents, 2)}`, direction: "up" } : { text: dollars(cents, 2), direction: "down" };
}

/** Whether an amount is zero or missing (no float comparison). */
export function isZeroOrNone(value) {
  const b = toBig(value);
  return b === null || b.eq(0);
}

/** A price as quoted: its own decimals kept (sub-dollar prices have up to 4), with a dollar sign. */
export function formatPrice(value) {
  const b = toBig(value);
  if (b === null) return "—";
  const places = Math.max(2, Math.min(4, (String(value).split(".")[1] ?? "").replace(/0+$/, "").length));
  return dollars(b.round(places, Big.roundHalfUp), places);
}

/** A share quantity at its own precision, grouped, without trailing zeros ("10", "0.5", "1,000,000"). */
export function formatQty(value) {
  const b = toBig(value);
  if (b === null) return "—";
  const { sign, digits } = grouped(b);
  return `${sign}${digits}`;
}

/** "1 share", "10 shares", "0.5 shares", "1,000,000 shares". */
export function formatShares(value) {
  const b = toBig(value);
  return b === null ? "—" : `${formatQty(b)} ${b.abs().eq(1) ? "share" : "shares"}`;
}

const labelOf = (list) => (value) => list.find((x) => x.value === value)?.label ?? value ?? "—";
export const sideLabel = labelOf(SIDES);
export const typeLabel = labelOf(ORDER_TYPES);
export const tifLabel = labelOf(TIME_IN_FORCE);

export function formatTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleTimeString("en-US", { hour12: false });
}

const MARKET_TIME = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/New_York", weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
});

/** A market time in New York, where the exchange's day is: "Tue 16:00 ET"; "—" without one. */
export function formatMarketTime(iso) {
  const d = iso ? new Date(iso) : null;
  return d && !Number.isNaN(d.getTime()) ? `${MARKET_TIME.format(d).replace(",", "")} ET` : "—";
}

/** How much an order is for: "10 shares", "1 share", "$250.00" (notional). */
export function orderAmount(order) {
  return order?.notional ? formatMoney(order.notional) : formatShares(order?.qty);
}

/** What an order does, as its confirm button says it: "Buy 10 AAPL", "Sell 0.5 AAPL", "Buy $250.00 of AAPL". */
export function orderAction(order) {
  const side = sideLabel(order.side);
  return order.notional ? `${side} ${formatMoney(order.notional)} of ${order.symbol}` : `${side} ${formatQty(order.qty)} ${order.symbol}`;
}

/** The order type with its prices: "Market", "Limit $400.00", "Stop $190.00", "Stop limit $189.00 / $189.50". */
export function orderTerms(order) {
  const type = typeLabel(order?.type);
  const stop = order?.stop_price ? formatPrice(order.stop_price) : null;
  const limit = order?.limit_price ? formatPrice(order.limit_price) : null;
  if (stop && limit) return `${type}: stop ${stop}, limit ${limit}`;
  return [type, stop ?? limit].filter(Boolean).join(" ");
}

/** "partially_filled" → "partially filled" */
export const statusLabel = (status) => (status ? String(status).replace(/_/g, " ") : "—");
