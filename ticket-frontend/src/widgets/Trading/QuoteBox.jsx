import { formatPrice, formatTime } from "../../lib/format.js";

/** Bid / ask / last of the symbol on the ticket, with a stale marker that cannot be missed. */
export function QuoteBox({ symbol, quote, error }) {
  if (!symbol) return <p className="quote quote--empty">Enter a symbol to see its quote.</p>;
  if (!quote) {
    return (
      <p className="quote quote--empty" role={error ? "alert" : undefined}>
        {error ?? `Loading the quote for ${symbol}…`}
      </p>
    );
  }
  return (
    <div className={`quote ${quote.stale ? "quote--stale" : ""}`} aria-label={`Quote for ${quote.symbol ?? symbol}`}>
      <dl className="quote-grid">
        <div>
          <dt>Bid</dt>
          <dd data-testid="quote-bid">{formatPrice(quote.bid)}</dd>
        </div>
        <div>
          <dt>Ask</dt>
          <dd data-testid="quote-ask">{formatPrice(quote.ask)}</dd>
        </div>
        <div>
          <dt>Last</dt>
          <dd data-testid="quote-last">{formatPrice(quote.last)}</dd>
        </div>
      </dl>
      <p className="quote-meta">
        {quote.stale ? <strong className="stale-badge">STALE</strong> : null} as of {formatTime(quote.timestamp)}
        {error ? ` — ${error}` : ""}
      </p>
    </div>
  );
}
