import { describe, expect, it } from 'vitest';
import { NumberDistinct, TextDistinct, type DistinctLimits } from './distinct';
import { HyperLogLog } from './hyperloglog';
import { hashDouble } from './hash';
import { MAX_BINS, QuantileSketch } from './quantile-sketch';
import { Quantiles, select } from './quantiles';

function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const LIMITS: DistinctLimits = { maxExact: 1000, maxExactBytes: 10_000, precision: 14 };

describe('HyperLogLog', () => {
  it.each([0, 1, 10, 1000, 50_000, 300_000, 3_000_000])('estimates %d distinct values within 3 standard errors', (n) => {
    const hll = new HyperLogLog(14);
    for (let i = 0; i < n; i++) {
      const v = i * 1.5 + 0.25;
      hll.add(hashDouble(v));
      hll.add(hashDouble(v)); // duplicates change nothing
    }
    const error = n === 0 ? hll.estimate() : Math.abs(hll.estimate() - n) / n;
    expect(error).toBeLessThanOrEqual(n === 0 ? 0 : 3 * 0.0081);
  });

  it('merges by register maximum: the union sketch equals a sketch of the union', () => {
    const a = new HyperLogLog(12);
    const b = new HyperLogLog(12);
    const both = new HyperLogLog(12);
    for (let i = 0; i < 20_000; i++) {
      const h = hashDouble(i);
      (i % 3 === 0 ? a : b).add(h);
      both.add(h);
    }
    a.merge(b);
    expect(a.registers).toEqual(both.registers);
  });
});

describe('NumberDistinct and TextDistinct', () => {
  it('count exactly up to the limit, compare numbers by value, then estimate', () => {
    const d = new NumberDistinct(LIMITS);
    for (const v of [1, 1.0, -0, 0, 2.5, 2.5]) d.add(v);
    expect([d.count(), d.exact]).toEqual([3, true]);
    for (let i = 0; i < 5000; i++) d.add(i + 0.5);
    expect(d.exact).toBe(false);
    expect(Math.abs(d.count() - 5002) / 5002).toBeLessThan(0.03);
  });

  it('texts are compared byte for byte and go to a HyperLogLog past the byte limit', () => {
    const d = new TextDistinct({ maxExact: 100, maxExactBytes: 20, precision: 14 });
    const add = (s: string): void => {
      const b = Buffer.from(`[${s}]`);
      d.add(b, 1, b.length - 1);
    };
    for (const s of ['a', 'b', 'a', 'ab', '', 'ü']) add(s);
    expect([d.count(), d.exact]).toEqual([5, true]);
    add('x'.repeat(30));
    expect(d.exact).toBe(false);
    expect(d.count()).toBe(6);
  });

  it('merging states of any split equals one counter (exact and estimated)', () => {
    const values = Array.from({ length: 3000 }, (_, i) => (i * 7919) % 1500);
    for (const maxExact of [100_000, 700]) {
      const limits = { ...LIMITS, maxExact };
      const whole = new NumberDistinct(limits);
      for (const v of values) whole.add(v);
      for (const cut of [0, 1, 1000, 2999]) {
        const a = new NumberDistinct(limits);
        const b = new NumberDistinct(limits);
        values.slice(0, cut).forEach((v) => a.add(v));
        values.slice(cut).forEach((v) => b.add(v));
        a.addState(structuredClone(b.toState()));
        expect([a.count(), a.exact], `limit ${maxExact}, cut ${cut}`).toEqual([whole.count(), whole.exact]);
      }
    }
  });
});

describe('QuantileSketch', () => {
  it('estimates every rank within 0.4 % relative error, for both signs and zeros', () => {
    const rnd = random(7);
    const values = Array.from({ length: 20_000 }, (_, i) =>
      i % 50 === 0 ? 0 : (rnd() - 0.3) * 10 ** Math.floor(rnd() * 6 - 2),
    );
    const sketch = new QuantileSketch();
    values.forEach((v) => sketch.add(v));
    const sorted = [...values].sort((a, b) => a - b);
    const min = sorted[0]!;
    const max = sorted.at(-1)!;
    for (let r = 0; r < sorted.length; r += 97) {
      const exact = sorted[r]!;
      const estimate = sketch.valueAt(r, min, max);
      expect(Math.abs(estimate - exact), `rank ${r}`).toBeLessThanOrEqual(Math.abs(exact) * 0.004);
    }
  });

  it('gives the same buckets whatever the order or split (collapse included)', () => {
    const rnd = random(11);
    // Magnitudes over 2^-60..2^20: more than MAX_BINS buckets, so the lowest collapse.
    const values = Array.from({ length: 5000 }, () => 2 ** (rnd() * 80 - 60) * (rnd() < 0.5 ? -1 : 1));
    const whole = new QuantileSketch();
    values.forEach((v) => whole.add(v));
    const parts = [new QuantileSketch(), new QuantileSketch(), new QuantileSketch()];
    [...values].reverse().forEach((v, i) => parts[i % 3]!.add(v));
    const merged = new QuantileSketch(structuredClone(parts[0]!.toState()));
    merged.merge(parts[2]!);
    merged.merge(parts[1]!);
    const trim = (s: ReturnType<QuantileSketch['toState']>): unknown => {
      const t = (st: { offset: number; counts: Float64Array }): number[] => {
        const out: number[] = [];
        st.counts.forEach((c, i) => c > 0 && out.push(st.offset + i, c));
        return out;
      };
      return [t(s.negative), t(s.positive), s.zeros];
    };
    expect(trim(merged.toState())).toEqual(trim(whole.toState()));
    expect(whole.toState().positive.counts.length).toBeLessThanOrEqual(MAX_BINS);
  });
});

describe('Quantiles', () => {
  it('interpolates between order statistics (type 7) while exact', () => {
    const q = new Quantiles(10);
    q.addMany(new Float64Array([4, 1, 3, 2]), 4);
    // h = 3p: q1 at 0.75 → 1.75, median at 1.5 → 2.5, q3 at 2.25 → 3.25.
    expect(q.quartiles(1, 4)).toEqual({ q1: 1.75, median: 2.5, q3: 3.25, exact: true });
  });

  it('select finds every order statistic, duplicates included', () => {
    const rnd = random(3);
    const values = Float64Array.from({ length: 501 }, () => Math.floor(rnd() * 50));
    const sorted = [...values].sort((a, b) => a - b);
    for (let k = 0; k < values.length; k += 7) expect(select(values.slice(), k)).toBe(sorted[k]);
  });
});
