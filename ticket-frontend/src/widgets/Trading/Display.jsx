// Small display pieces the panels share: label/value figures and a scrollable data table.

/** Label/value pairs as a definition list: `items` = [{label, value, testId?}]. */
export function Figures({ className, items }) {
  return (
    <dl className={className}>
      {items.map(({ label, value, testId }) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd data-testid={testId}>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A table in its scrolling wrapper: `columns` = [{label, num?, hidden?}] (num: right-aligned figures). */
export function DataTable({ columns, children }) {
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            {columns.map(({ label, num, hidden }) => (
              <th key={label} scope="col" className={num ? "num" : undefined}>
                {hidden ? <span className="visually-hidden">{label}</span> : label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
