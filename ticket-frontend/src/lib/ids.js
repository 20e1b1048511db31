// One order_id per ticket: the requester names the order (DESIGN §4), so a double click or a retry after a
// lost response is the same order, never a second one.

/** A random UUID (v4). crypto.randomUUID exists only in secure contexts; getRandomValues exists everywhere. */
export function newOrderId() {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
