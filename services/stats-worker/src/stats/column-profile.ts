import type { ColumnStats } from '@spindle/sdk';
import { NumberDistinct, TextDistinct, type DistinctLimits, type DistinctState } from '../sketch/distinct';
import { hashBytes } from '../sketch/hash';
import { HyperLogLog } from '../sketch/hyperloglog';
import { Quantiles, type QuantilesState } from '../sketch/quantiles';
import { Accumulator, type AccumulatorState } from './accumulator';
import {
  COLUMN_TYPE_BOOLEAN,
  COLUMN_TYPE_DATE,
  COLUMN_TYPE_DATETIME,
  COLUMN_TYPE_FLOAT,
  COLUMN_TYPE_INTEGER,
  COLUMN_TYPE_STRING,
} from './column-types';
import { parseNumber, type ParsedNumber } from './parse-number';
import { parseBoolean, parseTemporal, type ParsedTemporal } from './parse-temporal';

/**
 * Share of a column's non-null cells that must be of one kind for the column to get that
 * kind's type: 95 %. Below it the column is STRING. Written as a ratio of integers so the
 * decision is exact: kind × 20 ≥ nonNull × 19.
 */
export const TYPE_MIN_SHARE = { numerator: 19, denominator: 20 } as const;

/** Per-column limits, derived from the worker's per-file budgets (see limits.ts). */
export interface ColumnLimits {
  /** Numbers kept for exact quantiles; more switch the column to the sketch. */
  maxExactQuantiles: number;
  /** Exact distinct limits and the HyperLogLog precision. */
  distinct: DistinctLimits;
}

/** Serialised {@link ColumnProfile}: structured-cloneable, mergeable with {@link ColumnProfile.merge}. */
export interface ColumnState {
  name: string;
  nulls: number;
  ints: number;
  floats: number;
  trues: number;
  falses: number;
  dates: number;
  datetimes: number;
  texts: number;
  minLength: number;
  maxLength: number;
  moments: AccumulatorState;
  quantiles: QuantilesState;
  numbers: DistinctState | null;
  temporal: DistinctState | null;
  textDistinct: DistinctState | null;
  minMs: number;
  maxMs: number;
  minText: string;
  maxText: string;
}

/** Numbers are handed to the accumulators in blocks of this many (see Accumulator.addMany). */
const BLOCK = 256;
const MAX_TEMPORAL_TEXT = 48;

/**
 * Profiles one CSV column in a single pass, reading cells straight from the parser's bytes.
 *
 * Every non-null cell is classified as exactly one of: integer, float (parse-number.ts),
 * boolean, date, datetime (parse-temporal.ts), or text. A cell that is empty after trimming
 * ASCII spaces and tabs is a null. The counts of each kind are kept for the whole column, and
 * so are the statistics of each kind (moments, quantiles and distinct values of the numbers,
 * range of the dates, lengths and distinct values of everything), because the column's type
 * is only known at the end; see {@link toColumnStats} for the rule.
 */
export class ColumnProfile {
  readonly name: string;
  nulls = 0;
  ints = 0;
  floats = 0;
  trues = 0;
  falses = 0;
  dates = 0;
  datetimes = 0;
  texts = 0;
  /** Shortest and longest non-null cell, in characters (UTF-8 code points). */
  minLength = Number.POSITIVE_INFINITY;
  maxLength = 0;
  readonly #limits: ColumnLimits;
  readonly #moments = new Accumulator();
  readonly #quantiles: Quantiles;
  #numbers: NumberDistinct | null = null;
  #temporal: NumberDistinct | null = null;
  #textDistinct: TextDistinct | null = null;
  readonly #block = new Float64Array(BLOCK);
  #blockLength = 0;
  #minMs = Number.POSITIVE_INFINITY;
  #maxMs = Number.NEGATIVE_INFINITY;
  // The texts of the earliest and latest value: kept as bytes, because in a sorted column
  // every cell is a new maximum and a string per cell would cost more than the parse.
  readonly #minBytes = new Uint8Array(MAX_TEMPORAL_TEXT);
  readonly #maxBytes = new Uint8Array(MAX_TEMPORAL_TEXT);
  #minBytesLength = 0;
  #maxBytesLength = 0;
  /** Set by a merge: the texts then come from the merged state. */
  #minText: string | null = null;
  #maxText: string | null = null;
  // Scratch for the rare paths.
  readonly #parsed: ParsedNumber = { value: 0, integer: false };
  readonly #temporalOut: ParsedTemporal = { ms: 0, hasTime: false };

