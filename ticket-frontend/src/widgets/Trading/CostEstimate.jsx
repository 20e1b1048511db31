import { basisLabel } from "../../lib/orderRules.js";
import { formatMoney } from "../../lib/format.js";
import { Figures } from "./Display.jsx";

/**
 * The estimate to show: the API's preview when it has answered for the order as typed (it is the authority),
 * else the instant client-side estimate.
 */
export function effectiveEstimate(clientEstimate, preview) {
  const data = preview?.data;
  if (data && data.estimated_cost !== null && data.estimated_cost !== undefined) {
    return { cost: data.estimated_cost, basis: data.price_basis ?? clientEstimate.basis, source: "server" };
  }
  return { cost: clientEstimate.cost, basis: clientEstimate.basis, source: "client" };
}

/** Estimated cost with its price basis, buying power before and after, and the preview's warnings. */
export function CostEstimate({ clientEstimate, preview, hasClientErrors, waitingForQuote }) {
  const est = effectiveEstimate(clientEstimate, preview);
  const data = preview?.data;
  const generalErrors = preview?.fieldErrors?._;
  let note = null;
  if (hasClientErrors) note = "Complete the order to check it with the server.";
  else if (preview?.pending) note = "Checking with the server…";
  else if (preview?.error && !data) note = `The server could not check this order: ${preview.error}`;
  else if (est.source === "server") note = "Checked by the server.";
  return (
    <section className="cost" aria-labelledby="cost-heading" aria-live="polite">
      <h3 id="cost-heading">Estimated cost</h3>
      <p className="cost-amount">
        <span data-testid="estimated-cost">{formatMoney(est.cost)}</span>{" "}
        {est.cost !== null && est.cost !== undefined ? (
          <span className="cost-basis" data-testid="price-basis">
            {basisLabel(est.basis)}
          </span>
        ) : (
          <span className="cost-basis">{(est.basis === "ask" || est.basis === "bid") && waitingForQuote ? "waiting for a quote" : ""}</span>
        )}
      </p>
      {data ? (
        <Figures
          className="cost-bp"
          items={[
            { label: "Buying power", value: formatMoney(data.buying_power) },
            { label: "Buying power after", value: formatMoney(data.buying_power_after), testId: "buying-power-after" },
          ]}
        />
      ) : null}
      {data?.warnings?.length ? (
        <ul className="warnings" aria-label="Warnings">
          {data.warnings.map((w) => (
            <li key={`${w.code}:${w.message}`}>⚠ {w.message}</li>
          ))}
        </ul>
      ) : null}
      {generalErrors ? <p className="field-error">{generalErrors}</p> : null}
      {note ? <p className="cost-note">{note}</p> : null}
    </section>
  );
}
