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

/**
 * A table in its scrolling wrapper: `columns` = [{label, num?, hidden?}] (num: right-aligned figures); `label`
 * names the table for assistive technology, `footer` is the rows of its <tfoot> (totals).
 */
export function DataTable({ columns, children, label, footer }) {
  return (
    <div className="table-wrap">
      <table aria-label={label}>
        <thead>
          <tr>
            {columns.map(({ label: name, num, hidden }) => (
              <th key={name} scope="col" className={num ? "num" : undefined}>
                {hidden ? <span className="visually-hidden">{name}</span> : name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
        {footer ? <tfoot>{footer}</tfoot> : null}
      </table>
    </div>
  );
}
