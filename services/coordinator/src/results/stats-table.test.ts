import { describe, expect, it } from 'vitest';
import { buildStatsTable, statsTableToCsv, statsTableToJson } from './stats-table';
import { column, exampleRows as rows, parseCsv, result } from '../../test/results-fixtures';

describe('stats results table', () => {
  it('builds a DataFrame with one row per file, ordered by index, and the union of numeric columns', () => {
    const df = buildStatsTable(rows);
    // "columns" is "n_columns" inside the DataFrame: danfo cannot hold a column of that name.
    expect(df.columns).toEqual([
      'file', 'rows', 'n_columns', 'error',
      'x_mean', 'x_min', 'x_max', 'y_mean', 'y_min', 'y_max', 'z_mean', 'z_min', 'z_max',
    ]);
    expect(df.shape).toEqual([3, 13]);
    expect((df.column('file').values as string[])).toEqual(['a.csv', 'dir/b,c.csv', 'bad "q".csv']);
  });

  it('writes CSV that parses back to the same values, quoting commas, quotes and newlines', () => {
    const csv = statsTableToCsv(rows);
    const [header, a, bc, bad, ...rest] = parseCsv(csv);
    expect(rest).toEqual([]);
    expect(header).toEqual([
      'file', 'rows', 'columns', 'error',
      'x_mean', 'x_min', 'x_max', 'y_mean', 'y_min', 'y_max', 'z_mean', 'z_min', 'z_max',
    ]);
    expect(a).toEqual(['a.csv', '3', '3', '', String(0.1 + 0.2), '-1.5', '1e+21', String(1 / 3), '0', '7', '', '', '']);
    expect(Number(a![4])).toBe(0.1 + 0.2);
    expect(Number(a![7])).toBe(1 / 3);
    expect(bc).toEqual(['dir/b,c.csv', '10', '2', '', '5', '5', '5', '', '', '', '-2.25', '-9', '4']);
    expect(bad).toEqual([
      'bad "q".csv',
      '',
      '',
      'CSV_MALFORMED: bad "q".csv: unterminated quoted field in record 3 (byte offset 17), see line\nbelow',
      '', '', '', '', '', '', '', '', '',
    ]);
  });

  it('accepts the DataFrame from buildStatsTable as well as the rows', () => {
    expect(statsTableToCsv(buildStatsTable(rows))).toBe(statsTableToCsv(rows));
    expect(statsTableToJson(buildStatsTable(rows))).toBe(statsTableToJson(rows));
  });

  it('writes JSON as one object per file with null where a value is absent', () => {
    const parsed = JSON.parse(statsTableToJson(rows)) as Array<Record<string, unknown>>;
    expect(parsed).toHaveLength(3);
    expect(parsed[0]).toEqual({
      file: 'a.csv', rows: 3, columns: 3, error: null,
      x_mean: 0.1 + 0.2, x_min: -1.5, x_max: 1e21, y_mean: 1 / 3, y_min: 0, y_max: 7,
      z_mean: null, z_min: null, z_max: null,
    });
    expect(parsed[1]).toMatchObject({ file: 'dir/b,c.csv', rows: 10, x_mean: 5, y_mean: null, z_min: -9 });
    expect(parsed[2]).toMatchObject({
      file: 'bad "q".csv',
      rows: null,
      columns: null,
      error: expect.stringMatching(/^CSV_MALFORMED: /),
      x_mean: null,
    });
  });

  it('gives duplicate column names of one file pandas-style suffixes', () => {
    const table = buildStatsTable([
      { index: 0, source: 'dup.csv', result: result('dup.csv', 1, [column('v', { mean: 1 }), column('v', { mean: 2 })]) },
    ]);
    expect(table.columns.slice(4)).toEqual(['v_mean', 'v_min', 'v_max', 'v.1_mean', 'v.1_min', 'v.1_max']);
  });

  it('quotes column names that need it', () => {
    const csv = statsTableToCsv([
      { index: 0, source: 'c.csv', result: result('c.csv', 1, [column('price, "EUR"', { mean: 4 })]) },
    ]);
    expect(parseCsv(csv)[0]).toEqual([
      'file', 'rows', 'columns', 'error',
      'price, "EUR"_mean', 'price, "EUR"_min', 'price, "EUR"_max',
    ]);
  });

  it('writes just the header (CSV) or an empty array (JSON) for a job without tasks', () => {
    expect(statsTableToCsv([])).toBe('file,rows,columns,error\n');
    expect(statsTableToJson([])).toBe('[]');
  });
});
