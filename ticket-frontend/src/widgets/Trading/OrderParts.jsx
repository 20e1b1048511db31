// The pieces that draw an order, shared by its card, its blotter row and its timeline dialog. Each state has its
// word and its symbol besides its colour: colour is never the only signal.
import { formatPrice, formatShares, formatTime, orderAmount, orderTerms, sideLabel, statusLabel } from "../../lib/format.js";
import { describeEvent, progressSteps } from "../../lib/orderStatus.js";
import { OrderProgress } from "../../lib/vocabulary.generated.js";

const STATUS_ICON = {
  [OrderProgress.FILLED]: "✓",
  [OrderProgress.REJECTED]: "✗",
  [OrderProgress.FAILED]: "✗",
  [OrderProgress.CANCELED]: "⊘",
  [OrderProgress.EXPIRED]: "⊘",
};
const STEP_ICON = { done: "✓", failed: "✗", pending: "○" };
const STEP_WORD = { done: "done", failed: "failed", pending: "not yet" };

/** The API's status, spelled out ("partially filled") after its symbol; `live`: announced when it changes. */
export function StatusPill({ status, live = false }) {
  return (
    <span
      className={`status-pill status--${status}`}
      role={live ? "status" : undefined}
      aria-live={live ? "polite" : undefined}
      data-testid="order-status"
    >
      <span aria-hidden="true" className="status-icon">
        {STATUS_ICON[status] ?? "…"}
      </span>{" "}
      {statusLabel(status)}
    </span>
  );
}

/** `steps` from lib/orderStatus.js `progressSteps`. */
export function Steps({ steps }) {
  return (
    <ol className="steps" aria-label="Progress">
      {steps.map((s) => (
        <li key={s.key} className={`step step--${s.state}`} data-state={s.state}>
          <span aria-hidden="true">{STEP_ICON[s.state]}</span> {s.label}
          <span className="visually-hidden"> ({STEP_WORD[s.state]})</span>
        </li>
      ))}
    </ol>
  );
}

/** Why an order was refused: each reason with its code. */
export function OrderReasons({ reasons }) {
  if (!reasons?.length) return null;
  return (
    <ul className="reasons" aria-label="Reasons">
      {reasons.map((r, i) => (
        <li key={`${r.code}-${i}`}>
          <code>{r.code}</code> {r.message}
        </li>
      ))}
    </ul>
  );
}

/** An order's timeline (the API's lines and the live ones not yet in them), oldest first. */
export function Timeline({ entries, label = "Timeline" }) {
  if (!entries?.length) return null;
  return (
    <ol className="timeline" aria-label={label}>
      {entries.map((e, i) => (
        <li key={e.event?.event_id ?? `${e.event_type}-${i}`} data-event-type={e.event_type}>
          <time dateTime={e.occurred_at}>{formatTime(e.occurred_at)}</time> {e.summary ?? describeEvent(e.event_type)}
        </li>
      ))}
    </ol>
  );
}

/** "Buy 10 shares AAPL · Limit $180.00": what the order is, from the API's order or, before it has one, the request. */
export function orderHeadline(order, request) {
  const shown = order?.side ? order : (request ?? order ?? {});
  return `${sideLabel(shown.side)} ${orderAmount(shown)} ${shown.symbol} · ${orderTerms(shown)}`;
}

/**
 * Where an order stands, as its card and its timeline dialog show it: the steps (the final one and a rejection by
 * risk included), the fill, the reasons of a refusal, the cancel's outcome, the timeline and a failed read.
 */
export function OrderProgressView({ order, timeline, error }) {
  return (
    <>
      <Steps steps={progressSteps(order && { ...order, timeline })} />
      {order && Number(order.filled_qty) > 0 ? (
        <p className="tracker-fill">
          Filled {formatShares(order.filled_qty)} @ {formatPrice(order.filled_avg_price)}
        </p>
      ) : null}
      <OrderReasons reasons={order?.reject_reasons} />
      {order?.cancel_outcome ? <p className="cancel-outcome">Cancel: {statusLabel(order.cancel_outcome)}</p> : null}
      <Timeline entries={timeline} />
      {error ? <p className="field-error">{error}</p> : null}
    </>
  );
}
