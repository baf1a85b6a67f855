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
