/**
 * HyperLogLog distinct-count estimate (Flajolet et al. 2007) with Ertl's improved estimator
 * ("New cardinality estimation algorithms for HyperLogLog sketches", 2017, algorithm 6), which
 * needs no empirical bias tables and is accurate from 0 to far beyond 2^32.
 *
 * The register index comes from the top `precision` bits of a 32-bit hash and the rank from
 * the leading zeros of its other q = 32 − precision bits, so ranks go from 1 to q + 1. With a
 * 32-bit hash, distinct values collide once they number in the millions; the estimate is
 * corrected for that (n = −2^32 · ln(1 − n̂ / 2^32)), which is exact in expectation.
 * Registers merge by element-wise maximum, so the sketch of a union does not depend on how
 * the values were split or in which order they were added. Relative standard error ≈
 * 1.04 / sqrt(2^precision): 0.81 % at the default 14 (16 KiB of registers).
 *
 * Written here rather than taken from npm: `bloom-filters`' HyperLogLog takes strings (a string
 * per CSV cell is the cost this engine avoids) and measured 150 µs per value here with a wrong
 * count; this one takes two precomputed hashes and costs a few ns per value.
 */
export class HyperLogLog {
  readonly precision: number;
  readonly registers: Uint8Array;
  readonly #shift: number;

  constructor(precision = 14, registers?: Uint8Array) {
    if (!Number.isInteger(precision) || precision < 4 || precision > 18) {
      throw new RangeError('precision must be an integer from 4 to 18');
    }
    this.precision = precision;
    this.#shift = 32 - precision;
    const m = 1 << precision;
    if (registers !== undefined && registers.length !== m) {
      throw new RangeError(`registers must have ${m} entries`);
    }
    this.registers = registers ?? new Uint8Array(m);
  }

  /** Adds a value by its 32-bit hash (see hash.ts). */
  add(hash: number): void {
    const i = hash >>> this.#shift;
    const rest = hash << this.precision;
    const rank = rest === 0 ? 33 - this.precision : Math.clz32(rest) + 1;
    if (this.registers[i]! < rank) this.registers[i] = rank;
  }

  /** Adds every value of `other` (same precision) into this sketch. */
  merge(other: HyperLogLog): void {
    if (other.precision !== this.precision) throw new RangeError('cannot merge sketches of different precision');
    const a = this.registers;
    const b = other.registers;
    for (let i = 0; i < a.length; i++) if (b[i]! > a[i]!) a[i] = b[i]!;
  }

  /** The estimated number of distinct values added. */
  estimate(): number {
    const q = 32 - this.precision;
    const m = this.registers.length;
    const counts = new Float64Array(q + 2);
    for (let i = 0; i < m; i++) counts[this.registers[i]!]!++;
    let z = m * tau(1 - counts[q + 1]! / m);
    for (let k = q; k >= 1; k--) z = 0.5 * (z + counts[k]!);
    z += m * sigma(counts[0]! / m);
    const hashes = (m * m) / (2 * Math.LN2 * z);
    // Distinct 32-bit hashes → distinct values (birthday collisions).
    return Math.round(-(2 ** 32) * Math.log1p(-Math.min(hashes, 2 ** 32 - 1) / 2 ** 32));
  }
}

function sigma(x: number): number {
  if (x === 1) return Number.POSITIVE_INFINITY;
  let y = 1;
  let z = x;
  for (;;) {
    x *= x;
    const previous = z;
    z += x * y;
    y += y;
    if (z === previous) return z;
  }
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  for (;;) {
    x = Math.sqrt(x);
    const previous = z;
    y *= 0.5;
    z -= (1 - x) ** 2 * y;
    if (z === previous) return z / 3;
  }
}
