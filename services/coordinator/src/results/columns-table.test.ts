import { describe, expect, it } from 'vitest';
import { buildColumnsTable, columnsTableToCsv, columnsTableToJson, COLUMNS_TABLE_COLUMNS } from './columns-table';
import { exampleRows as rows, parseCsv } from '../../test/results-fixtures';

describe('per-column results table', () => {
  it('has one row per (file, column), ordered by file index, and one row for a failed file', () => {
    const [header, ...lines] = parseCsv(columnsTableToCsv(rows));
    expect(header).toEqual([...COLUMNS_TABLE_COLUMNS]);
    expect(lines.map((l) => [l[0], l[4]])).toEqual([
      ['a.csv', 'x'],
      ['a.csv', 'label'],
      ['a.csv', 'y'],
      ['dir/b,c.csv', 'z'],
      ['dir/b,c.csv', 'x'],
      ['bad "q".csv', ''],
    ]);
    const x = Object.fromEntries(header!.map((h, i) => [h, lines[0]![i]]));
    expect(x).toMatchObject({ file: 'a.csv', rows: '3', columns: '3', error: '', type: 'integer', count: '3' });
    expect(Number(x.mean)).toBe(0.1 + 0.2);
    expect(x).toMatchObject({ min: '-1.5', max: '1e+21', std: '1', sum: '6' });
    const label = Object.fromEntries(header!.map((h, i) => [h, lines[1]![i]]));
    // Text columns leave the numeric statistics empty.
    expect(label).toMatchObject({ type: 'string', mean: '', min: '', max: '', median: '', min_length: '0' });
    expect(lines[5]![3]).toMatch(/^CSV_MALFORMED: .*see line\nbelow$/);
  });

  it('writes JSON with null where a value does not apply, through a DataFrame', () => {
    const parsed = JSON.parse(columnsTableToJson(rows)) as Array<Record<string, unknown>>;
    expect(parsed).toHaveLength(6);
    expect(parsed[1]).toMatchObject({ file: 'a.csv', columns: 3, column: 'label', type: 'string', mean: null, distinct: 0 });
    expect(parsed[5]).toMatchObject({ file: 'bad "q".csv', rows: null, column: null, error: expect.stringMatching(/^CSV_MALFORMED/) });
    expect(buildColumnsTable(rows).shape).toEqual([6, COLUMNS_TABLE_COLUMNS.length]);
    expect(columnsTableToJson([])).toBe('[]');
    expect(columnsTableToCsv([])).toBe(`${COLUMNS_TABLE_COLUMNS.join(',')}\n`);
  });
});
