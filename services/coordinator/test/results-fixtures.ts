import { expect } from 'vitest';
import { ColumnStats, StatsResult } from '@spindle/sdk';

// Shared by the results-table tests (stats-table and columns-table).

/** A minimal RFC 4180 reader, independent of the code under test. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  expect(quoted, 'unterminated quote in output').toBe(false);
  expect(field === '' && row.length === 0, 'output ends with a newline').toBe(true);
  return rows;
}

export function column(name: string, values: Partial<ColumnStats> = {}): ColumnStats {
  return ColumnStats.create({
    name,
    type: 1,
    count: 3,
    nulls: 0,
    sum: 6,
    mean: 2,
    std: 1,
    min: 1,
    max: 3,
    numeric: true,
    ...values,
  });
}

export function result(source: string, rows: number, columnStats: ColumnStats[]): StatsResult {
  return StatsResult.create({ source, rows, columns: columnStats.length, bytes: 100, columnStats, durationMs: 5 });
}
