// One order's progress as it happens: requested → approved or rejected (with the reasons) → submitted →
// partially filled → filled / canceled. Each event from /api/events about the order shows at once on the
// timeline and asks GET /api/orders/{id} again; that answer is the authority for the status (polled too,
// faster when the event stream is down).
import { useState } from "react";
import { eventOrderId, getOrder } from "../../api.js";
import { useOrderEvents } from "../../hooks/orderEvents.jsx";
import { usePolling } from "../../hooks/usePolling.js";
import { formatPrice, formatShares, formatTime, orderAmount, orderTerms, sideLabel, statusLabel } from "../../lib/format.js";
import { describeEvent, isFinal, progressSteps } from "../../lib/orderStatus.js";
import { OrderProgress } from "../../lib/vocabulary.generated.js";

export function OrderTracker({ orderId, request }) {
  const [order, setOrder] = useState(null);
  const [liveEvents, setLiveEvents] = useState([]);
  const [error, setError] = useState(null);

  const refresh = async () => {
    try {
      setOrder(await getOrder(orderId));
      setError(null);
    } catch (err) {
      // 404 right after the request: the read model has not caught up yet
      if (err.status !== 404) setError(err.message);
    }
  };

  const connected = useOrderEvents(({ type, data }) => {
    if (eventOrderId(data) !== orderId) return;
    setLiveEvents((prev) => [...prev, { event_type: type, occurred_at: data.occurred_at, summary: describeEvent(type, data) }]);
    refresh();
  });
  const status = order?.status ?? OrderProgress.REQUESTED;
  usePolling(refresh, connected ? 5000 : 1500, !isFinal(status), [orderId]);

  const shown = order ?? request ?? {};
  const steps = progressSteps(order);
  const timeline = order?.timeline?.length ? order.timeline : liveEvents;
  const reasons = order?.reject_reasons ?? [];

  return (
    <article className="tracker" aria-label={`Order ${orderId}`}>
      <header className="tracker-head">
        <strong>
          {sideLabel(shown.side)} {orderAmount(shown)} {shown.symbol} · {orderTerms(shown)}
        </strong>
        <span className={`status-pill status--${status}`} role="status" aria-live="polite">
          {statusLabel(status)}
        </span>
      </header>
      <ol className="steps" aria-label="Progress">
        {steps.map((s) => (
          <li key={s.key} className={`step step--${s.state}`}>
            {s.label}
          </li>
        ))}
      </ol>
      {order && Number(order.filled_qty) > 0 ? (
        <p className="tracker-fill">
          Filled {formatShares(order.filled_qty)} @ {formatPrice(order.filled_avg_price)}
        </p>
      ) : null}
      {reasons.length ? (
        <ul className="reasons" aria-label="Reasons">
          {reasons.map((r, i) => (
            <li key={`${r.code}-${i}`}>
              <code>{r.code}</code> {r.message}
            </li>
          ))}
        </ul>
      ) : null}
      {order?.cancel_outcome ? <p>Cancel: {statusLabel(order.cancel_outcome)}</p> : null}
      {timeline.length ? (
        <ol className="timeline" aria-label="Timeline">
          {timeline.map((e, i) => (
            <li key={`${e.event_type}-${i}`}>
              <time>{formatTime(e.occurred_at)}</time> {e.summary ?? describeEvent(e.event_type)}
            </li>
          ))}
        </ol>
      ) : null}
      {error ? <p className="field-error">{error}</p> : null}
      <p className="tracker-id">order {orderId}</p>
    </article>
  );
}
