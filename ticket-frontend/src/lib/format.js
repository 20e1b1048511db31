// Display helpers. Amounts arrive as decimal strings (or big.js values); they are rounded to cents with
// big.js before they meet Intl, so no float arithmetic touches money.
import Big from "big.js";
import { ORDER_TYPES, SIDES, TIME_IN_FORCE } from "./orderRules.js";

const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });

function toBig(value) {
  if (value === null || value === undefined || value === "") return null;
  try {
    return value instanceof Big ? value : new Big(String(value));
  } catch {
    return null;
  }
}

/** "$1,234.57" (half-up to the cent); "—" when there is no amount. */
export function formatMoney(value) {
  const b = toBig(value);
  if (b === null) return "—";
  return usd.format(Number(b.round(2, Big.roundHalfUp).toFixed(2)));
}

/** A price as quoted: its own decimals kept (sub-dollar prices have up to 4), with a dollar sign. */
export function formatPrice(value) {
  const b = toBig(value);
  if (b === null) return "—";
  const places = Math.max(2, Math.min(4, (String(value).split(".")[1] ?? "").replace(/0+$/, "").length));
  return `$${b.toFixed(places)}`;
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
