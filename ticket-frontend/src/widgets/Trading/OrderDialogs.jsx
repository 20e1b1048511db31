// The blotter's two dialogs: an order's full timeline (GET /api/orders/{id}, through the page's order store, so it
// says what the card and the row say), and the one question before a cancel.
import { useRef } from "react";
import { useOrder } from "../../hooks/orderStore.jsx";
import { formatTime, orderAction, orderTerms, tifLabel } from "../../lib/format.js";
import { Figures } from "./Display.jsx";
import { Modal } from "./Modal.jsx";
import { OrderProgressView, StatusPill, orderHeadline } from "./OrderParts.jsx";

export function TimelineDialog({ orderId, returnFocus, onClose }) {
  const { order, timeline, error } = useOrder(orderId);
  const closeRef = useRef(null);
  return (
    <Modal className="dialog--timeline" labelledBy="timeline-title" initialFocus={closeRef} returnFocus={returnFocus} onClose={onClose}>
      <div className="tracker-head">
        <h2 id="timeline-title">{order ? orderHeadline(order) : "Order"}</h2>
        {order ? <StatusPill status={order.status} /> : null}
      </div>
      {order ? (
        <Figures
          className="dialog-details"
          items={[
            { label: "Placed", value: formatTime(order.created_at) },
            { label: "Last change", value: formatTime(order.updated_at) },
            { label: "Time in force", value: tifLabel(order.time_in_force) },
            { label: "Order", value: order.order_id, testId: "timeline-order-id" },
          ]}
        />
      ) : (
        <p>{error ?? "Loading the order's timeline…"}</p>
      )}
      {order ? <OrderProgressView order={order} timeline={timeline} error={error} /> : null}
      <div className="dialog-actions">
        <button type="button" ref={closeRef} onClick={onClose}>
          Close
        </button>
      </div>
    </Modal>
  );
}

/**
 * "Cancel Buy 1 AAPL · Limit $180.00?" — asked once. Focus starts on "No, keep it" (Enter there keeps the order);
 * while the request is on its way both buttons are off, so a double click sends one cancel.
 */
export function CancelDialog({ order, sending, returnFocus, onYes, onNo }) {
  const noRef = useRef(null);
  return (
    <Modal className="dialog--cancel" labelledBy="cancel-title" describedBy="cancel-what" initialFocus={noRef} returnFocus={returnFocus} busy={sending} onClose={onNo}>
      <h2 id="cancel-title">Cancel this order?</h2>
      <p id="cancel-what">
        {orderAction(order)} · {orderTerms(order)}, placed {formatTime(order.created_at)}. A cancel is a request: the
        order may still fill before the broker cancels it.
      </p>
      <div className="dialog-actions">
        <button type="button" ref={noRef} onClick={onNo} disabled={sending}>
          No, keep it
        </button>
        <button type="button" className="primary danger" onClick={onYes} disabled={sending}>
          {sending ? "Cancelling…" : "Yes, cancel it"}
        </button>
      </div>
    </Modal>
  );
}
