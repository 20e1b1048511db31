// Recent orders (GET /api/orders), refreshed on every order event and every few seconds; open orders can be
// canceled from here. A cancel is only a request: the outcome (canceled, or too late: filled) arrives as events.
import { useRef, useState } from "react";
import { cancelOrder, listOrders } from "../../api.js";
import { useOrderEvents } from "../../hooks/orderEvents.jsx";
import { usePolling } from "../../hooks/usePolling.js";
import { formatMoney, formatPrice, formatQty, formatTime, sideLabel, statusLabel, typeLabel } from "../../lib/format.js";
import { DataTable } from "./Display.jsx";
import { isFinal } from "../../lib/orderStatus.js";
import { ORDER_EVENT_TYPES } from "../../lib/vocabulary.generated.js";

const ORDER_EVENTS = new Set(ORDER_EVENT_TYPES);
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

export function Blotter({ refreshMs = 5000 }) {
  const [filter, setFilter] = useState("all");
  const [orders, setOrders] = useState(null);
  const [error, setError] = useState(null);
  const [cancels, setCancels] = useState({}); // order_id -> "sending" | "requested" | error message
  const pendingLoad = useRef(null);

  const load = async () => {
    try {
      const list = await listOrders(filter);
      setOrders(list.orders);
      setError(null);
    } catch (err) {
      setError(err.message);
    }
  };
  usePolling(load, refreshMs, true, [filter]);
  useOrderEvents(({ type }) => {
    if (!ORDER_EVENTS.has(type)) return;
    clearTimeout(pendingLoad.current); // a burst of events is one refresh
    pendingLoad.current = setTimeout(load, 300);
  });

  const onCancel = async (orderId) => {
    setCancels((prev) => ({ ...prev, [orderId]: "sending" }));
    try {
      await cancelOrder(orderId);
      setCancels((prev) => ({ ...prev, [orderId]: "requested" }));
      load();
    } catch (err) {
      setCancels((prev) => ({ ...prev, [orderId]: `Cancel failed: ${err.message}` }));
    }
  };

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
      {orders !== null && rows.length === 0 ? <p>No orders yet.</p> : null}
      {rows.length ? (
        <DataTable columns={ORDER_COLUMNS}>
          {rows.map((o) => {
            const cancel = cancels[o.order_id];
            const open = !isFinal(o.status);
            return (
              <tr key={o.order_id} data-order-id={o.order_id} data-status={o.status}>
                <td>{formatTime(o.created_at)}</td>
                <td>{o.symbol}</td>
                <td className={`side--${o.side}`}>{sideLabel(o.side)}</td>
                <td>{typeLabel(o.type)}</td>
                <td className="num">{o.notional ? formatMoney(o.notional) : formatQty(o.qty)}</td>
                <td className="num">{o.limit_price ? formatPrice(o.limit_price) : ""}</td>
                <td className="num">{o.stop_price ? formatPrice(o.stop_price) : ""}</td>
                <td>{o.time_in_force}</td>
                <td>
                  <span className={`status-pill status--${o.status}`}>{statusLabel(o.status)}</span>
                  {o.reject_reasons?.length ? (
                    <span className="row-reasons">{o.reject_reasons.map((r) => r.message).join("; ")}</span>
                  ) : null}
                </td>
                <td className="num">{formatQty(o.filled_qty)}</td>
                <td className="num">{o.filled_avg_price ? formatPrice(o.filled_avg_price) : ""}</td>
                <td>
                  {open ? (
                    <button type="button" className="small" onClick={() => onCancel(o.order_id)} disabled={cancel === "sending" || cancel === "requested"}>
                      Cancel
                    </button>
                  ) : null}
                  {cancel === "requested" && open ? <span className="row-note">cancel requested</span> : null}
                  {cancel && cancel !== "sending" && cancel !== "requested" ? <span className="field-error">{cancel}</span> : null}
                </td>
              </tr>
            );
          })}
        </DataTable>
      ) : null}
    </section>
  );
}
