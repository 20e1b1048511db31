// The page: the mode banner on top with the market and trading state under it, the ticket on the left, the placed
// orders' progress, the blotter and the account with its positions on the right. The cards and the blotter read
// one order store (hooks/orderStore.jsx).
import { useState } from "react";
import { OrderEventsProvider } from "./hooks/orderEvents.jsx";
import { OrderStoreProvider } from "./hooks/orderStore.jsx";
import { useMode } from "./hooks/useMode.js";
import { useStatus } from "./hooks/useStatus.js";
import { Blotter } from "./widgets/Trading/Blotter.jsx";
import { ModeBanner } from "./widgets/Trading/ModeBanner.jsx";
import { OrderTracker } from "./widgets/Trading/OrderTracker.jsx";
import { PositionsPanel } from "./widgets/Trading/PositionsPanel.jsx";
import { StatusBar } from "./widgets/Trading/StatusBar.jsx";
import TradeTicket from "./widgets/Trading/TradeTicket.jsx";

const TRACKED_MAX = 3;

export default function App() {
  return (
    <OrderEventsProvider>
      <OrderStoreProvider>
        <Page />
      </OrderStoreProvider>
    </OrderEventsProvider>
  );
}

function Page() {
  const modeState = useMode();
  const status = useStatus(); // under the provider: it follows TradingStateChanged on the page's one EventSource
  const [tracked, setTracked] = useState([]); // [{orderId, request}] newest first

  const onOrderPlaced = (orderId, request) =>
    setTracked((prev) => [{ orderId, request }, ...prev.filter((t) => t.orderId !== orderId)].slice(0, TRACKED_MAX));

  return (
    <div className={`app app--${modeState.status === "ok" ? modeState.mode : "unknown"}`}>
      <ModeBanner status={modeState.status} mode={modeState.mode} broker={modeState.broker} />
      <StatusBar status={status} />
      <header className="app-header">
        <h1>tradebus</h1>
      </header>
      <main className="layout">
        <TradeTicket
          mode={modeState.status === "ok" ? modeState.mode : null}
          trading={status.trading}
          onOrderPlaced={onOrderPlaced}
        />
        <div className="side">
          <section className="panel" aria-labelledby="status-heading">
            <h2 id="status-heading">Order status</h2>
            {tracked.length === 0 ? <p>Orders you place from this ticket show their progress here.</p> : null}
            {tracked.map((t) => (
              <OrderTracker key={t.orderId} orderId={t.orderId} request={t.request} />
            ))}
          </section>
          <Blotter />
          <PositionsPanel mode={modeState} />
        </div>
      </main>
    </div>
  );
}
