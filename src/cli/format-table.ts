/** Renders rows of JSON values as an aligned text table, as psql does. */
export function formatTable(columns: string[], rows: Record<string, unknown>[]): string {
  const cell = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const cells = rows.map((r) => columns.map((c) => cell(r[c]).replace(/\n/g, '\\n')));
  const widths = columns.map((c, i) =>
    Math.min(
      80,
      cells.reduce((w, r) => Math.max(w, r[i].length), c.length),
    ),
  );
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (v.length > widths[i] ? `${v.slice(0, widths[i] - 1)}…` : v.padEnd(widths[i])))
      .join(' | ')
      .trimEnd();
  const out = [line(columns), widths.map((w) => '-'.repeat(w)).join('-+-'), ...cells.map(line)];
  out.push(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
  return `${out.join('\n')}\n`;
}

/** One CSV record (RFC 4180) with its line end; objects are written as JSON text. */
export function csvLine(values: unknown[]): string {
  const cell = (v: unknown): string => {
    const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return `${values.map(cell).join(',')}\n`;
}
