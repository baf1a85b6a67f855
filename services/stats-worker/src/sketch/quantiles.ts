import { QuantileSketch, type QuantileSketchState } from './quantile-sketch';

/** Serialised {@link Quantiles}: the kept values while exact, else the sketch. */
export type QuantilesState =
  | { kind: 'exact'; values: Float64Array }
  | { kind: 'sketch'; sketch: QuantileSketchState };

/** Quartiles of a column; `exact` false when they come from the sketch. */
export interface QuartileValues {
  q1: number;
  median: number;
  q3: number;
  exact: boolean;
}

/**
 * Median and quartiles of a numeric column: exact while the column has at most `maxExact`
 * values (they are kept and selected at the end), a {@link QuantileSketch} beyond (relative
 * error ≤ 0.4 %). Whether the result is exact depends only on the number of values, so a
 * split file gives the same answer as a whole one.
 *
 * Quantiles use linear interpolation between order statistics (pandas' and NumPy's default,
 * "type 7"): q(p) = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]) with h = (n − 1)·p.
 */
export class Quantiles {
  readonly #maxExact: number;
  /**
   * The kept values, in chunks of CHUNK: no large allocation grows and is thrown away when a
   * column overflows to the sketch (large short-lived buffers are what stays in glibc's
   * per-thread arenas).
   */
  #chunks: Float64Array[] = [];
  #n = 0;
  #sketch: QuantileSketch | null = null;

  constructor(maxExact: number) {
    if (!Number.isInteger(maxExact) || maxExact < 0) throw new RangeError('maxExact must be a non-negative integer');
    this.#maxExact = maxExact;
    if (maxExact === 0) this.#sketch = new QuantileSketch();
  }

  get count(): number {
    return this.#sketch?.count ?? this.#n;
  }

  /** Adds `values[0, n)` (finite numbers). */
  addMany(values: Float64Array, n: number): void {
    if (this.#sketch !== null) {
      this.#sketch.addMany(values, n);
      return;
    }
    if (this.#n + n > this.#maxExact) {
      this.#toSketch();
      this.#sketch!.addMany(values, n);
      return;
    }
    let from = 0;
    while (from < n) {
      const at = this.#n % CHUNK;
      if (at === 0) this.#chunks.push(new Float64Array(Math.min(CHUNK, this.#maxExact - this.#n)));
      const chunk = this.#chunks[this.#chunks.length - 1]!;
      const take = Math.min(n - from, chunk.length - at);
      chunk.set(values.subarray(from, from + take), at);
      from += take;
      this.#n += take;
    }
  }

  addState(state: QuantilesState): void {
    if (state.kind === 'exact') {
      this.addMany(state.values, state.values.length);
      return;
    }
    if (this.#sketch === null) this.#toSketch();
    this.#sketch!.merge(new QuantileSketch(state.sketch));
  }

  toState(): QuantilesState {
    if (this.#sketch !== null) return { kind: 'sketch', sketch: this.#sketch.toState() };
    return { kind: 'exact', values: this.#values() };
  }

  static fromState(state: QuantilesState, maxExact: number): Quantiles {
    const q = new Quantiles(maxExact);
    q.addState(state);
    return q;
  }

  /** Q1, median and Q3; `min` and `max` are the exact extremes (used to clamp estimates). */
  quartiles(min: number, max: number): QuartileValues {
    const n = this.count;
    if (n === 0) return { q1: 0, median: 0, q3: 0, exact: true };
    if (this.#sketch !== null) {
      const sketch = this.#sketch;
      const at = (p: number): number => {
        const h = (n - 1) * p;
        const lo = Math.floor(h);
        const a = sketch.valueAt(lo, min, max);
        if (lo === h) return a;
        return a + (h - lo) * (sketch.valueAt(lo + 1, min, max) - a);
      };
      return { q1: at(0.25), median: at(0.5), q3: at(0.75), exact: false };
    }
    // Select in a copy: the state must stay intact for a later merge.
    const values = this.#values();
    const at = (p: number): number => {
      const h = (n - 1) * p;
      const lo = Math.floor(h);
      const a = select(values, lo);
      if (lo === h) return a;
      return a + (h - lo) * (select(values, lo + 1) - a);
    };
    return { q1: at(0.25), median: at(0.5), q3: at(0.75), exact: true };
  }

  /** The kept values, contiguous (a new array). */
  #values(): Float64Array {
    const out = new Float64Array(this.#n);
    let at = 0;
    for (const chunk of this.#chunks) {
      const take = Math.min(chunk.length, this.#n - at);
      out.set(take === chunk.length ? chunk : chunk.subarray(0, take), at);
      at += take;
    }
    return out;
  }

  #toSketch(): void {
    const sketch = new QuantileSketch();
    let left = this.#n;
    for (const chunk of this.#chunks) {
      const take = Math.min(chunk.length, left);
      sketch.addMany(chunk, take);
      left -= take;
    }
    this.#sketch = sketch;
    this.#chunks = [];
    this.#n = 0;
  }
}

/** Values per chunk of kept values: 32 KiB, under glibc's mmap threshold. */
const CHUNK = 4096;

/**
 * The k-th smallest value (0-based) of `a`, by in-place quickselect (Hoare partition,
 * median-of-three pivot): O(n) on average, so a million kept values take milliseconds,
 * not the ~100 ms of a full sort. Reorders `a`.
 */
export function select(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // Median of three as the pivot guards against sorted input.
    let x = a[lo]!;
    let y = a[mid]!;
    let z = a[hi]!;
    if (x > y) [x, y] = [y, x];
    if (y > z) [y, z] = [z, y];
    if (x > y) [x, y] = [y, x];
    const pivot = y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}
