import { describe, expect, it } from 'vitest';
import {
  COLUMN_TYPE_BOOLEAN,
  COLUMN_TYPE_DATE,
  COLUMN_TYPE_DATETIME,
  COLUMN_TYPE_FLOAT,
  COLUMN_TYPE_INTEGER,
  COLUMN_TYPE_STRING,
} from './column-types';
import { ColumnProfile, type ColumnLimits } from './column-profile';

const LIMITS: ColumnLimits = {
  maxExactQuantiles: 1000,
  distinct: { maxExact: 1000, maxExactBytes: 32_000, precision: 14 },
};

function profile(cells: ReadonlyArray<string | { escaped: string }>, limits = LIMITS): ColumnProfile {
  const p = new ColumnProfile('c', limits);
  for (const cell of cells) {
    const text = typeof cell === 'string' ? cell : cell.escaped;
    const buf = Buffer.from(`|${text}|`);
    p.addCell(buf, 1, buf.length - 1, typeof cell !== 'string');
  }
  return p;
}

const repeat = (cell: string, n: number): string[] => Array.from({ length: n }, () => cell);

describe('ColumnProfile type inference', () => {
  it.each([
    ['integers only', ['1', '-2', '+3', '007'], COLUMN_TYPE_INTEGER],
    ['integers and a decimal', ['1', '2.5'], COLUMN_TYPE_FLOAT],
    ['an exponent makes a float', ['1', '1e3'], COLUMN_TYPE_FLOAT],
    ['numbers with blanks around them', [' 1 ', '\t2'], COLUMN_TYPE_INTEGER],
    ['one word among two numbers (33 % invalid)', ['1', '2', 'x'], COLUMN_TYPE_STRING],
    ['19 numbers and one word (5 % invalid: the line)', [...repeat('1', 19), 'n/a'], COLUMN_TYPE_INTEGER],
    ['18 numbers and two words (10 % invalid)', [...repeat('1', 18), 'n/a', '?'], COLUMN_TYPE_STRING],
    ['NaN is not a number here', ['1', 'NaN'], COLUMN_TYPE_STRING],
    ['booleans in any case', ['true', 'FALSE', 'Yes', 'no', 't', 'F'], COLUMN_TYPE_BOOLEAN],
    ['0 and 1 are integers, not booleans', ['0', '1', '1'], COLUMN_TYPE_INTEGER],
    ['dates', ['2024-02-29', '1999-12-31'], COLUMN_TYPE_DATE],
    ['a datetime among dates makes DATETIME', ['2024-02-29', '2024-03-01T10:15:00Z'], COLUMN_TYPE_DATETIME],
    ['an impossible date is text', ['2023-02-29', '2024-01-01'], COLUMN_TYPE_STRING],
    ['nothing but nulls', ['', '  ', '\t'], COLUMN_TYPE_STRING],
  ])('%s', (_, cells, type) => {
    expect(profile(cells).toColumnStats().type).toBe(type);
  });

  it('counts empty and blank cells as nulls, not as values', () => {
    const stats = profile(['1', '', '3', '   ']).toColumnStats();
    expect(stats).toMatchObject({ count: 2, nulls: 2, invalid: 0, sum: 4, mean: 2, min: 1, max: 3, numeric: true });
  });

  it('keeps a numeric column numeric with a few invalid cells, leaving them out of the statistics', () => {
    // 20 numbers 1..20 and one "n/a": 1/21 < 5 % invalid.
    const cells = [...Array.from({ length: 20 }, (_, i) => String(i + 1)), 'n/a'];
    const stats = profile(cells).toColumnStats();
    expect(stats).toMatchObject({ type: COLUMN_TYPE_INTEGER, count: 20, invalid: 1, sum: 210, mean: 10.5, min: 1, max: 20 });
    expect(stats.distinct).toBe(20);
  });

  it('treats a cell with escaped quotes as text', () => {
    expect(profile(['1', { escaped: '2""' }]).toColumnStats().type).toBe(COLUMN_TYPE_STRING);
  });

  it('reports numeric fields as 0 for a text column, but counts cells, lengths and distinct values', () => {
    const stats = profile(['1', 'abc', '', 'naïve', 'abc', { escaped: 'say ""hi""' }]).toColumnStats();
    expect(stats).toMatchObject({
      name: 'c',
      type: COLUMN_TYPE_STRING,
      count: 5,
      nulls: 1,
      invalid: 0,
      sum: 0,
      mean: 0,
      numeric: false,
      // "1" is 1 character, 'say "hi"' is 8: doubled quotes count once; "ï" is one character.
      minLength: 1,
      maxLength: 8,
      distinct: 4,
      distinctExact: true,
    });
  });

  it('computes mean, sample std, min, max and exact quartiles of a numeric column (by hand)', () => {
    // 1.5, 2.5, 5: sum 9, mean 3, deviations -1.5, -0.5, 2 → M2 = 6.5, sample variance 3.25.
    // Quartiles (linear interpolation, h = (n-1)p): q1 at h=0.5 → 2, median 2.5, q3 at h=1.5 → 3.75.
    const stats = profile(['1.5', '2.5', '5']).toColumnStats();
    expect(stats.type).toBe(COLUMN_TYPE_FLOAT);
    expect(stats).toMatchObject({ sum: 9, mean: 3, min: 1.5, max: 5, q1: 2, median: 2.5, q3: 3.75 });
    expect(stats.quantilesExact).toBe(true);
    expect(stats.std).toBeCloseTo(Math.sqrt(3.25), 12);
  });

  it('switches to the quantile sketch past the exact limit, within 0.4 % of the exact quartiles', () => {
    const values = Array.from({ length: 5000 }, (_, i) => ((i * 7919) % 5000) / 3 + 10);
    const small = profile(values.map(String), { ...LIMITS, maxExactQuantiles: 5000 }).toColumnStats();
    const big = profile(values.map(String), { ...LIMITS, maxExactQuantiles: 100 }).toColumnStats();
    expect(small.quantilesExact).toBe(true);
    expect(big.quantilesExact).toBe(false);
    for (const key of ['q1', 'median', 'q3'] as const) {
      expect(Math.abs(big[key] - small[key]) / small[key], key).toBeLessThan(0.004);
    }
  });

  it('reports booleans: count, share of true as mean, true count as sum, 0/1 extremes', () => {
    const stats = profile(['true', 'false', 'TRUE', '', 'yes']).toColumnStats();
    expect(stats).toMatchObject({ type: COLUMN_TYPE_BOOLEAN, count: 4, nulls: 1, sum: 3, mean: 0.75, min: 0, max: 1 });
    expect(stats).toMatchObject({ numeric: false, distinct: 2, distinctExact: true });
  });

  it('reports the earliest and latest datetime as written, comparing instants across offsets', () => {
    const stats = profile(['2024-01-01T10:00:00+02:00', '2024-01-01T09:00:00Z', '2024-01-01', 'junk']).toColumnStats();
    // 10:00+02:00 is 08:00Z: before 09:00Z. The plain date is midnight UTC, the earliest.
    expect(stats).toMatchObject({
      type: COLUMN_TYPE_STRING, // 1 of 4 cells is junk: 25 % invalid
    });
    const clean = profile(['2024-01-01T10:00:00+02:00', '2024-01-01T09:00:00Z', '2024-01-01']).toColumnStats();
    expect(clean).toMatchObject({
      type: COLUMN_TYPE_DATETIME,
      count: 3,
      minText: '2024-01-01',
      maxText: '2024-01-01T09:00:00Z',
      distinct: 3,
    });
  });

  it('merging the states of any split of a column equals one pass', () => {
    const cells = Array.from({ length: 60 }, (_, i) =>
      i % 17 === 0 ? 'n/a' : i % 11 === 0 ? '' : String(((i * 37) % 61) - 30 + (i % 3) * 0.25),
    );
    const whole = profile(cells).toColumnStats();
    for (let cut = 0; cut <= cells.length; cut++) {
      const a = profile(cells.slice(0, cut));
      a.merge(profile(cells.slice(cut)).toState());
      const merged = a.toColumnStats();
      expect({ ...merged, mean: 0, std: 0, sum: 0 }, `cut ${cut}`).toEqual({ ...whole, mean: 0, std: 0, sum: 0 });
      expect(merged.mean).toBeCloseTo(whole.mean, 12);
      expect(merged.std).toBeCloseTo(whole.std, 12);
      expect(merged.sum).toBeCloseTo(whole.sum, 10);
    }
  });

  it('round-trips through its state (as sent between threads)', () => {
    const p = profile(['1', '2.5', 'x', '', '2024-01-01']);
    const copy = ColumnProfile.fromState(structuredClone(p.toState()), LIMITS);
    expect(copy.toColumnStats()).toEqual(p.toColumnStats());
  });
});
