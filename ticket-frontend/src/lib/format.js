// Display helpers. Amounts arrive as decimal strings (or big.js values); they are rounded with big.js and
// spelled digit by digit, so no float ever touches money (Number would lose cents past 2^53 / 100).
import Big from "big.js";
import { ORDER_TYPES, SIDES, TIME_IN_FORCE } from "./orderRules.js";

function toBig(value) {
  if (value === null || value === undefined || value === "") return null;
  try {
    return value instanceof Big ? value : new Big(String(value));
  } catch {
    return null;
  }
}

/** "-$1,234.50" from a big.js value already rounded to `places` decimals (never "-$0.00"). */
function dollars(b, places) {
  const [whole, fraction] = b.abs().toFixed(places).split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const sign = b.lt(0) ? "-" : "";
  return `${sign}$${grouped}${fraction === undefined ? "" : `.${fraction}`}`;
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

/** A share quantity without trailing zeros ("10", "0.5"). */
export function formatQty(value) {
  const b = toBig(value);
  return b === null ? "—" : b.toString();
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

/** "partially_filled" → "partially filled" */
export const statusLabel = (status) => (status ? String(status).replace(/_/g, " ") : "—");
