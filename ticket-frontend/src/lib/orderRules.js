// The ticket's order rules as pure functions over the form's plain values: which fields an order type needs,
// which time-in-force values are allowed, client-side validation and the instant cost estimate. The validation
// mirrors some of risk-service's checks (reasons.py, pricing.py) so a person sees a problem as they type; the
// API's /api/orders/preview and then the risk service stay the authority. Enum values come from the contracts
// (vocabulary.generated.js); only their labels live here.
import Big from "big.js";
import { OrderSide, OrderType, SYMBOL_MAX_LENGTH, SYMBOL_PATTERN, TimeInForce } from "./vocabulary.generated.js";

const withLabels = (values, labels) => Object.values(values).map((value) => ({ value, label: labels[value] ?? value }));

export const ORDER_TYPES = withLabels(OrderType, {
  [OrderType.MARKET]: "Market",
  [OrderType.LIMIT]: "Limit",
  [OrderType.STOP]: "Stop",
  [OrderType.STOP_LIMIT]: "Stop limit",
});

export const SIDES = withLabels(OrderSide, { [OrderSide.BUY]: "Buy", [OrderSide.SELL]: "Sell" });

export const TIME_IN_FORCE = withLabels(TimeInForce, {
  [TimeInForce.DAY]: "Day",
  [TimeInForce.GTC]: "Good till canceled (gtc)",
  [TimeInForce.OPG]: "At the open (opg)",
  [TimeInForce.CLS]: "At the close (cls)",
  [TimeInForce.IOC]: "Immediate or cancel (ioc)",
  [TimeInForce.FOK]: "Fill or kill (fok)",
});

const DECIMAL_PATTERN = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

export const emptyForm = () => ({
  symbol: "",
  side: OrderSide.BUY,
  type: OrderType.MARKET,
  amountMode: "qty", // "qty" (shares) or "notional" (dollars)
  qty: "",
  notional: "",
  limit_price: "",
  stop_price: "",
  time_in_force: TimeInForce.DAY,
  extended_hours: false,
});

export const needsLimitPrice = (type) => type === OrderType.LIMIT || type === OrderType.STOP_LIMIT;
export const needsStopPrice = (type) => type === OrderType.STOP || type === OrderType.STOP_LIMIT;

/** A decimal string as big.js, or null when it is not a plain non-negative decimal. */
export function parseDecimal(text) {
  const s = String(text ?? "").trim();
  if (!DECIMAL_PATTERN.test(s)) return null;
  return new Big(s.startsWith(".") ? `0${s}` : s);
}

export function decimalPlaces(text) {
  const s = String(text ?? "").trim();
  const dot = s.indexOf(".");
  return dot < 0 ? 0 : s.length - dot - 1;
}

/** The canonical decimal string sent to the API ("0.5" for ".5", "10" for "10."). */
export function normalizeDecimal(text) {
  const d = parseDecimal(text);
  if (d === null) return null;
  const s = String(text).trim();
  // keep the person's precision ("10.50" stays "10.50"): only mend a bare leading or trailing dot
  return s.startsWith(".") ? `0${s}` : s.endsWith(".") ? s.slice(0, -1) : s;
}

export function normalizeSymbol(text) {
  return String(text ?? "").trim().toUpperCase();
}

/** Fractional = a share quantity that is not a whole number, or any notional order. */
export function isFractional(form) {
  if (form.amountMode === "notional") return true;
  const q = parseDecimal(form.qty);
  return q !== null && !q.eq(q.round(0, Big.roundDown));
}

/** Time-in-force values the order allows, and why the others are not (null when all are). */
export function allowedTimeInForce(form) {
  if (isFractional(form)) {
    const why =
      form.amountMode === "notional"
        ? "Notional orders are day orders only."
        : "Fractional quantities are day orders only.";
    return { values: [TimeInForce.DAY], reason: why };
  }
  return { values: TIME_IN_FORCE.map((t) => t.value), reason: null };
}

/** Order types the order allows: a notional order is a market order. */
export function allowedOrderTypes(form) {
  if (form.amountMode === "notional") {
    return { values: [OrderType.MARKET], reason: "Notional (dollar) orders are market orders only." };
  }
  return { values: ORDER_TYPES.map((t) => t.value), reason: null };
}

export function extendedHoursAllowed(form) {
  return form.type === OrderType.LIMIT && form.time_in_force === TimeInForce.DAY;
}

export const EXTENDED_HOURS_REASON = "Extended hours needs a Limit order with time in force Day.";

/**
 * Bring dependent fields in line after a change, so the form never holds a combination the rules forbid:
 * notional → market; fractional or notional → day; extended hours only for limit + day.
 */
export function constrainForm(form) {
  let next = form;
  const types = allowedOrderTypes(next).values;
  if (!types.includes(next.type)) next = { ...next, type: types[0] };
  const tifs = allowedTimeInForce(next).values;
  if (!tifs.includes(next.time_in_force)) next = { ...next, time_in_force: tifs[0] };
  if (next.extended_hours && !extendedHoursAllowed(next)) next = { ...next, extended_hours: false };
  return next;
}

function validatePrice(text, name) {
  const s = String(text ?? "").trim();
  if (s === "") return `Enter a ${name.toLowerCase()}.`;
  const p = parseDecimal(s);
  if (p === null) return `${name} must be a number, like 123.45.`;
  if (p.lte(0)) return `${name} must be greater than $0.`;
  const places = decimalPlaces(s);
  if (p.gte(1) && places > 2) return `${name} of $1 or more can have at most 2 decimal places.`;
  if (p.lt(1) && places > 4) return `${name} below $1 can have at most 4 decimal places.`;
  return null;
}

