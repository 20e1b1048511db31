// The page: the mode banner on top, the ticket on the left, the placed orders' progress, the blotter and the
// positions on the right.
import { useState } from "react";
import { OrderEventsProvider } from "./hooks/orderEvents.jsx";
import { useMode } from "./hooks/useMode.js";
import { Blotter } from "./widgets/Trading/Blotter.jsx";
import { ModeBanner } from "./widgets/Trading/ModeBanner.jsx";
import { OrderTracker } from "./widgets/Trading/OrderTracker.jsx";
import { PositionsPanel } from "./widgets/Trading/PositionsPanel.jsx";
import TradeTicket from "./widgets/Trading/TradeTicket.jsx";

const TRACKED_MAX = 3;

export default function App() {
  const modeState = useMode();
  const [tracked, setTracked] = useState([]); // [{orderId, request}] newest first

  const onOrderPlaced = (orderId, request) =>
    setTracked((prev) => [{ orderId, request }, ...prev.filter((t) => t.orderId !== orderId)].slice(0, TRACKED_MAX));

  return (
    <OrderEventsProvider>
      <div className={`app app--${modeState.status === "ok" ? modeState.mode : "unknown"}`}>
        <ModeBanner status={modeState.status} mode={modeState.mode} broker={modeState.broker} />
        <header className="app-header">
          <h1>tradebus</h1>
        </header>
        <main className="layout">
          <TradeTicket mode={modeState.status === "ok" ? modeState.mode : null} onOrderPlaced={onOrderPlaced} />
          <div className="side">
            <section className="panel" aria-labelledby="status-heading">
              <h2 id="status-heading">Order status</h2>
              {tracked.length === 0 ? <p>Orders you place from this ticket show their progress here.</p> : null}
              {tracked.map((t) => (
                <OrderTracker key={t.orderId} orderId={t.orderId} request={t.request} />
              ))}
            </section>
            <Blotter />
            <PositionsPanel />
          </div>
        </main>
      </div>
    </OrderEventsProvider>
  );
}
