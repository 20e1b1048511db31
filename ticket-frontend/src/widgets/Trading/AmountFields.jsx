import { TextField, bindDecimal } from "./Field.jsx";

/**
 * How much: shares (Quantity, fractional down to 0.001) or dollars (Notional), one at a time. The toggle's
 * own labels avoid the words "Quantity" and "Notional", which name the inputs.
 */
export function AmountFields({ form, update, errorFor, ids }) {
  const notional = form.amountMode === "notional";
  const decimal = bindDecimal({ form, update, errorFor, ids });
  return (
    <div className="amount">
      <fieldset className="toggle">
        <legend>Amount in</legend>
        <label>
          <input type="radio" name="amount-mode" value="qty" checked={!notional} onChange={() => update("amountMode", "qty")} />
          Shares
        </label>
        <label>
          <input type="radio" name="amount-mode" value="notional" checked={notional} onChange={() => update("amountMode", "notional")} />
          Dollars
        </label>
      </fieldset>
      {notional ? (
        <TextField {...decimal("notional")} label="Notional" hint="Dollars; a notional order is a market day order."
          prefix="$" placeholder="100.00" />
      ) : (
        <TextField {...decimal("qty")} label="Quantity" hint="Shares, fractional down to 0.001." placeholder="10" />
      )}
    </div>
  );
}
