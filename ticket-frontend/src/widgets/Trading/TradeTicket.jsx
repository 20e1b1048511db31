// The trade ticket (seed Deliverable 21.3): a person builds an order of any type, sees what it will cost as
// they type, reviews it in a modal and confirms it. The ticket only *requests* the order (POST /api/orders);
// its fate arrives as events, shown by OrderTracker. One order_id per ticket: a double click, or a retry after
// a lost response, is the same order (DESIGN §4). While trading is halted nothing can be reviewed or confirmed, and
// Confirm waits for the server's preview to accept the order (lib/tradingState.js).
import { useRef, useState } from "react";
import { ApiError, fieldErrorsFrom422, placeOrder } from "../../api.js";
import { useDebouncedValue } from "../../hooks/useDebouncedValue.js";
import { usePreview, PREVIEW_DEBOUNCE_MS } from "../../hooks/usePreview.js";
import { useQuote } from "../../hooks/useQuote.js";
import { newOrderId } from "../../lib/ids.js";
import {
  EXTENDED_HOURS_REASON,
  ORDER_TYPES,
  SIDES,
  TIME_IN_FORCE,
  allowedOrderTypes,
  allowedTimeInForce,
  constrainForm,
  emptyForm,
  estimateCost,
  extendedHoursAllowed,
  needsLimitPrice,
  needsStopPrice,
  normalizeSymbol,
  toOrderRequest,
  validateForm,
} from "../../lib/orderRules.js";
import { orderAction } from "../../lib/format.js";
import { haltedReason, reducingNote } from "../../lib/tradingState.js";
import { OrderType, SYMBOL_PATTERN } from "../../lib/vocabulary.generated.js";
import { AmountFields } from "./AmountFields.jsx";
import { ConfirmDialog } from "./ConfirmDialog.jsx";
import { CostEstimate, effectiveEstimate } from "./CostEstimate.jsx";
import { SelectField, TextField, bindDecimal, bindField } from "./Field.jsx";
import { QuoteBox } from "./QuoteBox.jsx";

// the order in which a failed Review moves focus to the first field to fix
const FIELD_ORDER = ["symbol", "side", "type", "qty", "notional", "stop_price", "limit_price", "time_in_force", "extended_hours"];
export const FIELD_IDS = {
  symbol: "ticket-symbol",
  side: "ticket-side",
  type: "ticket-type",
  qty: "ticket-qty",
  notional: "ticket-notional",
  limit_price: "ticket-limit-price",
  stop_price: "ticket-stop-price",
  time_in_force: "ticket-tif",
  extended_hours: "ticket-extended-hours",
};

