/**
 * The per-column results table of a stats job (ResultsTable COLUMNS): one row per (file,
 * column) with every statistic of ColumnStats, and one row with the error for a failed file.
 * Built as a danfojs-node DataFrame and written through its toCSV/toJSON, with the same
 * workarounds as the summary table (stats-table.ts).
 *
 * Values that do not apply to a column's type are empty (CSV) or null (JSON): moments and
 * quartiles for numeric columns (moments also for booleans: the share of true values),
 * lengths for strings, earliest/latest for dates.
 */
import { ColumnType, type ColumnStats } from '@spindle/sdk';
import type { DataFrame } from 'danfojs-node';
import { frameToCsv, frameToJson, loadDanfo, toFrameName, type Cell, type StatsTableRow } from './stats-table';

/** The columns of the per-column table, in order. */
export const COLUMNS_TABLE_COLUMNS = [
  'file',
  'rows',
  'columns',
  'error',
  'column',
  'type',
  'count',
  'nulls',
  'invalid',
  'mean',
  'std',
  'min',
  'max',
  'sum',
  'median',
  'q1',
  'q3',
  'quantiles_exact',
  'distinct',
  'distinct_exact',
  'min_length',
  'max_length',
  'min_text',
  'max_text',
] as const;

const TYPE_NAMES: Readonly<Record<number, string>> = {
  [ColumnType.COLUMN_TYPE_INTEGER]: 'integer',
  [ColumnType.COLUMN_TYPE_FLOAT]: 'float',
  [ColumnType.COLUMN_TYPE_STRING]: 'string',
  [ColumnType.COLUMN_TYPE_BOOLEAN]: 'boolean',
  [ColumnType.COLUMN_TYPE_DATE]: 'date',
  [ColumnType.COLUMN_TYPE_DATETIME]: 'datetime',
};

function columnRow(file: string, rows: number, columns: number, c: ColumnStats): Cell[] {
  const numeric = c.numeric;
  const moments = numeric || c.type === ColumnType.COLUMN_TYPE_BOOLEAN;
  const temporal = c.type === ColumnType.COLUMN_TYPE_DATE || c.type === ColumnType.COLUMN_TYPE_DATETIME;
  const text = c.type === ColumnType.COLUMN_TYPE_STRING;
  const m = (v: number): Cell => (moments ? v : null);
  const q = (v: number): Cell => (numeric ? v : null);
  return [
    file,
    rows,
    columns,
    null,
    c.name,
    TYPE_NAMES[c.type] ?? 'unknown',
    c.count,
    c.nulls,
    c.invalid,
    m(c.mean),
    m(c.std),
    m(c.min),
    m(c.max),
    m(c.sum),
    q(c.median),
    q(c.q1),
    q(c.q3),
    numeric ? String(c.quantilesExact) : null,
    c.distinct,
    String(c.distinctExact),
    text ? c.minLength : null,
    text ? c.maxLength : null,
    temporal ? c.minText : null,
    temporal ? c.maxText : null,
  ];
}

function plainColumnsTable(rows: readonly StatsTableRow[]): Cell[][] {
  const sorted = [...rows].sort((a, b) => a.index - b.index || a.source.localeCompare(b.source));
  const data: Cell[][] = [];
  for (const row of sorted) {
    if (row.error !== undefined || row.result === undefined) {
      const error = row.error ? `${row.error.code}: ${row.error.message}` : 'no result';
      const cells: Cell[] = COLUMNS_TABLE_COLUMNS.map(() => null);
      cells[0] = row.source;
      cells[3] = error;
      data.push(cells);
      continue;
    }
    const r = row.result;
    if (r.columnStats.length === 0) {
      const cells: Cell[] = COLUMNS_TABLE_COLUMNS.map(() => null);
      [cells[0], cells[1], cells[2]] = [row.source, r.rows, r.columns];
      data.push(cells);
    }
    for (const c of r.columnStats) data.push(columnRow(row.source, r.rows, r.columns, c));
  }
  return data;
}

/** Builds the per-column table as a DataFrame ("columns" is "n_columns" inside it, as in stats-table.ts). */
export function buildColumnsTable(rows: readonly StatsTableRow[]): DataFrame {
  const { DataFrame } = loadDanfo();
  return new DataFrame(plainColumnsTable(rows), { columns: COLUMNS_TABLE_COLUMNS.map(toFrameName) });
}

/** The per-column table as RFC 4180 CSV (header line, LF line ends). */
export function columnsTableToCsv(rows: readonly StatsTableRow[]): string {
  return frameToCsv([...COLUMNS_TABLE_COLUMNS], plainColumnsTable(rows));
}

/** The per-column table as a JSON array, one object per (file, column). */
export function columnsTableToJson(rows: readonly StatsTableRow[]): string {
  const data = plainColumnsTable(rows);
  if (data.length === 0) return '[]';
  return frameToJson(buildColumnsTable(rows));
}
