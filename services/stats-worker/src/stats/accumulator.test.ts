import { describe, expect, it } from 'vitest';
import { Accumulator } from './accumulator';

function accumulate(values: readonly number[]): Accumulator {
  const acc = new Accumulator();
  for (const v of values) acc.add(v);
  return acc;
}

function expectSameStats(actual: Accumulator, expected: Accumulator): void {
  expect(actual.count).toBe(expected.count);
  expect(actual.min).toBe(expected.min);
  expect(actual.max).toBe(expected.max);
  expect(actual.mean).toBeCloseTo(expected.mean, 10);
  expect(actual.sum).toBeCloseTo(expected.sum, 8);
  expect(relativeError(actual.variance, expected.variance)).toBeLessThan(1e-12);
}

function relativeError(a: number, b: number): number {
  return a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
}

describe('Accumulator', () => {
  it('computes count, sum, mean, sample std, min and max of three values (by hand)', () => {
    // 2, 4, 9: sum 15, mean 5, squared deviations 9 + 1 + 16 = 26, sample variance 13.
    const acc = accumulate([2, 4, 9]);
    expect(acc.count).toBe(3);
    expect(acc.sum).toBe(15);
    expect(acc.mean).toBe(5);
    expect(acc.variance).toBeCloseTo(13, 12);
    expect(acc.std).toBeCloseTo(Math.sqrt(13), 12);
    expect(acc.min).toBe(2);
    expect(acc.max).toBe(9);
  });

  it('reports std 0 for fewer than two values', () => {
    expect(accumulate([]).std).toBe(0);
    expect(accumulate([7]).std).toBe(0);
    expect(accumulate([7]).mean).toBe(7);
  });

  it('stays accurate for values with a large common offset (where naive sum-of-squares fails)', () => {
    const values = [1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16];
    // Deviations from the mean 1e9 + 10: -6, -3, 3, 6 → M2 = 90, variance 30.
    expect(accumulate(values).variance).toBeCloseTo(30, 6);
  });

  it('keeps a compensated sum where a naive running sum loses the small terms', () => {
    const values = [1e16, 1, 1, 1, 1, -1e16];
    expect(accumulate(values).sum).toBe(4);
  });

  it('merging the accumulators of any split equals one pass over all values', () => {
    const values = Array.from({ length: 40 }, (_, i) => Math.sin(i * 1.7) * 1000 + (i % 7) * 0.125);
    const whole = accumulate(values);
    for (let cut = 0; cut <= values.length; cut++) {
      const merged = Accumulator.merge(accumulate(values.slice(0, cut)), accumulate(values.slice(cut)));
      expectSameStats(merged, whole);
    }
  });

  it('merging many parts in any grouping equals one pass', () => {
    const values = Array.from({ length: 1000 }, (_, i) => ((i * 7919) % 1013) / 7 - 50);
    const whole = accumulate(values);
    const parts = [0, 1, 17, 250, 251, 600, 999, 1000];
    const accs = parts.slice(1).map((end, i) => accumulate(values.slice(parts[i], end)));
    const leftFold = accs.reduce((a, b) => Accumulator.merge(a, b));
    const rightFold = accs.reduceRight((a, b) => Accumulator.merge(b, a));
    expectSameStats(leftFold, whole);
    expectSameStats(rightFold, whole);
  });

  it('merging with an empty accumulator changes nothing, and leaves both inputs intact', () => {
    const a = accumulate([1, 2, 3]);
    const empty = new Accumulator();
    expectSameStats(Accumulator.merge(a, empty), a);
    expectSameStats(Accumulator.merge(empty, a), a);
    expect(a.count).toBe(3);
    expect(empty.count).toBe(0);
  });

  it('round-trips through its plain state (as sent between threads)', () => {
    const a = accumulate([1e16, 1, 1, 3.5]);
    const copy = Accumulator.fromJSON(structuredClone(a.toJSON()));
    expectSameStats(copy, a);
    expect(copy.sum).toBe(a.sum);
  });
});
