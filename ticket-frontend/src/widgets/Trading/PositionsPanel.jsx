// Positions and the account (GET /api/positions), refreshed periodically and whenever a fill or a position
// event arrives.
import { useRef, useState } from "react";
import { getPositions } from "../../api.js";
import { useOrderEvents } from "../../hooks/orderEvents.jsx";
import { usePolling } from "../../hooks/usePolling.js";
import { formatMoney, formatPrice, formatQty, formatTime } from "../../lib/format.js";
import { DataTable, Figures } from "./Display.jsx";

const POSITION_COLUMNS = [
  { label: "Symbol" },
  { label: "Qty", num: true },
  { label: "Avg entry", num: true },
  { label: "Market value", num: true },
  { label: "As of" },
];
const POSITION_EVENTS = new Set(["FillReported", "PositionSnapshot", "PositionReconciled", "CorporateActionApplied"]);

export function PositionsPanel({ refreshMs = 10000 }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const pendingLoad = useRef(null);

  const load = async () => {
    try {
      setData(await getPositions());
      setError(null);
    } catch (err) {
      setError(err.message);
    }
  };
  usePolling(load, refreshMs);
  useOrderEvents(({ type }) => {
    if (!POSITION_EVENTS.has(type)) return;
    clearTimeout(pendingLoad.current);
    pendingLoad.current = setTimeout(load, 500);
  });

  const positions = data?.positions ?? [];
  const account = data?.account;
  return (
    <section className="panel positions" aria-labelledby="positions-heading">
      <h2 id="positions-heading">Positions</h2>
      {error ? <p className="field-error">Positions could not be loaded: {error}</p> : null}
      {account ? (
        <Figures
          className="account"
          items={[
            { label: "Buying power", value: formatMoney(account.buying_power) },
            { label: "Equity", value: formatMoney(account.equity) },
            { label: "Cash", value: formatMoney(account.cash) },
          ]}
        />
      ) : null}
      {data && positions.length === 0 ? <p>No open positions.</p> : null}
      {positions.length ? (
        <DataTable columns={POSITION_COLUMNS}>
          {positions.map((p) => (
            <tr key={p.symbol}>
              <td>{p.symbol}</td>
              <td className="num">{formatQty(p.qty)}</td>
              <td className="num">{formatPrice(p.avg_entry_price)}</td>
              <td className="num">{formatMoney(p.market_value)}</td>
              <td>{formatTime(p.as_of)}</td>
            </tr>
          ))}
        </DataTable>
      ) : null}
    </section>
  );
}
