import { describe, expect, it } from 'vitest';
import { isStatsError } from '../errors';
import { COLUMN_TYPE_FLOAT, COLUMN_TYPE_INTEGER, COLUMN_TYPE_STRING } from './column-types';
import { StatsEngine, type FileStats, type StatsEngineOptions } from './engine';

function run(text: string | Buffer, options?: StatsEngineOptions, chunkSize = 7): FileStats {
  const input = typeof text === 'string' ? Buffer.from(text) : text;
  const engine = new StatsEngine(options);
  for (let i = 0; i < input.length; i += chunkSize) engine.push(input.subarray(i, i + chunkSize));
  return engine.end();
}

describe('StatsEngine', () => {
  it('computes a three-row file by hand', () => {
    // x: 1, 2, 6 → sum 9, mean 3, deviations -2, -1, 3 → M2 = 14, variance 7.
    // y: 0.5, empty, -1.5 → count 2, sum -1, mean -0.5, M2 = 1 + 1 = 2, variance 2.
    const text = 'x,y,name\n1,0.5,alpha\n2,,beta\n6,-1.5,gamma\n';
    const stats = run(text);
    expect(stats).toMatchObject({ rows: 3, columns: 3, bytes: text.length, raggedRows: 0 });
    const [x, y, name] = stats.columnStats;
    expect(x).toMatchObject({ name: 'x', type: COLUMN_TYPE_INTEGER, count: 3, nulls: 0 });
    expect(x).toMatchObject({ sum: 9, mean: 3, min: 1, max: 6, numeric: true });
    expect(x!.std).toBeCloseTo(Math.sqrt(7), 12);
    expect(y).toMatchObject({ name: 'y', type: COLUMN_TYPE_FLOAT, count: 2, nulls: 1 });
    expect(y).toMatchObject({ sum: -1, mean: -0.5, min: -1.5, max: 0.5 });
    expect(y!.std).toBeCloseTo(Math.sqrt(2), 12);
    expect(name).toMatchObject({ name: 'name', type: COLUMN_TYPE_STRING, count: 3, nulls: 0 });
    expect(name).toMatchObject({ numeric: false, mean: 0 });
  });

  it('counts ragged rows; missing cells are nulls and extra cells are ignored', () => {
    const stats = run('a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n');
    expect(stats.rows).toBe(4);
    expect(stats.raggedRows).toBe(2);
    expect(stats.columnStats.map((c) => [c.count, c.nulls, c.sum])).toEqual([
      [4, 0, 21],
      [4, 0, 25],
      [3, 1, 23],
    ]);
  });

  it('reads quoted numbers, and quoted text with commas, newlines and quotes', () => {
    const stats = run('id,v,label\r\n1,"2.5","a, b"\r\n2,"3","line1\nline2"\r\n3,4.5,"say ""hi"""\r\n');
    expect(stats.rows).toBe(3);
    expect(stats.columnStats[1]).toMatchObject({ type: COLUMN_TYPE_FLOAT, count: 3, sum: 10, min: 2.5, max: 4.5 });
    expect(stats.columnStats[2]).toMatchObject({ type: COLUMN_TYPE_STRING, count: 3 });
  });

  it('skips a BOM and does not count it in the first column name', () => {
    const stats = run('\uFEFFid,v\n1,2\n');
    expect(stats.columnStats.map((c) => c.name)).toEqual(['id', 'v']);
    expect(stats.bytes).toBe(3 + 5 + 4);
  });

  it('names columns column_1… without a header and counts the first line as data', () => {
    const stats = run('1,2\n3,4\n', { noHeader: true });
    expect(stats.rows).toBe(2);
    expect(stats.columnStats.map((c) => [c.name, c.sum])).toEqual([
      ['column_1', 4],
      ['column_2', 6],
    ]);
  });

  it('names an empty header cell after its position', () => {
    expect(run(',b,\n1,2,3\n').columnStats.map((c) => c.name)).toEqual(['column_1', 'b', 'column_3']);
  });

  it('decodes header names with quotes and commas', () => {
    expect(run('"a,1","say ""x""",ü\n1,2,3\n').columnStats.map((c) => c.name)).toEqual(['a,1', 'say "x"', 'ü']);
  });

  it('uses the given delimiter', () => {
    const stats = run('a;b\n1,5;2\n3,5;4\n', { delimiter: 0x3b });
    expect(stats.columnStats.map((c) => c.type)).toEqual([COLUMN_TYPE_STRING, COLUMN_TYPE_INTEGER]);
  });

  it('returns zero rows for an empty file and for a header-only file', () => {
    expect(run('')).toEqual({ rows: 0, columns: 0, bytes: 0, columnStats: [], raggedRows: 0 });
    const headerOnly = run('a,b\n');
    expect(headerOnly).toMatchObject({ rows: 0, columns: 2, raggedRows: 0 });
    expect(headerOnly.columnStats.every((c) => !c.numeric && c.count === 0)).toBe(true);
  });

  it('gives the same answer whatever the chunk size', () => {
    const lines = ['a,b,c'];
    for (let i = 0; i < 300; i++) lines.push(`${i},${(i * 0.37).toFixed(3)},"t,${i}"`);
    const text = `${lines.join('\r\n')}\r\n`;
    const reference = run(text, {}, text.length);
    for (const size of [1, 2, 3, 5, 64, 1000]) expect(run(text, {}, size)).toEqual(reference);
  });

  it.each([
    ['an unterminated quote', 'a,b\n1,"2\n', /unterminated quoted field/],
    ['a binary file', Buffer.from([0x61, 0x2c, 0x62, 0x0a, 0x00, 0x01, 0x02]), /binary file/],
    ['Latin-1 text', Buffer.from('a\ncaf\xe9\n', 'latin1'), /not UTF-8/],
  ])('fails with CSV_MALFORMED on %s', (_, input, message) => {
    let error: unknown;
    try {
      run(input);
    } catch (err) {
      error = err;
    }
    expect(isStatsError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'CSV_MALFORMED' });
    expect((error as Error).message).toMatch(message);
  });
});
