// Under the mode banner: whether the market is open (the broker's clock, with the next open or close) and the
// trading state (ACTIVE / REDUCING / HALTED with the operator's reason), live. A halt is an alert: it is the one
// thing on the page that says why nothing can be sent. A named region: every part of the page is in a landmark.
import { formatMarketTime } from "../../lib/format.js";
import { TradingState } from "../../lib/vocabulary.generated.js";

function Market({ market, loaded }) {
  if (!market) {
    return (
      <p className="status-item status-item--unknown" data-testid="market-clock">
        Market: {loaded ? "clock not read from the broker yet" : "checking…"}
      </p>
    );
  }
  return (
    <p className={`status-item market--${market.is_open ? "open" : "closed"}`} data-testid="market-clock">
      <strong>Market {market.is_open ? "open" : "closed"}</strong>{" "}
      <span>
        {market.is_open ? `closes ${formatMarketTime(market.next_close)}` : `opens ${formatMarketTime(market.next_open)}`}
      </span>
    </p>
  );
}

const STATE_TEXT = {
  [TradingState.ACTIVE]: { title: "Trading ACTIVE", detail: null },
  [TradingState.REDUCING]: { title: "Trading REDUCING", detail: "only orders that reduce a position pass" },
  [TradingState.HALTED]: { title: "TRADING HALTED", detail: "no order can be sent" },
};

function Trading({ trading, loaded, error }) {
  const state = trading?.state ?? null;
  const text = STATE_TEXT[state];
  if (!text) {
    const why = trading?.reason ?? error ?? (loaded ? null : "checking…");
    return (
      <p className="status-item trading--unknown" data-testid="trading-state" data-state="unknown">
        <strong>Trading state unknown</strong>
        {why ? <span> — {why}</span> : null}
      </p>
    );
  }
  return (
    <p
      className={`status-item trading--${state}`}
      data-testid="trading-state"
      data-state={state}
      role={state === TradingState.HALTED ? "alert" : undefined}
    >
      <strong>{text.title}</strong>
      {text.detail ? <span> — {text.detail}</span> : null}
      {trading.reason && state !== TradingState.ACTIVE ? <span className="trading-reason">: {trading.reason}</span> : null}
    </p>
  );
}

export function StatusBar({ status }) {
  return (
    <section className="status-bar" aria-label="Market and trading state">
      <Market market={status.market} loaded={status.loaded} />
      <Trading trading={status.trading} loaded={status.loaded} error={status.error} />
    </section>
  );
}
