// Recent orders (GET /api/orders) from the page's order store (hooks/orderStore.jsx), the one the "Order status"
// cards read: a row and its card always say the same. A row opens the order's full timeline; an open order can be
// canceled, after one question. A cancel is only a request: the outcome (canceled, or too late: filled) arrives as
// events.
import { useRef, useState } from "react";
import { cancelOrder } from "../../api.js";
import { useOrderList } from "../../hooks/orderStore.jsx";
import { formatMoney, formatPrice, formatQty, formatTime, sideLabel, tifLabel, typeLabel } from "../../lib/format.js";
import { isFinal } from "../../lib/orderStatus.js";
import { DataTable } from "./Display.jsx";
import { CancelDialog, TimelineDialog } from "./OrderDialogs.jsx";
import { StatusPill } from "./OrderParts.jsx";

const MAX_ROWS = 50;

const ORDER_COLUMNS = [
  { label: "Time" },
  { label: "Symbol" },
  { label: "Side" },
  { label: "Type" },
  { label: "Amount", num: true },
  { label: "Limit", num: true },
  { label: "Stop", num: true },
  { label: "TIF" },
  { label: "Status" },
  { label: "Filled", num: true },
  { label: "Avg price", num: true },
  { label: "Action", hidden: true },
];

const FILTER_EMPTY = { all: "No orders yet.", open: "No open orders.", closed: "No closed orders yet." };

/** One cancel at a time: asked once, sent once (a double click on "Yes" is one request). */
function useCancel() {
  const [asking, setAsking] = useState(null); // {order, returnFocus}
  const [sending, setSending] = useState(false);
  const [outcomes, setOutcomes] = useState({}); // order_id -> "requested" | error message
  const inFlight = useRef(false);

  const confirm = async () => {
    if (inFlight.current || !asking) return;
    inFlight.current = true;
    setSending(true);
    const orderId = asking.order.order_id;
    try {
      await cancelOrder(orderId);
      setOutcomes((prev) => ({ ...prev, [orderId]: "requested" }));
    } catch (err) {
      setOutcomes((prev) => ({ ...prev, [orderId]: `Cancel failed: ${err.message}` }));
    } finally {
      inFlight.current = false;
      setSending(false);
      setAsking(null);
    }
  };
  return { asking, sending, outcomes, ask: setAsking, confirm, dismiss: () => setAsking(null) };
}

function OrderRow({ order: o, outcome, onOpen, onCancel }) {
  const open = !isFinal(o.status);
  // requested and not answered yet; a refused cancel (not cancelable now) lets the person ask again
  const waiting = outcome === "requested" && !o.cancel_outcome;
  const openButton = (row) => ({ current: row.querySelector("button.row-open") });
  return (
    <tr
      data-order-id={o.order_id}
      data-status={o.status}
      className="order-row"
      // the whole row opens the timeline for a pointer; the symbol's button is the way in for a keyboard
      onClick={(e) => (e.target.closest("button, select, a") ? null : onOpen(o.order_id, openButton(e.currentTarget)))}
    >
      <td>{formatTime(o.created_at)}</td>
      <td>
        <button
          type="button"
          className="link-button row-open"
          aria-label={`${o.symbol} order at ${formatTime(o.created_at)}: show its timeline`}
          onClick={(e) => onOpen(o.order_id, { current: e.currentTarget })}
        >
          {o.symbol}
        </button>
      </td>
      <td className={`side--${o.side}`}>{sideLabel(o.side)}</td>
      <td>{typeLabel(o.type)}</td>
      <td className="num">{o.notional ? formatMoney(o.notional) : formatQty(o.qty)}</td>
      <td className="num">{o.limit_price ? formatPrice(o.limit_price) : ""}</td>
      <td className="num">{o.stop_price ? formatPrice(o.stop_price) : ""}</td>
      <td>{tifLabel(o.time_in_force)}</td>
      <td>
        <StatusPill status={o.status} />
        {o.reject_reasons?.length ? (
          <span className="row-reasons">{o.reject_reasons.map((r) => r.message).join("; ")}</span>
        ) : null}
      </td>
      <td className="num">{formatQty(o.filled_qty)}</td>
      <td className="num">{o.filled_avg_price ? formatPrice(o.filled_avg_price) : ""}</td>
      <td>
        {open ? (
          <button type="button" className="small" onClick={(e) => onCancel(o, e.currentTarget)} disabled={waiting}>
            Cancel
          </button>
        ) : null}
        {waiting && open ? <span className="row-note">cancel requested</span> : null}
        {outcome && outcome !== "requested" ? <span className="field-error">{outcome}</span> : null}
      </td>
    </tr>
  );
}

export function Blotter({ refreshMs = 5000 }) {
  const [filter, setFilter] = useState("all");
  const { orders, error } = useOrderList(filter, refreshMs);
  const [timeline, setTimeline] = useState(null); // {orderId, returnFocus}
  const cancel = useCancel();

  const rows = (orders ?? []).slice(0, MAX_ROWS);
  return (
    <section className="panel blotter" aria-labelledby="blotter-heading">
      <div className="panel-head">
        <h2 id="blotter-heading">Orders</h2>
        <label className="inline">
          Show{" "}
          <select value={filter} onChange={(e) => setFilter(e.target.value)}>
            <option value="all">all</option>
            <option value="open">open</option>
            <option value="closed">closed</option>
          </select>
        </label>
      </div>
      {error ? <p className="field-error">Orders could not be loaded: {error}</p> : null}
      {orders === null && !error ? <p>Loading orders…</p> : null}
      {orders !== null && rows.length === 0 ? <p>{FILTER_EMPTY[filter]}</p> : null}
      {rows.length ? (
        <DataTable label="Orders" columns={ORDER_COLUMNS}>
          {rows.map((o) => (
            <OrderRow
              key={o.order_id}
              order={o}
              outcome={cancel.outcomes[o.order_id]}
              onOpen={(orderId, returnFocus) => setTimeline({ orderId, returnFocus })}
              onCancel={(order, button) => cancel.ask({ order, returnFocus: { current: button } })}
            />
          ))}
        </DataTable>
      ) : null}
      {timeline ? (
        <TimelineDialog orderId={timeline.orderId} returnFocus={timeline.returnFocus} onClose={() => setTimeline(null)} />
      ) : null}
      {cancel.asking ? (
        <CancelDialog
          order={cancel.asking.order}
          sending={cancel.sending}
          returnFocus={cancel.asking.returnFocus}
          onYes={cancel.confirm}
          onNo={cancel.dismiss}
        />
      ) : null}
    </section>
  );
}