function validateQty(text) {
  const s = String(text ?? "").trim();
  if (s === "") return "Enter a quantity in shares.";
  const q = parseDecimal(s);
  if (q === null) return "Quantity must be a number of shares, like 10 or 0.5.";
  if (q.lte(0)) return "Quantity must be greater than 0.";
  if (decimalPlaces(s) > 9) return "Quantity can have at most 9 decimal places.";
  if (!q.eq(q.round(0, Big.roundDown)) && q.lt("0.001")) {
    return "A fractional quantity must be at least 0.001 shares.";
  }
  return null;
}

function validateNotional(text) {
  const s = String(text ?? "").trim();
  if (s === "") return "Enter a dollar amount.";
  const n = parseDecimal(s);
  if (n === null) return "Notional must be a dollar amount, like 250 or 99.50.";
  if (n.lte(0)) return "Notional must be greater than $0.";
  if (n.lt(1)) return "Notional must be at least $1.";
  if (decimalPlaces(s) > 2) return "Notional can have at most 2 decimal places (cents).";
  return null;
}

/** `{field: message}` for every rule the form breaks; field names are the API's (Alpaca's) names. */
export function validateForm(form) {
  const errors = {};
  const symbol = normalizeSymbol(form.symbol);
  if (symbol === "") errors.symbol = "Enter a symbol.";
  else if (symbol.length > SYMBOL_MAX_LENGTH || !SYMBOL_PATTERN.test(symbol)) {
    errors.symbol = "Symbol must be a ticker like AAPL or BRK.B.";
  }
  if (form.amountMode === "notional") {
    const e = validateNotional(form.notional);
    if (e) errors.notional = e;
    if (form.type !== OrderType.MARKET) errors.type = "A notional order must be a market order.";
  } else {
    const e = validateQty(form.qty);
    if (e) errors.qty = e;
  }
  if (needsLimitPrice(form.type)) {
    const e = validatePrice(form.limit_price, "Limit price");
    if (e) errors.limit_price = e;
  }
  if (needsStopPrice(form.type)) {
    const e = validatePrice(form.stop_price, "Stop price");
    if (e) errors.stop_price = e;
  }
  if (isFractional(form) && form.time_in_force !== TimeInForce.DAY) {
    errors.time_in_force = "Fractional and notional orders must use time in force Day.";
  }
  if (form.extended_hours && !extendedHoursAllowed(form)) errors.extended_hours = EXTENDED_HOURS_REASON;
  return errors;
}

/** The request body of /api/orders/preview and /api/orders (decimals as strings, Alpaca's field names). */
export function toOrderRequest(form, orderId) {
  const notional = form.amountMode === "notional";
  const body = {
    symbol: normalizeSymbol(form.symbol),
    side: form.side,
    type: form.type,
    time_in_force: form.time_in_force,
    qty: notional ? null : normalizeDecimal(form.qty),
    notional: notional ? normalizeDecimal(form.notional) : null,
    limit_price: needsLimitPrice(form.type) ? normalizeDecimal(form.limit_price) : null,
    stop_price: needsStopPrice(form.type) ? normalizeDecimal(form.stop_price) : null,
    extended_hours: Boolean(form.extended_hours),
  };
  if (orderId) body.order_id = orderId;
  return body;
}

export const BASIS_LABELS = {
  ask: "at the ask",
  bid: "at the bid",
  limit_price: "at the limit price",
  stop_price: "at the stop price",
  notional: "the notional amount",
  last: "at the last trade",
};

export const basisLabel = (basis) => BASIS_LABELS[basis] ?? (basis ? `at the ${basis.replace(/_/g, " ")}` : "");

/**
 * The instant estimate: `{cost: Big|null, basis}`. Where the order would execute at worst: the limit price
 * (limit, stop limit), the stop price (stop: it becomes a market order there), the far side of the quote for a
 * market order (ask when buying, bid when selling); a notional order costs its notional.
 */
export function estimateCost(form, quote) {
  if (form.amountMode === "notional") {
    const n = parseDecimal(form.notional);
    return { cost: n && n.gt(0) ? n : null, basis: "notional" };
  }
  let basis;
  let unitText;
  if (needsLimitPrice(form.type)) {
    basis = "limit_price";
    unitText = form.limit_price;
  } else if (form.type === OrderType.STOP) {
    basis = "stop_price";
    unitText = form.stop_price;
  } else {
    basis = form.side === OrderSide.BUY ? "ask" : "bid";
    unitText = quote ? quote[basis] : null;
  }
  const qty = parseDecimal(form.qty);
  const unit = parseDecimal(unitText);
  if (!qty || !unit || qty.lte(0) || unit.lte(0)) return { cost: null, basis };
  return { cost: qty.times(unit), basis };
}

/**
 * Why "Buying power after" has not moved, for a sell the server says uses none (it sells shares held): its
 * proceeds count once it fills. Null otherwise (a buy, a short sale that does use buying power, no preview).
 */
export function sellBuyingPowerNote(side, preview) {
  if (side !== OrderSide.SELL || !preview) return null;
  const { buying_power: before, buying_power_after: after } = preview;
  if (before === null || before === undefined || after === null || after === undefined) return null;
  return Number(before) === Number(after)
    ? "A sale of shares you hold uses no buying power; its proceeds count once it fills."
    : null;
}
