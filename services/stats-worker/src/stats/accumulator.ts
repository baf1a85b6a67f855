/**
 * Streaming moments of one numeric column: count, sum, mean, variance (Welford), min, max.
 * Pure and mergeable: accumulators of disjoint parts of a column combine with {@link merge}
 * (Chan, Golub and LeVeque's pairwise update) into the accumulator of the whole, so a file can
 * be split across threads or a column across files without a second pass.
 */
export class Accumulator {
  /** Values added. */
  count = 0;
  /** Running mean (Welford); 0 while empty. */
  mean = 0;
  /** Sum of squared deviations from the mean. */
  m2 = 0;
  /** Smallest value; +Infinity while empty. */
  min = Number.POSITIVE_INFINITY;
  /** Largest value; -Infinity while empty. */
  max = Number.NEGATIVE_INFINITY;
  // Neumaier-compensated sum: `sum` is reported, and a plain running sum of a million
  // values of mixed magnitude loses digits that users compare against other tools.
  #sum = 0;
  #compensation = 0;

  /** Adds one finite value. */
  add(x: number): void {
    const n = ++this.count;
    const delta = x - this.mean;
    this.mean += delta / n;
    this.m2 += delta * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    const t = this.#sum + x;
    if (Math.abs(this.#sum) >= Math.abs(x)) this.#compensation += this.#sum - t + x;
    else this.#compensation += x - t + this.#sum;
    this.#sum = t;
  }

  /**
   * Adds `values[0, n)`: the block's own mean and M2 in two passes (exact to rounding), then
   * one Chan merge into the running state. Same result as `n` calls of {@link add} to
   * floating-point tolerance, without a division per value: the engine buffers each column's
   * numbers and hands them over in blocks.
   */
  addMany(values: Float64Array, n: number): void {
    if (n <= 0) return;
    let sum = 0;
    let compensation = 0;
    let min = this.min;
    let max = this.max;
    for (let i = 0; i < n; i++) {
      const x = values[i]!;
      const t = sum + x;
      if (Math.abs(sum) >= Math.abs(x)) compensation += sum - t + x;
      else compensation += x - t + sum;
      sum = t;
      if (x < min) min = x;
      if (x > max) max = x;
    }
    const mean = (sum + compensation) / n;
    let m2 = 0;
    for (let i = 0; i < n; i++) {
      const d = values[i]! - mean;
      m2 += d * d;
    }
    this.min = min;
    this.max = max;
    const count = this.count + n;
    const delta = mean - this.mean;
    this.m2 += m2 + ((delta * delta * this.count) / count) * n;
    this.mean += (delta * n) / count;
    this.count = count;
    this.#addSum(sum, compensation);
  }

  /** Merges the state of values that follow this accumulator's (Chan et al., in place). */
  mergeState(state: AccumulatorState): void {
    if (state.count === 0) return;
    const count = this.count + state.count;
    const delta = state.mean - this.mean;
    this.m2 += state.m2 + ((delta * delta * this.count) / count) * state.count;
    this.mean += (delta * state.count) / count;
    this.count = count;
    if (state.min < this.min) this.min = state.min;
    if (state.max > this.max) this.max = state.max;
    this.#addSum(state.sum, state.compensation);
  }

  /** Neumaier-adds a (sum, compensation) pair into the running sum. */
  #addSum(sum: number, compensation: number): void {
    const t = this.#sum + sum;
    if (Math.abs(this.#sum) >= Math.abs(sum)) this.#compensation += this.#sum - t + sum;
    else this.#compensation += sum - t + this.#sum;
    this.#compensation += compensation;
    this.#sum = t;
  }

  /** Sum of the values. */
  get sum(): number {
    return this.#sum + this.#compensation;
  }

  /** Sample variance (n - 1 denominator); 0 when fewer than two values. */
  get variance(): number {
    return this.count < 2 ? 0 : Math.max(0, this.m2 / (this.count - 1));
  }

  /** Sample standard deviation; 0 when fewer than two values. */
  get std(): number {
    return Math.sqrt(this.variance);
  }

  /** A plain, structured-cloneable copy of the state. */
  toJSON(): AccumulatorState {
    return {
      count: this.count,
      mean: this.mean,
      m2: this.m2,
      min: this.min,
      max: this.max,
      sum: this.#sum,
      compensation: this.#compensation,
    };
  }

  /** Rebuilds an accumulator from {@link toJSON}'s output. */
  static fromJSON(state: AccumulatorState): Accumulator {
    const acc = new Accumulator();
    acc.count = state.count;
    acc.mean = state.mean;
    acc.m2 = state.m2;
    acc.min = state.min;
    acc.max = state.max;
    acc.#sum = state.sum;
    acc.#compensation = state.compensation;
    return acc;
  }

  /**
   * The accumulator of the concatenation of `a`'s and `b`'s values (neither is changed).
   * Chan et al.: mean = ma + δ·nb/n, M2 = M2a + M2b + δ²·na·nb/n, with δ = mb − ma.
   */
  static merge(a: Accumulator, b: Accumulator): Accumulator {
    if (b.count === 0) return Accumulator.fromJSON(a.toJSON());
    if (a.count === 0) return Accumulator.fromJSON(b.toJSON());
    const out = new Accumulator();
    const n = a.count + b.count;
    const delta = b.mean - a.mean;
    out.count = n;
    out.mean = a.mean + (delta * b.count) / n;
    out.m2 = a.m2 + b.m2 + ((delta * delta * a.count) / n) * b.count;
    out.min = Math.min(a.min, b.min);
    out.max = Math.max(a.max, b.max);
    // Neumaier-add b's two parts into a's.
    let sum = a.#sum;
    let compensation = a.#compensation + b.#compensation;
    const t = sum + b.#sum;
    if (Math.abs(sum) >= Math.abs(b.#sum)) compensation += sum - t + b.#sum;
    else compensation += b.#sum - t + sum;
    sum = t;
    out.#sum = sum;
    out.#compensation = compensation;
    return out;
  }
}

/** Serialised {@link Accumulator}. */
export interface AccumulatorState {
  count: number;
  mean: number;
  m2: number;
  min: number;
  max: number;
  sum: number;
  compensation: number;
}
