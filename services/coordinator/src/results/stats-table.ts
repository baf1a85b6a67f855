/**
 * The per-job results table of a stats job, in the shape of the tutorial's pandas output:
 * one row per file with `file`, `rows`, `columns`, `error`, then `<c>_mean`, `<c>_min`,
 * `<c>_max` for every numeric column `c` of any file (union across files, in order of first
 * appearance; empty where a file lacks the column or it is not numeric there).
 *
 * Built as a danfojs-node DataFrame, which is the natural tool for assembling and writing a
 * table; the statistics themselves come from the stats workers' streaming engine.
 */
import type { StatsResult, TaskError } from '@spindle/sdk';
import type { DataFrame } from 'danfojs-node';

/** One task of the job, as the table builder needs it. */
export interface StatsTableRow {
  /** Position of the source in the job spec; rows are ordered by it. */
  index: number;
  /** The source as given (path or URL). */
  source: string;
  /** The stats, when the task succeeded. */
  result?: StatsResult;
  /** Why the task failed; wins over `result` if both are set. */
  error?: TaskError;
}

/** The columns every results table starts with. */
export const STATS_TABLE_BASE_COLUMNS = ['file', 'rows', 'columns', 'error'] as const;

/** A table cell; null is an absent value. */
export type Cell = string | number | null;

interface PlainTable {
  columns: string[];
  data: Cell[][];
}

type Danfo = typeof import('danfojs-node');
let danfo: Danfo | undefined;

/** danfojs-node, loaded on first use. */
export function loadDanfo(): Danfo {
  // Required lazily: importing danfojs-node takes most of a second (it loads tfjs), which the
  // coordinator should only pay when a table is actually built.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  danfo ??= require('danfojs-node') as Danfo;
  return danfo;
}

// danfojs-node 1.2 defines a getter on each DataFrame for every column name, so a column
// called "columns" shadows `df.columns` and any use of it recurses until the stack overflows.
// Inside DataFrames that column is therefore called "n_columns"; the writers below put the
// table's real name back in the CSV header and the JSON keys.
const FRAME_NAMES: ReadonlyMap<string, string> = new Map([['columns', 'n_columns']]);
const TABLE_NAMES: ReadonlyMap<string, string> = new Map(
  [...FRAME_NAMES].map(([table, frame]) => [frame, table]),
);
/** A table column's name inside a DataFrame. */
export const toFrameName = (name: string): string => FRAME_NAMES.get(name) ?? name;
const toTableName = (name: string): string => TABLE_NAMES.get(name) ?? name;

/**
 * Builds the results table as a DataFrame. Absent values (a failed file's counts, a column a
 * file does not have) are `null`; the error column holds `CODE: message` for failed files and
 * `null` otherwise. The column counts are in "n_columns" (see FRAME_NAMES); the CSV and JSON
 * writers call it "columns".
 */
export function buildStatsTable(rows: readonly StatsTableRow[]): DataFrame {
  const { columns, data } = plainTable(rows);
  const { DataFrame } = loadDanfo();
  return new DataFrame(data, { columns: columns.map(toFrameName) });
}

/**
 * The results table as RFC 4180 CSV (header line, LF line ends), through DataFrame.toCSV.
 *
 * danfojs-node 1.2's toCSV only joins values with the separator: it quotes nothing, so a file
 * name or an error message containing a comma, quote or newline would shift or split the row.
 * Every cell is therefore escaped here first (quoted when it contains a comma, quote, CR or
 * LF; inner quotes doubled) and the escaped table is what toCSV writes. The header line is
 * written here too, escaped the same way, because the DataFrame cannot hold a column named
 * "columns". Absent values are empty fields.
 */
export function statsTableToCsv(table: DataFrame | readonly StatsTableRow[]): string {
  const { columns, data } = toPlain(table);
  return frameToCsv(columns, data);
}

/** Writes a plain table as CSV through DataFrame.toCSV, escaping every cell first (see above). */
export function frameToCsv(columns: readonly string[], data: readonly Cell[][]): string {
  const { DataFrame } = loadDanfo();
  const header = `${columns.map(csvField).join(',')}\n`;
  if (data.length === 0) return header;
  const escaped = new DataFrame(
    data.map((row) => row.map(csvField)),
    { columns: columns.map(toFrameName) },
  );
  return header + escaped.toCSV({ header: false, sep: ',' });
}

/**
 * The results table as a JSON array with one object per file (column name → value; `null`
 * where absent), through DataFrame.toJSON.
 */
export function statsTableToJson(table: DataFrame | readonly StatsTableRow[]): string {
  const df = Array.isArray(table) ? buildStatsTable(table as readonly StatsTableRow[]) : (table as DataFrame);
  if (df.shape[0] === 0) return '[]';
  return frameToJson(df);
}

/** A DataFrame as a JSON array of row objects, through DataFrame.toJSON (see above). */
export function frameToJson(df: DataFrame): string {
  // danfojs-node 1.2 swaps its own format names: 'column' (the default) yields one object per
  // row, 'row' yields one array per column. Asked for explicitly so that an upgrade that fixes
  // the naming shows up in the tests rather than silently changing the file's shape.
  const records = df.toJSON({ format: 'column' }) as Array<Record<string, Cell>>;
  const names = df.columns;
  return JSON.stringify(
    records.map((record) =>
      Object.fromEntries(names.map((name) => [toTableName(name), record[name] ?? null])),
    ),
  );
}

function toPlain(table: DataFrame | readonly StatsTableRow[]): PlainTable {
  if (Array.isArray(table)) return plainTable(table as readonly StatsTableRow[]);
  const df = table as DataFrame;
  // values is typed as a 1-D or 2-D array; a DataFrame's is always 2-D.
  return { columns: df.columns.map(toTableName), data: df.values as Cell[][] };
}

function plainTable(rows: readonly StatsTableRow[]): PlainTable {
  const sorted = [...rows].sort((a, b) => a.index - b.index || a.source.localeCompare(b.source));
  const statColumns: string[] = [];
  const known = new Set<string>();
  const perRow = sorted.map((row) => {
    const values = new Map<string, number>();
    if (row.error !== undefined || row.result === undefined) return values;
    const seen = new Map<string, number>();
    for (const column of row.result.columnStats) {
      // Duplicate header names get pandas-style ".1", ".2" suffixes so neither is lost.
      const dup = seen.get(column.name) ?? 0;
      seen.set(column.name, dup + 1);
      if (!column.numeric) continue;
      const name = dup === 0 ? column.name : `${column.name}.${dup}`;
      for (const [suffix, value] of [
        ['mean', column.mean],
        ['min', column.min],
        ['max', column.max],
      ] as const) {
        const key = `${name}_${suffix}`;
        if (!known.has(key)) {
          known.add(key);
          statColumns.push(key);
        }
        values.set(key, value);
      }
    }
    return values;
  });
  const data = sorted.map((row, i): Cell[] => {
    const failed = row.error !== undefined || row.result === undefined;
    const error = row.error
      ? `${row.error.code}: ${row.error.message}`
      : row.result === undefined
        ? 'no result'
        : null;
    const values = perRow[i]!;
    return [
      row.source,
      failed ? null : row.result!.rows,
      failed ? null : row.result!.columns,
      error,
      ...statColumns.map((key) => values.get(key) ?? null),
    ];
  });
  return { columns: [...STATS_TABLE_BASE_COLUMNS, ...statColumns], data };
}

/** One CSV field (RFC 4180): quoted when needed, inner quotes doubled; null → empty. */
function csvField(value: Cell): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
