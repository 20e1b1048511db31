import { TextField } from "./Field.jsx";

/**
 * How much: shares (Quantity, fractional down to 0.001) or dollars (Notional), one at a time. The toggle's
 * own labels avoid the words "Quantity" and "Notional", which name the inputs.
 */
export function AmountFields({ form, update, errorFor, ids }) {
  const notional = form.amountMode === "notional";
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
        <TextField
          id={ids.notional}
          label="Notional"
          value={form.notional}
          onChange={(v) => update("notional", v)}
          error={errorFor("notional")}
          hint="Dollars; a notional order is a market day order."
          prefix="$"
          inputMode="decimal"
          placeholder="100.00"
        />
      ) : (
        <TextField
          id={ids.qty}
          label="Quantity"
          value={form.qty}
          onChange={(v) => update("qty", v)}
          error={errorFor("qty")}
          hint="Shares, fractional down to 0.001."
          inputMode="decimal"
          placeholder="10"
        />
      )}
    </div>
  );
}