  constructor(name: string, limits: ColumnLimits) {
    this.name = name;
    this.#limits = limits;
    this.#quantiles = new Quantiles(limits.maxExactQuantiles);
  }

  /**
   * Adds a number cell that the caller already parsed (the engine's fast path).
   * `length` is the cell's length in bytes, which for a number is its length in characters.
   */
  addNumber(value: number, integer: boolean, length: number): void {
    if (integer) this.ints++;
    else this.floats++;
    if (length < this.minLength) this.minLength = length;
    if (length > this.maxLength) this.maxLength = length;
    this.#block[this.#blockLength++] = value;
    if (this.#blockLength === BLOCK) this.flush();
  }

  /**
   * Adds `values[0, n)`, numbers the caller parsed and staged (the engine's fast path keeps a
   * block per column in flat arrays, which is cheaper per cell than a call): `integers` of
   * them were integer literals, and their cell lengths ranged from `minLength` to `maxLength`.
   */
  addNumbers(values: Float64Array, n: number, integers: number, minLength: number, maxLength: number): void {
    if (n === 0) return;
    this.ints += integers;
    this.floats += n - integers;
    if (minLength < this.minLength) this.minLength = minLength;
    if (maxLength > this.maxLength) this.maxLength = maxLength;
    this.#moments.addMany(values, n);
    this.#quantiles.addMany(values, n);
    (this.#numbers ??= new NumberDistinct(this.#limits.distinct)).addMany(values, n);
  }

  /**
   * Adds the cell `buf[start, end)` (for a quoted cell, the bytes between the quotes).
   * `hasEscapedQuote` says the bytes contain doubled quotes (`""`) standing for one `"`.
   */
  addCell(buf: Uint8Array, start: number, end: number, hasEscapedQuote: boolean): void {
    let s = start;
    let e = end;
    while (s < e && (buf[s] === 0x20 || buf[s] === 0x09)) s++;
    while (e > s && (buf[e - 1] === 0x20 || buf[e - 1] === 0x09)) e--;
    if (s === e) {
      this.nulls++;
      return;
    }
    if (hasEscapedQuote) {
      // Only text has quotes; count and hash the text as it reads, with "" as one ".
      const text = unescapeQuotes(buf, s, e);
      this.#addText(text, 0, text.length);
      return;
    }
    if (parseNumber(buf, s, e, this.#parsed)) {
      this.addNumber(this.#parsed.value, this.#parsed.integer, e - s);
      return;
    }
    const bool = parseBoolean(buf, s, e);
    if (bool >= 0) {
      if (bool === 1) this.trues++;
      else this.falses++;
      this.#length(e - s);
      return;
    }
    if (parseTemporal(buf, s, e, this.#temporalOut)) {
      this.#addTemporal(buf, s, e, this.#temporalOut);
      return;
    }
    this.#addText(buf, s, e);
  }

  /** Adds a missing cell (a short row). */
  addNull(): void {
    this.nulls++;
  }

  /** Hands buffered numbers to the accumulators; call before reading results or state. */
  flush(): void {
    const n = this.#blockLength;
    if (n === 0) return;
    this.#blockLength = 0;
    const block = this.#block;
    this.#moments.addMany(block, n);
    this.#quantiles.addMany(block, n);
    (this.#numbers ??= new NumberDistinct(this.#limits.distinct)).addMany(block, n);
  }

  #length(chars: number): void {
    if (chars < this.minLength) this.minLength = chars;
    if (chars > this.maxLength) this.maxLength = chars;
  }

  #addText(buf: Uint8Array, s: number, e: number): void {
    this.texts++;
    let chars = e - s;
    for (let i = s; i < e; i++) if ((buf[i]! & 0xc0) === 0x80) chars--;
    this.#length(chars);
    (this.#textDistinct ??= new TextDistinct(this.#limits.distinct)).add(buf, s, e);
  }

  #addTemporal(buf: Uint8Array, s: number, e: number, t: ParsedTemporal): void {
    if (t.hasTime) this.datetimes++;
    else this.dates++;
    this.#length(e - s);
    (this.#temporal ??= new NumberDistinct(this.#limits.distinct)).add(t.ms);
    // Strictly less/greater: ties keep the first occurrence, as a merge in file order does.
    // (The grammar caps a temporal cell below MAX_TEMPORAL_TEXT bytes.)
    if (t.ms < this.#minMs) {
      this.#minMs = t.ms;
      this.#minBytes.set(buf.subarray(s, e));
      this.#minBytesLength = e - s;
      this.#minText = null;
    }
    if (t.ms > this.#maxMs) {
      this.#maxMs = t.ms;
      this.#maxBytes.set(buf.subarray(s, e));
      this.#maxBytesLength = e - s;
      this.#maxText = null;
    }
  }

  get #minTemporalText(): string {
    return this.#minText ?? asciiText(this.#minBytes, 0, this.#minBytesLength);
  }

  get #maxTemporalText(): string {
    return this.#maxText ?? asciiText(this.#maxBytes, 0, this.#maxBytesLength);
  }

  /** The state, for merging with the profiles of other parts of the same column. */
  toState(): ColumnState {
    this.flush();
    return {
      name: this.name,
      nulls: this.nulls,
      ints: this.ints,
      floats: this.floats,
      trues: this.trues,
      falses: this.falses,
      dates: this.dates,
      datetimes: this.datetimes,
      texts: this.texts,
      minLength: this.minLength,
      maxLength: this.maxLength,
      moments: this.#moments.toJSON(),
      quantiles: this.#quantiles.toState(),
      numbers: this.#numbers?.toState() ?? null,
      temporal: this.#temporal?.toState() ?? null,
      textDistinct: this.#textDistinct?.toState() ?? null,
      minMs: this.#minMs,
      maxMs: this.#maxMs,
      minText: this.#minTemporalText,
      maxText: this.#maxTemporalText,
    };
  }

  /**
   * Adds the state of the part of this column that follows what this profile has seen
   * (merging in file order keeps "first occurrence" tie-breaks identical to one pass).
   */
  merge(state: ColumnState): void {
    this.flush();
    this.nulls += state.nulls;
    this.ints += state.ints;
    this.floats += state.floats;
    this.trues += state.trues;
    this.falses += state.falses;
    this.dates += state.dates;
    this.datetimes += state.datetimes;
    this.texts += state.texts;
    this.minLength = Math.min(this.minLength, state.minLength);
    this.maxLength = Math.max(this.maxLength, state.maxLength);
    this.#moments.mergeState(state.moments);
    this.#quantiles.addState(state.quantiles);
    if (state.numbers) (this.#numbers ??= new NumberDistinct(this.#limits.distinct)).addState(state.numbers);
    if (state.temporal) (this.#temporal ??= new NumberDistinct(this.#limits.distinct)).addState(state.temporal);
    if (state.textDistinct) {
      (this.#textDistinct ??= new TextDistinct(this.#limits.distinct)).addState(state.textDistinct);
    }
    if (state.minMs < this.#minMs) {
      this.#minMs = state.minMs;
      this.#minText = state.minText;
    }
    if (state.maxMs > this.#maxMs) {
      this.#maxMs = state.maxMs;
      this.#maxText = state.maxText;
    }
  }

  /** Rebuilds a profile from its state. */
  static fromState(state: ColumnState, limits: ColumnLimits): ColumnProfile {
    const profile = new ColumnProfile(state.name, limits);
    profile.merge(state);
    return profile;
  }

  /**
   * The column's statistics. Type rule, over the non-null cells (N of them):
   * - numeric (INTEGER if no number has a point or exponent, else FLOAT) when at least 95 % of
   *   the N cells are numbers;
   * - else DATE/DATETIME when at least 95 % are dates or datetimes (DATETIME if any has a time);
   * - else BOOLEAN when at least 95 % are booleans;
   * - else STRING, also when N is 0.
   * The cells of a typed column that are not of its kind are counted in `invalid` and left out
   * of its statistics; `count` is the cells that are.
   */
  toColumnStats(): ColumnStats {
    this.flush();
    const numbers = this.ints + this.floats;
    const temporal = this.dates + this.datetimes;
    const bools = this.trues + this.falses;
    const nonNull = numbers + temporal + bools + this.texts;
    const { numerator, denominator } = TYPE_MIN_SHARE;
    const enough = (n: number): boolean => nonNull > 0 && n * denominator >= nonNull * numerator;
    const base = emptyStats(this.name, this.nulls);
    if (enough(numbers)) {
      const m = this.#moments;
      const q = this.#quantiles.quartiles(m.min, m.max);
      return {
        ...base,
        type: this.floats === 0 ? COLUMN_TYPE_INTEGER : COLUMN_TYPE_FLOAT,
        count: numbers,
        invalid: nonNull - numbers,
        numeric: true,
        sum: m.sum,
        mean: m.mean,
        std: m.std,
        min: m.min,
        max: m.max,
        median: q.median,
        q1: q.q1,
        q3: q.q3,
        quantilesExact: q.exact,
        distinct: this.#numbers?.count() ?? 0,
        distinctExact: this.#numbers?.exact ?? true,
      };
    }
    if (enough(temporal)) {
      return {
        ...base,
        type: this.datetimes === 0 ? COLUMN_TYPE_DATE : COLUMN_TYPE_DATETIME,
        count: temporal,
        invalid: nonNull - temporal,
        distinct: this.#temporal?.count() ?? 0,
        distinctExact: this.#temporal?.exact ?? true,
        minText: this.#minTemporalText,
        maxText: this.#maxTemporalText,
      };
    }
    if (enough(bools)) {
      const n = bools;
      const p = this.trues / n;
      return {
        ...base,
        type: COLUMN_TYPE_BOOLEAN,
        count: n,
        invalid: nonNull - n,
        sum: this.trues,
        mean: p,
        std: n < 2 ? 0 : Math.sqrt((p * (1 - p) * n) / (n - 1)),
        min: this.falses > 0 ? 0 : 1,
        max: this.trues > 0 ? 1 : 0,
        distinct: (this.trues > 0 ? 1 : 0) + (this.falses > 0 ? 1 : 0),
        distinctExact: true,
      };
    }
    const distinct = this.#unionDistinct();
    return {
      ...base,
      type: COLUMN_TYPE_STRING,
      count: nonNull,
      distinct: distinct.count,
      distinctExact: distinct.exact,
      minLength: nonNull === 0 ? 0 : this.minLength,
      maxLength: this.maxLength,
    };
  }

  /** Distinct values of every kind together: kinds never share a value, so counts add while exact. */
  #unionDistinct(): { count: number; exact: boolean } {
    const counters = [this.#numbers, this.#temporal, this.#textDistinct].filter((c) => c !== null);
    const bools = (this.trues > 0 ? 1 : 0) + (this.falses > 0 ? 1 : 0);
    if (counters.every((c) => c.exact)) {
      return { count: counters.reduce((sum, c) => sum + c.count(), bools), exact: true };
    }
    const hll = new HyperLogLog(this.#limits.distinct.precision);
    for (const c of counters) c.addTo(hll);
    for (const [seen, word] of [
      [this.trues > 0, 'true'],
      [this.falses > 0, 'false'],
    ] as const) {
      if (seen) hll.add(hashBytes(Buffer.from(word), 0, word.length));
    }
    return { count: hll.estimate(), exact: false };
  }
}

function emptyStats(name: string, nulls: number): ColumnStats {
  return {
    name,
    type: COLUMN_TYPE_STRING,
    count: 0,
    nulls,
    sum: 0,
    mean: 0,
    std: 0,
    min: 0,
    max: 0,
    numeric: false,
    invalid: 0,
    median: 0,
    q1: 0,
    q3: 0,
    quantilesExact: false,
    distinct: 0,
    distinctExact: true,
    minLength: 0,
    maxLength: 0,
    minText: '',
    maxText: '',
  };
}

/** `buf[s, e)` without doubled quotes, as a new array. */
function unescapeQuotes(buf: Uint8Array, s: number, e: number): Uint8Array {
  const out = new Uint8Array(e - s);
  let n = 0;
  for (let i = s; i < e; i++) {
    out[n++] = buf[i]!;
    if (buf[i] === 0x22 && buf[i + 1] === 0x22 && i + 1 < e) i++;
  }
  return out.subarray(0, n);
}

function asciiText(buf: Uint8Array, s: number, e: number): string {
  let text = '';
  for (let i = s; i < e; i++) text += String.fromCharCode(buf[i]!);
  return text;
}
