import { expect } from 'vitest';
import { ColumnStats, StatsResult, TaskError } from '@spindle/sdk';
import type { StatsTableRow } from '../src/results/stats-table';
import { readCsv } from '../../../test/helpers/csv';

// Shared by the results-table tests (stats-table and columns-table).

/** The records of the code under test's CSV output, which must end its last record with a line break. */
export function parseCsv(text: string): string[][] {
  const { rows, unterminatedQuote, endsWithNewline } = readCsv(text);
  expect(unterminatedQuote, 'unterminated quote in output').toBe(false);
  expect(endsWithNewline, 'output ends with a newline').toBe(true);
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

/** Results of three files, out of index order: one failed (a message that needs quoting), two with columns in different orders. */
export const exampleRows: StatsTableRow[] = [
  {
    index: 2,
    source: 'bad "q".csv',
    error: TaskError.create({
      code: 'CSV_MALFORMED',
      message: 'bad "q".csv: unterminated quoted field in record 3 (byte offset 17), see line\nbelow',
      retryable: false,
      httpStatus: 0,
    }),
  },
  {
    index: 0,
    source: 'a.csv',
    result: result('a.csv', 3, [
      column('x', { mean: 0.1 + 0.2, min: -1.5, max: 1e21 }),
      column('label', { numeric: false, type: 3, mean: 0, min: 0, max: 0 }),
      column('y', { mean: 1 / 3, min: 0, max: 7 }),
    ]),
  },
  {
    index: 1,
    source: 'dir/b,c.csv',
    result: result('dir/b,c.csv', 10, [column('z', { mean: -2.25, min: -9, max: 4 }), column('x', { mean: 5, min: 5, max: 5 })]),
  },
];
