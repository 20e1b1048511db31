// One order's progress as it happens: requested → approved or rejected (with the reasons) → submitted →
// partially filled → filled / canceled. The order comes from the page's order store (hooks/orderStore.jsx), the
// same one the blotter reads, so the card and the blotter always say the same; the status is the API's, and the
// events seen live show on the timeline at once.
import { useOrder } from "../../hooks/orderStore.jsx";
import { OrderProgress } from "../../lib/vocabulary.generated.js";
import { OrderProgressView, StatusPill, orderHeadline } from "./OrderParts.jsx";

export function OrderTracker({ orderId, request }) {
  const { order, timeline, error } = useOrder(orderId);
  return (
    <article className="tracker" aria-label={`Order ${orderId}`} data-order-id={orderId}>
      <header className="tracker-head">
        <strong>{orderHeadline(order, request)}</strong>
        <StatusPill status={order?.status ?? OrderProgress.REQUESTED} live />
      </header>
      <OrderProgressView order={order} timeline={timeline} error={error} />
      <p className="tracker-id">order {orderId}</p>
    </article>
  );
}
