// A labelled form control with its hint and its error next to it. The label is the control's accessible name
// (label htmlFor), and hint and error are wired with aria-describedby.

export function Field({ id, label, error, hint, children, className = "" }) {
  const describedBy = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(" ");
  return (
    <div className={`field ${error ? "field--invalid" : ""} ${className}`}>
      <label htmlFor={id}>{label}</label>
      {children({ id, "aria-invalid": error ? true : undefined, "aria-describedby": describedBy || undefined })}
      {hint ? (
        <p id={`${id}-hint`} className="field-hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      ) : null}
    </div>
  );
}

export function TextField({ id, label, value, onChange, onBlur, error, hint, prefix, ...inputProps }) {
  return (
    <Field id={id} label={label} error={error} hint={hint}>
      {(aria) => (
        <div className="input-wrap">
          {prefix ? <span className="input-prefix" aria-hidden="true">{prefix}</span> : null}
          <input
            type="text"
            autoComplete="off"
            spellCheck={false}
            value={value}
            onChange={(e) => onChange(e.target.value)}
            onBlur={onBlur}
            {...aria}
            {...inputProps}
          />
        </div>
      )}
    </Field>
  );
}

export function SelectField({ id, label, value, onChange, options, allowed, error, hint }) {
  return (
    <Field id={id} label={label} error={error} hint={hint}>
      {(aria) => (
        <select value={value} onChange={(e) => onChange(e.target.value)} {...aria}>
          {options.map((o) => (
            <option key={o.value} value={o.value} disabled={allowed ? !allowed.includes(o.value) : false}>
              {o.label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/** Props that bind a field to one field of the order form, by the field's name: its id, value, change and error. */
export function bindField({ form, update, errorFor, ids }) {
  return (name) => ({
    id: ids[name],
    value: form[name],
    onChange: (value) => update(name, value),
    error: errorFor(name),
  });
}

/** The same for a decimal TextField (a numeric keyboard on phones). */
export function bindDecimal(binding) {
  const field = bindField(binding);
  return (name) => ({ ...field(name), inputMode: "decimal" });
}
