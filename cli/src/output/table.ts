/** A column of a text table. */
export interface Column {
  header: string;
  /** Numbers read best right-aligned. @default 'left' */
  align?: 'left' | 'right';
  /** Longest cell, in characters; longer cells are shortened with '…'. @default unlimited */
  maxWidth?: number;
  /**
   * Which end to cut when shortening. Paths and URLs keep their informative end.
   * @default 'end'
   */
  truncate?: 'start' | 'end';
}

/** Display width of a string: its code points (the CLI prints no colours or wide characters of its own). */
export function displayWidth(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Shortens `s` to `width` characters with an ellipsis at the chosen end. */
export function truncate(s: string, width: number, from: 'start' | 'end' = 'end'): string {
  const chars = [...s];
  if (chars.length <= width) return s;
  if (width <= 1) return '…'.slice(0, width);
  return from === 'start' ? '…' + chars.slice(chars.length - width + 1).join('') : chars.slice(0, width - 1).join('') + '…';
}

function pad(s: string, width: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(s)));
  return align === 'right' ? fill + s : s + fill;
}

/**
 * Renders rows as an aligned plain-text table: a header line, a rule, then one
 * line per row, columns separated by two spaces, no trailing spaces. Missing
 * cells are empty. Ends with a newline.
 */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) =>
    columns.map((col, i) => {
      const value = (row[i] ?? '').replace(/[\r\n\t]+/g, ' ');
      return col.maxWidth !== undefined ? truncate(value, col.maxWidth, col.truncate) : value;
    }),
  );
  const widths = columns.map((col, i) =>
    Math.max(displayWidth(col.header), ...cells.map((row) => displayWidth(row[i] ?? ''))),
  );
  const line = (values: readonly string[]): string =>
    columns
      .map((col, i) => pad(values[i] ?? '', widths[i] ?? 0, col.align ?? 'left'))
      .join('  ')
      .trimEnd();
  const out = [line(columns.map((c) => c.header)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)];
  return out.join('\n') + '\n';
}
