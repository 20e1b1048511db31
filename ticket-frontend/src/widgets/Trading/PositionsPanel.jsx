// Positions and the account (GET /api/positions), refreshed periodically and whenever a fill or a position
// event arrives.
import { useRef, useState } from "react";
import { getPositions } from "../../api.js";
import { useOrderEvents } from "../../hooks/orderEvents.jsx";
import { usePolling } from "../../hooks/usePolling.js";
import { formatMoney, formatPrice, formatQty, formatTime } from "../../lib/format.js";

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
        <dl className="account">
          <div>
            <dt>Buying power</dt>
            <dd>{formatMoney(account.buying_power)}</dd>
          </div>
          <div>
            <dt>Equity</dt>
            <dd>{formatMoney(account.equity)}</dd>
          </div>
          <div>
            <dt>Cash</dt>
            <dd>{formatMoney(account.cash)}</dd>
          </div>
        </dl>
      ) : null}
      {data && positions.length === 0 ? <p>No open positions.</p> : null}
      {positions.length ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Symbol</th>
                <th scope="col" className="num">Qty</th>
                <th scope="col" className="num">Avg entry</th>
                <th scope="col" className="num">Market value</th>
                <th scope="col">As of</th>
              </tr>
            </thead>
            <tbody>
              {positions.map((p) => (
                <tr key={p.symbol}>
                  <td>{p.symbol}</td>
                  <td className="num">{formatQty(p.qty)}</td>
                  <td className="num">{formatPrice(p.avg_entry_price)}</td>
                  <td className="num">{formatMoney(p.market_value)}</td>
                  <td>{formatTime(p.as_of)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
