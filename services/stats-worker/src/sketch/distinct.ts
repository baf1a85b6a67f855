import { hashBytes, hashDouble } from './hash';
import { HyperLogLog } from './hyperloglog';

/**
 * Serialised distinct counter: the exact set while it is within its limits, else the
 * HyperLogLog registers. Plain typed arrays, so it crosses threads by structured clone or
 * transfer. A state may share arrays with the counter it came from (no copy: states are
 * made to be sent away); do not add to a counter after transferring its state.
 */
export type DistinctState =
  | { kind: 'numbers'; values: Float64Array }
  | { kind: 'texts'; arena: Uint8Array; ends: Int32Array }
  | { kind: 'hll'; registers: Uint8Array };

/** Limits of a distinct counter. */
export interface DistinctLimits {
  /** Distinct values counted exactly; one more turns the counter into a HyperLogLog. */
  maxExact: number;
  /** Texts only: bytes of distinct text kept for the exact set; more turns it into a HyperLogLog. */
  maxExactBytes: number;
  /** HyperLogLog precision (registers = 2^precision). */
  precision: number;
}


/**
 * Distinct count of finite numbers (compared by value, so "1.0" and "1" are one value):
 * exact in an open-addressing set up to `maxExact` values, a HyperLogLog beyond. Whether the
 * result is exact, and its value, depend only on the set of values added, not on their order
 * or on how they were split between counters that are merged afterwards.
 */
export class NumberDistinct {
  readonly #limits: DistinctLimits;
  /** Open-addressing table; NaN marks an empty slot (values are finite). */
  #keys: Float64Array | null = new Float64Array(16).fill(Number.NaN);
  #mask = 15;
  #size = 0;
  #hll: HyperLogLog | null = null;

  constructor(limits: DistinctLimits) {
    this.#limits = limits;
  }

  /** True while the count is exact. */
  get exact(): boolean {
    return this.#hll === null;
  }

  /** Distinct values so far (an estimate once {@link exact} is false). */
  count(): number {
    return this.#hll === null ? this.#size : this.#hll.estimate();
  }

