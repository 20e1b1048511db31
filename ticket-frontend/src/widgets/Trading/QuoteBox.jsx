import { formatPrice, formatTime } from "../../lib/format.js";

const TICK = { up: ["▲", "up"], down: ["▼", "down"] };

/** One figure of the quote with the way it last moved: an arrow and the word, not the colour alone. */
function Figure({ label, value, tick, testId }) {
  const [arrow, word] = TICK[tick] ?? [];
  return (
    <div className={tick ? `tick--${tick}` : undefined}>
      <dt>{label}</dt>
      <dd data-tick={tick ?? undefined}>
        <span data-testid={testId}>{formatPrice(value)}</span>
        {arrow ? (
          <span className="tick-arrow">
            <span aria-hidden="true"> {arrow}</span>
            <span className="visually-hidden"> ({word})</span>
          </span>
        ) : null}
      </dd>
    </div>
  );
}

/**
 * Bid / ask / last of the symbol on the ticket, read every second, each with the direction of its last move; a
 * stale marker that cannot be missed when the API says the quote is old or the last read failed.
 */
export function QuoteBox({ symbol, quote, ticks = {}, error }) {
  if (!symbol) return <p className="quote quote--empty">Enter a symbol to see its quote.</p>;
  if (!quote) {
    return (
      <p className="quote quote--empty" role={error ? "alert" : undefined}>
        {error ?? `Loading the quote for ${symbol}…`}
      </p>
    );
  }
  return (
    <section className={`quote ${quote.stale ? "quote--stale" : ""}`} aria-label={`Quote for ${quote.symbol ?? symbol}`} data-stale={quote.stale ? "true" : "false"}>
      <dl className="quote-grid">
        <Figure label="Bid" value={quote.bid} tick={ticks.bid} testId="quote-bid" />
        <Figure label="Ask" value={quote.ask} tick={ticks.ask} testId="quote-ask" />
        <Figure label="Last" value={quote.last} tick={ticks.last} testId="quote-last" />
      </dl>
      <p className="quote-meta">
        {quote.stale ? <strong className="stale-badge">STALE</strong> : null} as of {formatTime(quote.timestamp)}
        {error ? ` — ${error}` : quote.stale ? " — older than the API accepts as live" : ""}
      </p>
    </section>
  );
}
