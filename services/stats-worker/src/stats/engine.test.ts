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

/** Equal statistics; means, deviations and sums to rounding (the order of additions differs). */
function expectSameStats(actual: FileStats, expected: FileStats): void {
  const blank = (f: FileStats): unknown => ({
    ...f,
    columnStats: f.columnStats.map((c) => ({ ...c, mean: 0, std: 0, sum: 0 })),
  });
  expect(blank(actual)).toEqual(blank(expected));
  actual.columnStats.forEach((c, i) => {
    const e = expected.columnStats[i]!;
    for (const key of ['mean', 'std', 'sum'] as const) {
      expect(Math.abs(c[key] - e[key]), `${c.name}.${key}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(e[key])));
    }
  });
}

describe('StatsEngine fast path and byte ranges', () => {
  /** A file of mostly plain cells with a few quoted ones, blanks, exponents and text. */
  function mixedCsv(rows: number, lineEnd = '\n', quoteAll = false): string {
    const q = (f: string): string => (quoteAll || f.includes(',') ? `"${f}"` : f);
    const lines = ['id,v,w,label,when'];
    for (let i = 0; i < rows; i++) {
      const v = i % 13 === 0 ? '' : i % 29 === 0 ? ' 7 ' : i % 31 === 0 ? '1e2' : (i * 0.37 - 40).toFixed(2);
      const w = i % 50 === 0 ? 'n/a' : String((i * 7919) % 1000);
      const label = i % 17 === 0 ? `t, ${i % 5}` : `cat${i % 7}`;
      const when = `2024-01-${String((i % 28) + 1).padStart(2, '0')}`;
      lines.push([String(i), v, w, label, when].map(q).join(','));
    }
    return lines.join(lineEnd) + lineEnd;
  }

  it('gives the same statistics through the fast path as with every field quoted (slow path)', () => {
    const text = mixedCsv(400);
    const quoted = mixedCsv(400, '\n', true);
    const fast = run(text, {}, 1 << 20);
    const slow = run(quoted, {}, 1 << 20);
    expectSameStats({ ...fast, bytes: 0 }, { ...slow, bytes: 0 });
    expect(fast.columnStats.map((c) => c.type)).toEqual([
      COLUMN_TYPE_INTEGER,
      COLUMN_TYPE_FLOAT,
      COLUMN_TYPE_INTEGER, // 8 of 400 cells are "n/a": 2 % invalid
      COLUMN_TYPE_STRING,
      5, // DATE
    ]);
    expect(fast.columnStats[2]).toMatchObject({ invalid: 8 });
  });

  it('gives the same statistics for CRLF files and any chunk size', () => {
    const text = mixedCsv(300, '\r\n');
    const reference = run(text, {}, text.length);
    for (const size of [1, 7, 64, 999]) expectSameStats(run(text, {}, size), reference);
  });

  it('merging the states of byte ranges cut at record starts equals one pass', () => {
    const text = Buffer.from(mixedCsv(200));
    const whole = run(text, {}, 1 << 20);
    const header = text.indexOf(0x0a) + 1;
    const columns = ['id', 'v', 'w', 'label', 'when'];
    const rangeState = (start: number, stop: number) => {
      const engine = new StatsEngine({ columns, startOffset: start, stopAt: stop });
      for (let p = start; p < text.length && !engine.stopped; p += 50) engine.push(text.subarray(p, p + 50));
      return { state: engine.toState(), stop: engine.stopped ? engine.stopOffset : text.length };
    };
    for (const cut of [header, header + 1, 1000, 2345, text.length - 3]) {
      const first = rangeState(header, cut);
      const second = rangeState(first.stop, Number.POSITIVE_INFINITY);
      const merged = StatsEngine.finalize(
        StatsEngine.merge({ rows: 0, raggedRows: 0, bytes: header, columns: null }, StatsEngine.merge(first.state, second.state)),
      );
      expect(merged.rows).toBe(whole.rows);
      expect(merged.bytes).toBe(whole.bytes);
      merged.columnStats.forEach((c, i) => {
        const w = whole.columnStats[i]!;
        expect({ ...c, mean: 0, std: 0, sum: 0 }).toEqual({ ...w, mean: 0, std: 0, sum: 0 });
        expect(c.mean).toBeCloseTo(w.mean, 10);
        expect(c.std).toBeCloseTo(w.std, 10);
      });
    }
  });

  it('fails a record longer than maxRecordBytes on the fast path too', () => {
    const text = `a,b\n1,2\n${'9'.repeat(300)},1\n`;
    expect(() => run(text, { maxRecordBytes: 100 }, 1 << 20)).toThrow(/record is longer than 100 bytes \(byte offset 8\)/);
  });

  it('refuses more columns than the limit', () => {
    const limits = { exactQuantileValues: 10, exactDistinctValues: 10, maxColumns: 3 };
    expect(() => run('a,b,c,d\n1,2,3,4\n', { limits })).toThrow(/4 columns, more than the limit of 3/);
  });
});
