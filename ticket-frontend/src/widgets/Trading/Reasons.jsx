// Risk's reasons as a list, each with its machine-readable code next to the person's message (STYLE: a denial is
// data), so "NOTIONAL_EXCEEDS_LIMIT" can be looked up and two reasons never run together.

/** `reasons` = [{code, message, field?}]; `blocking`: they stop the order (red), else they are advice. */
export function Reasons({ reasons, title, blocking = true }) {
  return (
    <div className={`reasons-box ${blocking ? "reasons-box--blocking" : "reasons-box--advice"}`}>
      <p className="reasons-title">{title}</p>
      <ul className="reasons" aria-label="Reasons">
        {reasons.map((r, i) => (
          <li key={`${r.code}:${r.field ?? ""}:${i}`}>
            <code>{r.code}</code> {r.message}
          </li>
        ))}
      </ul>
    </div>
  );
}
