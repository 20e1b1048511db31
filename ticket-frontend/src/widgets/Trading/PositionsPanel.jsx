// Positions from the ledger (GET /api/positions: position-sync-service's FIFO cost basis — per share as "Avg cost",
// in total as "Cost basis" — and P&L, rounded by the API) with account totals, and the account: which one (paper or live, at which broker) and the broker's buying
// power, equity and cash ("—" with the reason until the broker's account has been read). Refreshed on every fill
// and position event from /api/events (debounced: a burst is one request) and by polling, so a missed event costs
// seconds.
// When position-sync does not answer the API says so (503): the panel shows that, never an empty "flat" table, and
// keeps the last ledger it had, dimmed and dated.
import { useRef, useState } from "react";
import { getPositions } from "../../api.js";
import { useOrderEvents } from "../../hooks/orderEvents.jsx";
import { usePolling } from "../../hooks/usePolling.js";
import { formatMoney, formatPnl, formatPrice, formatQty, formatTime, isZeroOrNone } from "../../lib/format.js";
import { EventType } from "../../lib/vocabulary.generated.js";
import { DataTable, Figures } from "./Display.jsx";

const POSITION_COLUMNS = [
  { label: "Symbol" },
  { label: "Qty", num: true },
  { label: "Avg cost", num: true },
  { label: "Last", num: true },
  { label: "Cost basis", num: true },
  { label: "Market value", num: true },
  { label: "Unrealized P&L", num: true },
  { label: "Realized P&L", num: true },
  { label: "Today's P&L", num: true },
];
// what moves a position: a fill, and whatever position-sync publishes on positions.>
const POSITION_EVENTS = new Set([
  EventType.FillReported,
  EventType.PositionSnapshot,
  EventType.PositionDrift,
  EventType.PositionReconciled,
  EventType.CorporateActionApplied,
]);
const EVENT_DEBOUNCE_MS = 500;
const NO_ACCOUNT = "The broker's account has not been read yet: the order gateway publishes it once it has asked the broker.";
const UNREAD_ACCOUNT = "The account comes with the positions, which could not be read.";
const BROKERS = { simulator: "alpaca-sim (simulator)", alpaca: "Alpaca" };
const DRIFT_TITLE = "The ledger and the broker disagree on this position (PositionDrift); a sync reconciles it.";

/** A P&L figure: signed text, green up / red down (`.pnl--up`, `.pnl--down`), "—" without a price. */
function PnlText({ value }) {
  const { text, direction } = formatPnl(value);
  return <span className={`pnl pnl--${direction}`}>{text}</span>;
}

function Pnl({ value, testId }) {
  return (
    <td className="num" data-testid={testId}>
      <PnlText value={value} />
    </td>
  );
}

function PositionRow({ p }) {
  return (
    <tr data-symbol={p.symbol}>
      <th scope="row">
        {p.symbol}
        {p.drift ? (
          <span className="drift-badge" title={DRIFT_TITLE}>
            drift
          </span>
        ) : null}
      </th>
      <td className="num">{formatQty(p.qty)}</td>
      <td className="num">{formatPrice(p.avg_cost)}</td>
      <td className="num">{formatPrice(p.last)}</td>
      <td className="num">{formatMoney(p.cost_basis)}</td>
      <td className="num">{formatMoney(p.market_value)}</td>
      <Pnl value={p.unrealized_pl} />
      <Pnl value={p.realized_pl} />
      <Pnl value={p.day_pl} />
    </tr>
  );
}

function TotalsRow({ totals }) {
  return (
    <tr className="totals">
      <th scope="row" colSpan={4}>
        Total
      </th>
      <td className="num" data-testid="total-cost-basis">
        {formatMoney(totals.cost_basis)}
      </td>
      <td className="num" data-testid="total-market-value">
        {formatMoney(totals.market_value)}
      </td>
      <Pnl value={totals.unrealized_pl} testId="total-unrealized" />
      <Pnl value={totals.realized_pl} testId="total-realized" />
      <Pnl value={totals.day_pl} testId="total-day" />
    </tr>
  );
}

/** Which account this is (the mode and the broker, from /api/mode) and its figures as the broker last gave them. */
function Account({ account, mode, why }) {
  const known = mode?.status === "ok";
  const identity = known ? `${mode.mode === "live" ? "Live" : "Paper"} account at ${BROKERS[mode.broker] ?? mode.broker}` : "Account: trading mode unknown";
  const missing = why ?? "Loading the account…";
  const figure = (value) => (account ? formatMoney(value) : <span title={missing}>—</span>);
  return (
    <div className="account" role="group" aria-labelledby="account-heading">
      <h3 id="account-heading" data-testid="account-identity">
        {identity}
      </h3>
      <Figures
        className="account-figures"
        items={[
          { label: "Buying power", value: figure(account?.buying_power), testId: "account-buying-power" },
          { label: "Equity", value: figure(account?.equity), testId: "account-equity" },
          { label: "Cash", value: figure(account?.cash), testId: "account-cash" },
        ]}
      />
      <p className="positions-meta" data-testid="account-as-of">
        {account ? `Account as of ${formatTime(account.as_of)}` : missing}
      </p>
    </div>
  );
}

function LedgerNote({ data }) {
  const dividends = data.totals.dividends;
  return (
    <p className="positions-meta">
      Ledger as of {formatTime(data.as_of)}
      {data.last_sync_at ? ` · synced with the broker ${formatTime(data.last_sync_at)}` : ""}
      {isZeroOrNone(dividends) ? "" : ` · dividends ${formatMoney(dividends)}`}
      {data.last_sync_ok === false ? (
        <span className="sync-failed"> · the last sync could not read the broker</span>
      ) : null}
    </p>
  );
}

export function PositionsPanel({ mode = null, refreshMs = 10000 }) {
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
    clearTimeout(pendingLoad.current); // a burst of events is one refresh
    pendingLoad.current = setTimeout(load, EVENT_DEBOUNCE_MS);
  });

  const positions = data?.positions ?? [];
  const stale = Boolean(error && data);
  return (
    <section className={`panel positions${stale ? " positions--stale" : ""}`} aria-labelledby="positions-heading">
      <h2 id="positions-heading">Positions</h2>
      {error ? (
        <p className="field-error" role="alert">
          {sentence(error)}
          {stale ? ` Showing the ledger as of ${formatTime(data.as_of)}.` : ""}
        </p>
      ) : null}
      <Account account={data?.account ?? null} mode={mode} why={data ? NO_ACCOUNT : (error ? UNREAD_ACCOUNT : null)} />
      {data && positions.length === 0 ? (
        <p>
          No open positions.
          {isZeroOrNone(data.totals.realized_pl) ? null : (
            <>
              {" "}
              Realized P&amp;L <PnlText value={data.totals.realized_pl} />
            </>
          )}
        </p>
      ) : null}
      {positions.length ? (
        <DataTable label="Positions" columns={POSITION_COLUMNS} footer={<TotalsRow totals={data.totals} />}>
          {positions.map((p) => (
            <PositionRow key={p.symbol} p={p} />
          ))}
        </DataTable>
      ) : null}
      {data ? <LedgerNote data={data} /> : null}
    </section>
  );
}

/** The API's message as a sentence: "Positions are unavailable: … answer." */
function sentence(message) {
  const text = String(message);
  const capitalised = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}
