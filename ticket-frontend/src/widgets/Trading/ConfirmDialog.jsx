// The last look before an order leaves: every detail, the estimated cost (proceeds for a sell), the mode and the
// server's preview with its reasons. Modal: focus moves in and stays in (Tab wraps), Esc is Back, and nothing is
// sent until the confirm button ("Buy 10 AAPL"), which waits for the server to accept the order and is off while
// trading is halted (lib/tradingState.js).
import { useRef } from "react";
import { basisLabel, sellBuyingPowerNote } from "../../lib/orderRules.js";
import { formatMoney, formatPrice, formatShares, orderAction, sideLabel, tifLabel, typeLabel } from "../../lib/format.js";
import { confirmGate, previewReasons } from "../../lib/tradingState.js";
import { OrderSide } from "../../lib/vocabulary.generated.js";
import { Modal } from "./Modal.jsx";
import { Reasons } from "./Reasons.jsx";

export function ConfirmDialog({ request, mode, estimate, preview, trading, canSubmit = true, submitting, error, onConfirm, onBack }) {
  const backRef = useRef(null);

  const live = mode === "live";
  const sell = request.side === OrderSide.SELL;
  const gate = confirmGate({ preview, trading, submitting, canSubmit });
  const data = preview?.data;
  const reasons = previewReasons(data);
  const buyingPowerAfter = data?.buying_power_after;
  const rows = [
    ["Symbol", request.symbol],
    ["Side", sideLabel(request.side)],
    ["Order type", typeLabel(request.type)],
    request.notional !== null
      ? ["Notional", formatMoney(request.notional)]
      : ["Quantity", formatShares(request.qty)],
    request.limit_price !== null ? ["Limit price", formatPrice(request.limit_price)] : null,
    request.stop_price !== null ? ["Stop price", formatPrice(request.stop_price)] : null,
    ["Time in force", tifLabel(request.time_in_force)],
    ["Extended hours", request.extended_hours ? "Yes" : "No"],
  ].filter(Boolean);

  return (
    <Modal
      className={`${live ? "dialog--live" : "dialog--paper"} dialog--${request.side}`}
      labelledBy="confirm-title"
      describedBy="confirm-mode"
      initialFocus={backRef}
      busy={submitting}
      onClose={onBack}
    >
      <h2 id="confirm-title">Review your order</h2>
      <p className={`side-badge side-badge--${request.side}`} data-testid="dialog-side">
        {sell ? "SELL" : "BUY"}
      </p>
      <p id="confirm-mode" className={`dialog-mode ${live ? "dialog-mode--live" : "dialog-mode--paper"}`}>
        {live ? "LIVE — this order trades real money" : "PAPER — simulated order, no real money"}
      </p>
      <dl className="dialog-details">
        {rows.map(([term, value]) => (
          <div key={term}>
            <dt>{term}</dt>
            <dd>{value}</dd>
          </div>
        ))}
        <div className="dialog-cost">
          <dt>{sell ? "Estimated proceeds" : "Estimated cost"}</dt>
          <dd>
            {formatMoney(estimate.cost)} {estimate.cost !== null && estimate.cost !== undefined ? basisLabel(estimate.basis) : ""}
          </dd>
        </div>
        {buyingPowerAfter !== undefined && buyingPowerAfter !== null ? (
          <div>
            <dt>Buying power after</dt>
            <dd>
              {formatMoney(buyingPowerAfter)}
              {sellBuyingPowerNote(request.side, data) ? (
                <span className="dialog-note"> — {sellBuyingPowerNote(request.side, data)}</span>
              ) : null}
            </dd>
          </div>
        ) : null}
      </dl>
      {reasons.length ? (
        <Reasons
          reasons={reasons}
          title={data?.approvable ? "Notes from the server" : "The server would refuse this order"}
          blocking={!data?.approvable}
        />
      ) : null}
      {data?.approvable && !preview?.pending ? <p className="preview-ok">Checked by the server: it would accept this order.</p> : null}
      {error ? (
        <p className="field-error" role="alert">
          {error}
        </p>
      ) : null}
      <div className="dialog-actions">
        <button type="button" ref={backRef} onClick={onBack} disabled={submitting}>
          Back
        </button>
        <button
          type="button"
          className={`primary side-button side-button--${request.side} ${live ? "danger" : ""}`}
          onClick={onConfirm}
          disabled={!gate.enabled}
          aria-describedby={gate.why ? "confirm-why" : undefined}
        >
          {submitting ? "Sending…" : orderAction(request)}
        </button>
      </div>
      {gate.why ? (
        <p id="confirm-why" className="confirm-why" data-testid="confirm-why">
          {gate.why}
        </p>
      ) : null}
    </Modal>
  );
}
