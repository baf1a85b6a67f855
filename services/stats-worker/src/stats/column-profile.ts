import type { ColumnStats } from '@spindle/sdk';
import { Accumulator } from './accumulator';
import { COLUMN_TYPE_FLOAT, COLUMN_TYPE_INTEGER, COLUMN_TYPE_STRING } from './column-types';
import { parseNumber, type ParsedNumber } from './parse-number';

/**
 * Profiles one CSV column in a single pass, reading cells straight from the parser's bytes.
 *
 * Type inference rule (ColumnType in the proto):
 * - a cell that is empty after trimming ASCII spaces and tabs (including `""`) is a null;
 * - INTEGER when every non-null cell is an integer literal (`[+-]?digits`);
 * - FLOAT when every non-null cell is a decimal number (see parse-number.ts: "1e3", "-0.5",
 *   ".5", "+3") and at least one is not an integer literal;
 * - STRING otherwise, and also when the column has no non-null cell at all (nothing says it is
 *   numeric, and a mean of nothing is not a statistic).
 * One non-numeric cell makes the whole column STRING. A column is only known to be numeric at
 * the end of the file, so the numeric accumulator runs from the first cell and is dropped
 * at the first non-numeric one.
 */
export class ColumnProfile {
  /** Non-null cells. */
  count = 0;
  /** Null cells: empty ones, and missing ones of short rows. */
  nulls = 0;
  #numeric = true;
  #integer = true;
  #acc: Accumulator | null = new Accumulator();
  readonly #parsed: ParsedNumber = { value: 0, integer: false };

  constructor(readonly name: string) {}

  /** True while every non-null cell so far is a number. */
  get numeric(): boolean {
    return this.#numeric;
  }

  /**
   * Adds the cell `buf[start, end)` (for a quoted cell, the bytes between the quotes).
   * `hasEscapedQuote` says the bytes contain doubled quotes (`""`), which no number has.
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
    this.count++;
    const acc = this.#acc;
    if (acc === null) return;
    if (!hasEscapedQuote && parseNumber(buf, s, e, this.#parsed)) {
      acc.add(this.#parsed.value);
      if (!this.#parsed.integer) this.#integer = false;
    } else {
      this.#numeric = false;
      this.#acc = null;
    }
  }

  /** Adds a missing cell (a short row). */
  addNull(): void {
    this.nulls++;
  }

  /** The column's statistics; numeric fields are 0 unless the column is numeric. */
  toColumnStats(): ColumnStats {
    const acc = this.#acc;
    if (!this.#numeric || acc === null || this.count === 0) {
      return {
        name: this.name,
        type: COLUMN_TYPE_STRING,
        count: this.count,
        nulls: this.nulls,
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
        distinctExact: false,
        minLength: 0,
        maxLength: 0,
        minText: '',
        maxText: '',
      };
    }
    return {
      name: this.name,
      type: this.#integer ? COLUMN_TYPE_INTEGER : COLUMN_TYPE_FLOAT,
      count: this.count,
      nulls: this.nulls,
      sum: acc.sum,
      mean: acc.mean,
      std: acc.std,
      min: acc.min,
      max: acc.max,
      numeric: true,
      invalid: 0,
      median: 0,
      q1: 0,
      q3: 0,
      quantilesExact: false,
      distinct: 0,
      distinctExact: false,
      minLength: 0,
      maxLength: 0,
      minText: '',
      maxText: '',
    };
  }
}