  /** Adds one finite number. */
  add(value: number): void {
    const v = value + 0; // -0 → +0: equal values, different bits
    const h1 = hashDouble(v);
    const keys = this.#keys;
    if (keys === null) {
      this.#hll!.add(h1);
      return;
    }
    let i = h1 & this.#mask;
    for (;;) {
      const k = keys[i]!;
      if (k === v) return;
      if (k !== k) break; // NaN: empty slot
      i = (i + 1) & this.#mask;
    }
    keys[i] = v;
    if (++this.#size > this.#limits.maxExact) this.#toHll();
    else if (this.#size * 2 > keys.length) this.#grow();
  }

  /** Adds `values[0, n)`. */
  addMany(values: Float64Array, n: number): void {
    const hll = this.#hll;
    if (hll === null) {
      // Exact mode, inlined: a low-cardinality column stays here for the whole file.
      for (let i = 0; i < n; i++) {
        const v = values[i]! + 0;
        const keys = this.#keys!;
        const mask = this.#mask;
        let j = hashDouble(v) & mask;
        let k = keys[j]!;
        while (k === k && k !== v) {
          j = (j + 1) & mask;
          k = keys[j]!;
        }
        if (k === v) continue;
        keys[j] = v;
        if (++this.#size > this.#limits.maxExact) {
          this.#toHll();
          this.addMany(values.subarray(i + 1), n - i - 1);
          return;
        }
        if (this.#size * 2 > keys.length) this.#grow();
      }
      return;
    }
    // HyperLogLog mode, inlined: this loop runs for every number of a high-cardinality column.
    for (let i = 0; i < n; i++) hll.add(hashDouble(values[i]! + 0));
  }

  /** Adds the values of another counter's state. */
  addState(state: DistinctState): void {
    if (state.kind === 'numbers') {
      for (const v of state.values) this.add(v);
    } else if (state.kind === 'hll') {
      if (this.#hll === null) this.#toHll();
      this.#hll!.merge(new HyperLogLog(this.#limits.precision, state.registers));
    } else {
      throw new TypeError('cannot add a text set to a number set');
    }
  }

  /** Adds everything counted here into `hll` (for the union of several counters). */
  addTo(hll: HyperLogLog): void {
    if (this.#hll !== null) {
      hll.merge(this.#hll);
      return;
    }
    for (const v of this.#keys!) {
      if (v === v) hll.add(hashDouble(v));
    }
  }

  toState(): DistinctState {
    if (this.#hll !== null) return { kind: 'hll', registers: this.#hll.registers };
    const values = new Float64Array(this.#size);
    let n = 0;
    for (const v of this.#keys!) if (v === v) values[n++] = v;
    return { kind: 'numbers', values };
  }

  static fromState(state: DistinctState, limits: DistinctLimits): NumberDistinct {
    const counter = new NumberDistinct(limits);
    counter.addState(state);
    return counter;
  }

  #grow(): void {
    const old = this.#keys!;
    const keys = new Float64Array(old.length * 2).fill(Number.NaN);
    const mask = keys.length - 1;
    for (const v of old) {
      if (v !== v) continue;
      let i = hashDouble(v) & mask;
      while (keys[i] === keys[i]) i = (i + 1) & mask;
      keys[i] = v;
    }
    this.#keys = keys;
    this.#mask = mask;
  }

  #toHll(): void {
    const hll = new HyperLogLog(this.#limits.precision);
    for (const v of this.#keys!) if (v === v) hll.add(hashDouble(v));
    this.#hll = hll;
    this.#keys = null;
  }
}

/**
 * Distinct count of texts (byte-wise equality): exact up to `maxExact` texts and
 * `maxExactBytes` bytes of them, a HyperLogLog beyond. The exact set keeps the bytes, so
 * "exact" means exact, not "no hash collision seen". Order- and split-independent like
 * {@link NumberDistinct}.
 */
export class TextDistinct {
  readonly #limits: DistinctLimits;
  /** Slot → entry index + 1 (0 = empty). */
  #slots: Int32Array | null = new Int32Array(16);
  #slotHashes = new Int32Array(16);
  #mask = 15;
  /** Entry i is `#arena[#ends[i - 1] ?? 0, #ends[i])`. */
  #arena: Buffer = Buffer.allocUnsafe(256);
  #ends = new Int32Array(16);
  #size = 0;
  #bytes = 0;
  #hll: HyperLogLog | null = null;

  constructor(limits: DistinctLimits) {
    this.#limits = limits;
  }

  get exact(): boolean {
    return this.#hll === null;
  }

  count(): number {
    return this.#hll === null ? this.#size : this.#hll.estimate();
  }

  /** Adds the text `buf[start, end)`. */
  add(buf: Uint8Array, start: number, end: number): void {
    const h1 = hashBytes(buf, start, end);
    const slots = this.#slots;
    if (slots === null) {
      this.#hll!.add(h1);
      return;
    }
    const len = end - start;
    const arena = this.#arena;
    const ends = this.#ends;
    let i = h1 & this.#mask;
    for (;;) {
      const entry = slots[i]!;
      if (entry === 0) break;
      if (this.#slotHashes[i] === (h1 | 0)) {
        const from = entry === 1 ? 0 : ends[entry - 2]!;
        if (ends[entry - 1]! - from === len) {
          let k = 0;
          while (k < len && arena[from + k] === buf[start + k]) k++;
          if (k === len) return;
        }
      }
      i = (i + 1) & this.#mask;
    }
    const n = this.#size;
    if (n + 1 > this.#limits.maxExact || this.#bytes + len > this.#limits.maxExactBytes) {
      this.#toHll();
      this.#hll!.add(h1);
      return;
    }
    if (this.#bytes + len > arena.length) this.#growArena(this.#bytes + len);
    this.#arena.set(buf.subarray(start, end), this.#bytes);
    this.#bytes += len;
    if (n === this.#ends.length) this.#growEntries();
    this.#ends[n] = this.#bytes;
    this.#size = n + 1;
    slots[i] = n + 1;
    this.#slotHashes[i] = h1 | 0;
    if (this.#size * 2 > slots.length) this.#growSlots();
  }

  addState(state: DistinctState): void {
    if (state.kind === 'texts') {
      let from = 0;
      for (const end of state.ends) {
        this.add(state.arena, from, end);
        from = end;
      }
    } else if (state.kind === 'hll') {
      if (this.#hll === null) this.#toHll();
      this.#hll!.merge(new HyperLogLog(this.#limits.precision, state.registers));
    } else {
      throw new TypeError('cannot add a number set to a text set');
    }
  }

  addTo(hll: HyperLogLog): void {
    if (this.#hll !== null) {
      hll.merge(this.#hll);
      return;
    }
    let from = 0;
    for (let i = 0; i < this.#size; i++) {
      const end = this.#ends[i]!;
      hll.add(hashBytes(this.#arena, from, end));
      from = end;
    }
  }

  toState(): DistinctState {
    if (this.#hll !== null) return { kind: 'hll', registers: this.#hll.registers };
    return {
      kind: 'texts',
      arena: new Uint8Array(this.#arena.subarray(0, this.#bytes)),
      ends: this.#ends.slice(0, this.#size),
    };
  }

  static fromState(state: DistinctState, limits: DistinctLimits): TextDistinct {
    const counter = new TextDistinct(limits);
    counter.addState(state);
    return counter;
  }

  #growArena(min: number): void {
    const grown = Buffer.allocUnsafe(Math.min(Math.max(min, this.#arena.length * 2), this.#limits.maxExactBytes));
    this.#arena.copy(grown, 0, 0, this.#bytes);
    this.#arena = grown;
  }

  #growEntries(): void {
    const ends = new Int32Array(this.#ends.length * 2);
    ends.set(this.#ends);
    this.#ends = ends;
  }

  #growSlots(): void {
    const size = this.#slots!.length * 2;
    const slots = new Int32Array(size);
    const slotHashes = new Int32Array(size);
    const mask = size - 1;
    const old = this.#slots!;
    for (let j = 0; j < old.length; j++) {
      const entry = old[j]!;
      if (entry === 0) continue;
      const h = this.#slotHashes[j]!;
      let i = h & mask;
      while (slots[i] !== 0) i = (i + 1) & mask;
      slots[i] = entry;
      slotHashes[i] = h;
    }
    this.#slots = slots;
    this.#slotHashes = slotHashes;
    this.#mask = mask;
  }

  #toHll(): void {
    const hll = new HyperLogLog(this.#limits.precision);
    let from = 0;
    for (let i = 0; i < this.#size; i++) {
      const end = this.#ends[i]!;
      hll.add(hashBytes(this.#arena, from, end));
      from = end;
    }
    this.#hll = hll;
    this.#slots = null;
    this.#arena = Buffer.alloc(0);
    this.#ends = new Int32Array(0);
  }
}

