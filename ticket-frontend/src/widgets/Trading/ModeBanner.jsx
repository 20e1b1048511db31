// The trading mode, at the top of every view. PAPER is loud; LIVE is red and says real money; an unknown mode
// is a warning, and the ticket refuses to submit until the mode is known.

export function ModeBanner({ status, mode, broker }) {
  if (status === "loading") {
    return (
      <div className="mode-banner mode-banner--unknown" role="status">
        Checking the trading mode… orders cannot be sent until it is known.
      </div>
    );
  }
  if (status !== "ok") {
    return (
      <div className="mode-banner mode-banner--unknown" role="alert">
        ⚠ TRADING MODE UNKNOWN — the ticket API did not say whether this is paper or live trading. Order submission
        is disabled.
      </div>
    );
  }
  if (mode === "live") {
    return (
      <div className="mode-banner mode-banner--live" role="status" data-mode="live">
        <strong className="mode-banner-title">LIVE TRADING — REAL MONEY</strong>
        <span className="mode-banner-sub">Orders go to {broker === "alpaca" ? "Alpaca" : broker} and trade real funds.</span>
      </div>
    );
  }
  return (
    <div className="mode-banner mode-banner--paper" role="status" data-mode="paper">
      <strong className="mode-banner-title">PAPER TRADING</strong>
      <span className="mode-banner-sub">
        Simulated orders, no real money{broker === "simulator" ? " (alpaca-sim broker)" : broker ? " (Alpaca paper)" : ""}.
      </span>
    </div>
  );
}
