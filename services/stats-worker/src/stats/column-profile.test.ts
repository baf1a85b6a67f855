import { describe, expect, it } from 'vitest';
import { COLUMN_TYPE_FLOAT, COLUMN_TYPE_INTEGER, COLUMN_TYPE_STRING } from './column-types';
import { ColumnProfile } from './column-profile';

function profile(cells: ReadonlyArray<string | { escaped: string }>): ColumnProfile {
  const p = new ColumnProfile('c');
  for (const cell of cells) {
    const text = typeof cell === 'string' ? cell : cell.escaped;
    const buf = Buffer.from(`|${text}|`);
    p.addCell(buf, 1, buf.length - 1, typeof cell !== 'string');
  }
  return p;
}

describe('ColumnProfile type inference', () => {
  it.each([
    ['integers only', ['1', '-2', '+3', '007'], COLUMN_TYPE_INTEGER],
    ['integers and a decimal', ['1', '2.5'], COLUMN_TYPE_FLOAT],
    ['an exponent makes a float', ['1', '1e3'], COLUMN_TYPE_FLOAT],
    ['numbers with blanks around them', [' 1 ', '\t2'], COLUMN_TYPE_INTEGER],
    ['one word among numbers', ['1', '2', 'x'], COLUMN_TYPE_STRING],
    ['"12x"', ['1', '12x'], COLUMN_TYPE_STRING],
    ['"n/a"', ['n/a', '1'], COLUMN_TYPE_STRING],
    ['"?"', ['1.5', '?'], COLUMN_TYPE_STRING],
    ['NaN is not a number here', ['1', 'NaN'], COLUMN_TYPE_STRING],
    ['nothing but nulls', ['', '  ', '\t'], COLUMN_TYPE_STRING],
  ])('%s', (_, cells, type) => {
    expect(profile(cells).toColumnStats().type).toBe(type);
  });

  it('counts empty and blank cells as nulls, not as values', () => {
    const stats = profile(['1', '', '3', '   ']).toColumnStats();
    expect(stats).toMatchObject({ count: 2, nulls: 2, sum: 4, mean: 2, min: 1, max: 3, numeric: true });
  });

  it('treats a cell with escaped quotes as text', () => {
    expect(profile(['1', { escaped: '2""' }]).toColumnStats().type).toBe(COLUMN_TYPE_STRING);
  });

  it('reports numeric fields as 0 for a text column, but still counts its cells', () => {
    const stats = profile(['1', 'abc', '', '2']).toColumnStats();
    expect(stats).toMatchObject({
      name: 'c',
      type: COLUMN_TYPE_STRING,
      count: 3,
      nulls: 1,
      sum: 0,
      mean: 0,
      std: 0,
      min: 0,
      max: 0,
      numeric: false,
    });
  });

  it('computes mean, sample std, min and max of a numeric column (by hand)', () => {
    // 1.5, 2.5, 5: sum 9, mean 3, deviations -1.5, -0.5, 2 → M2 = 2.25 + 0.25 + 4 = 6.5,
    // sample variance 3.25.
    const stats = profile(['1.5', '2.5', '5']).toColumnStats();
    expect(stats.type).toBe(COLUMN_TYPE_FLOAT);
    expect(stats.sum).toBe(9);
    expect(stats.mean).toBe(3);
    expect(stats.std).toBeCloseTo(Math.sqrt(3.25), 12);
    expect(stats.min).toBe(1.5);
    expect(stats.max).toBe(5);
  });
});
