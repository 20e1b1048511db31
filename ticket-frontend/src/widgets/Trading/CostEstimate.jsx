import { basisLabel, sellBuyingPowerNote } from "../../lib/orderRules.js";
import { formatMoney } from "../../lib/format.js";
import { previewReasons } from "../../lib/tradingState.js";
import { OrderSide } from "../../lib/vocabulary.generated.js";
import { Figures } from "./Display.jsx";
import { Reasons } from "./Reasons.jsx";

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

/**
 * Estimated cost (proceeds, for a sell) with its price basis, buying power before and after, and the preview's
 * reasons that are not about one field (those show next to their field) as a list with their codes.
 */
export function CostEstimate({ side, clientEstimate, preview, hasClientErrors, waitingForQuote }) {
  const est = effectiveEstimate(clientEstimate, preview);
  const data = preview?.data;
  const generalErrors = preview?.fieldErrors?._;
  const reasons = previewReasons(data).filter((r) => !r.field);
  const heading = side === OrderSide.SELL ? "Estimated proceeds" : "Estimated cost";
  let note = null;
  if (hasClientErrors) note = "Complete the order to check it with the server.";
  else if (preview?.pending) note = "Checking with the server…";
  else if (preview?.error && !data) note = `The server could not check this order: ${preview.error}`;
  else if (est.source === "server") note = "Checked by the server.";
  return (
    <section className="cost" aria-labelledby="cost-heading" aria-live="polite">
      <h3 id="cost-heading">{heading}</h3>
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
      {sellBuyingPowerNote(side, data) ? (
        <p className="cost-note" data-testid="sell-buying-power-note">{sellBuyingPowerNote(side, data)}</p>
      ) : null}
      {reasons.length ? (
        <Reasons
          reasons={reasons}
          title={data.approvable ? "Notes from the server" : "The server would refuse this order"}
          blocking={!data.approvable}
        />
      ) : null}
      {generalErrors && !data ? <p className="field-error">{generalErrors}</p> : null}
      {note ? <p className="cost-note">{note}</p> : null}
    </section>
  );
}