export default function TradeTicket({ mode = null, trading = null, onOrderPlaced = () => {} }) {
  const [form, setForm] = useState(emptyForm);
  const [touched, setTouched] = useState({});
  const [attempted, setAttempted] = useState(false);
  const [orderId, setOrderId] = useState(newOrderId);
  const [review, setReview] = useState(null); // the exact request shown in the dialog, or null
  const [submitting, setSubmitting] = useState(false);
  const [submitError, setSubmitError] = useState(null);
  const [sent, setSent] = useState(null);
  const inFlight = useRef(false);

  const canSubmit = mode === "paper" || mode === "live";
  const halted = haltedReason(trading);
  const reducing = reducingNote(trading);
  const symbol = normalizeSymbol(form.symbol);
  const quoteSymbol = useDebouncedValue(SYMBOL_PATTERN.test(symbol) ? symbol : "", PREVIEW_DEBOUNCE_MS);
  const { quote, ticks, error: quoteError } = useQuote(quoteSymbol);

  const clientErrors = validateForm(form);
  const settledErrors = validateForm(useDebouncedValue(form, PREVIEW_DEBOUNCE_MS));
  const hasClientErrors = Object.keys(clientErrors).length > 0;
  const request = toOrderRequest(form, orderId);
  // a market order's cost moves with the quote: ask the server again when the quote does
  const refreshKey = form.type === OrderType.MARKET && form.amountMode === "qty" ? (quote?.timestamp ?? "") : "";
  const preview = usePreview(request, !hasClientErrors, refreshKey);
  const clientEstimate = estimateCost(form, quote);

  const update = (field, value) => {
    setForm((prev) => constrainForm({ ...prev, [field]: value }));
    setTouched((prev) => (prev[field] ? prev : { ...prev, [field]: true }));
    setSent(null);
  };

  // a client error shows once the person has paused (or tried to review); the server's errors once it answered
  const errorFor = (field) => {
    const client = clientErrors[field];
    if (client && (attempted || (touched[field] && settledErrors[field]))) return client;
    if (!client && !hasClientErrors) return preview.fieldErrors[field] ?? null;
    return null;
  };
  const field = bindField({ form, update, errorFor, ids: FIELD_IDS });
  const decimal = bindDecimal({ form, update, errorFor, ids: FIELD_IDS });

  const serverBlocks = Boolean(preview.data?.errors?.length) || Object.keys(preview.fieldErrors).length > 0;

  const onReview = (e) => {
    e.preventDefault();
    if (!canSubmit || halted) return;
    if (hasClientErrors || (serverBlocks && !preview.pending)) {
      setAttempted(true);
      const first = FIELD_ORDER.find((f) => clientErrors[f] || preview.fieldErrors[f]);
      if (first) document.getElementById(FIELD_IDS[first])?.focus();
      return;
    }
    setSubmitError(null);
    setReview(request);
  };

  const onConfirm = async () => {
    if (inFlight.current || !review || !canSubmit || halted) return; // a second click while the first is in flight
    inFlight.current = true;
    setSubmitting(true);
    setSubmitError(null);
    try {
      const result = await placeOrder(review);
      const placedId = result.order_id;
      setReview(null);
      setSent({ orderId: placedId, request: review });
      setOrderId(newOrderId()); // the next ticket is a new order
      setForm((prev) => ({ ...prev, qty: "", notional: "", limit_price: "", stop_price: "" }));
      setTouched({});
      setAttempted(false);
      onOrderPlaced(placedId, review);
    } catch (err) {
      // the order_id stays: sending again after an unclear failure is the same order, not a second one
      const fields = err instanceof ApiError && err.status === 422 ? Object.values(fieldErrorsFrom422(err.body)) : [];
      setSubmitError(fields.length ? fields.join(" ") : err.message);
    } finally {
      inFlight.current = false;
      setSubmitting(false);
    }
  };

  const types = allowedOrderTypes(form);
  const tifs = allowedTimeInForce(form);
  const extAllowed = extendedHoursAllowed(form);
  const est = effectiveEstimate(clientEstimate, preview);
  const disabledWhy = !canSubmit ? "Submission is disabled until the trading mode (paper or live) is known." : halted;

  return (
    <section className="panel ticket" aria-labelledby="ticket-heading">
      <h2 id="ticket-heading">Trade ticket</h2>
      <form onSubmit={onReview} noValidate className={`ticket-form ticket-form--${form.side}`}>
        <TextField
          id={FIELD_IDS.symbol}
          label="Symbol"
          value={form.symbol}
          onChange={(v) => update("symbol", v.toUpperCase())}
          error={errorFor("symbol")}
          placeholder="AAPL"
          maxLength={16}
          className="symbol-input"
        />
        <QuoteBox symbol={quoteSymbol} quote={quote} ticks={ticks} error={quoteError} />

        <div className="row">
          <SelectField {...field("side")} label="Side" options={SIDES} />
          <SelectField {...field("type")} label="Order type" options={ORDER_TYPES} allowed={types.values} hint={types.reason} />
        </div>

        <AmountFields form={form} update={update} errorFor={errorFor} ids={FIELD_IDS} />

        {needsLimitPrice(form.type) || needsStopPrice(form.type) ? (
          <div className="row">
            {needsStopPrice(form.type) ? (
              <TextField {...decimal("stop_price")} label="Stop price" prefix="$" placeholder="0.00" />
            ) : null}
            {needsLimitPrice(form.type) ? (
              <TextField {...decimal("limit_price")} label="Limit price" prefix="$" placeholder="0.00" />
            ) : null}
          </div>
        ) : null}

        <div className="row">
          <SelectField
            {...field("time_in_force")}
            label="Time in force"
            options={TIME_IN_FORCE}
            allowed={tifs.values}
            hint={tifs.reason}
          />
          <div className={`field field--checkbox ${errorFor("extended_hours") ? "field--invalid" : ""}`}>
            <div className="checkbox-line">
              <input
                id={FIELD_IDS.extended_hours}
                type="checkbox"
                checked={form.extended_hours}
                disabled={!extAllowed}
                onChange={(e) => update("extended_hours", e.target.checked)}
                aria-describedby={!extAllowed ? "ticket-extended-hours-hint" : undefined}
              />
              <label htmlFor={FIELD_IDS.extended_hours}>Extended hours</label>
            </div>
            {!extAllowed ? (
              <p id="ticket-extended-hours-hint" className="field-hint">
                {EXTENDED_HOURS_REASON}
              </p>
            ) : null}
            {errorFor("extended_hours") ? <p className="field-error">{errorFor("extended_hours")}</p> : null}
          </div>
        </div>

        <CostEstimate
          side={form.side}
          clientEstimate={clientEstimate}
          preview={preview}
          hasClientErrors={hasClientErrors}
          waitingForQuote={Boolean(quoteSymbol) && !quote}
        />

        {reducing ? (
          <p className="trading-note trading-note--reducing" data-testid="reducing-note">
            {reducing}
          </p>
        ) : null}
        <div className="ticket-actions">
          <button
            type="submit"
            className={`primary side-button side-button--${form.side}`}
            disabled={Boolean(disabledWhy)}
            aria-describedby={disabledWhy ? "ticket-disabled-why" : undefined}
          >
            Review order
          </button>
          {disabledWhy ? (
            <p id="ticket-disabled-why" className={halted ? "field-error" : "field-hint"}>
              {disabledWhy}
            </p>
          ) : null}
        </div>
        {sent ? (
          <p className="sent" role="status">
            Order requested: {orderAction(sent.request)} (order {sent.orderId}). Its progress is shown under Order status.
          </p>
        ) : null}
      </form>

      {review ? (
        <ConfirmDialog
          request={review}
          mode={mode}
          estimate={est}
          preview={preview}
          trading={trading}
          canSubmit={canSubmit}
          submitting={submitting}
          error={submitError}
          onConfirm={onConfirm}
          onBack={() => setReview(null)}
        />
      ) : null}
    </section>
  );
}
