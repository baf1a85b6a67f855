import type { ColumnLimits } from './column-profile';

/**
 * Per-file budgets that bound the memory of one file (or one byte range of it) regardless of
 * its size. They are divided evenly among the file's columns, so a column's limits depend
 * only on the file's column count: every range of a split file uses the same ones, which
 * keeps split results equal to single-pass ones.
 */
export interface EngineLimits {
  /**
   * Numbers kept for exact medians and quartiles, over all columns. A column past its share
   * switches to the quantile sketch (≤ 0.4 % relative error).
   * @default 262_144 (2 MiB; a 6-column file is exact up to ~43,000 rows)
   */
  exactQuantileValues: number;
  /**
   * Distinct values counted exactly, over all columns. A column past its share switches to a
   * HyperLogLog estimate (0.81 % standard error). Text sets may also hold at most 32 bytes per
   * value of their share. Kept small on purpose: every byte range of a split file fills its
   * own exact sets before they overflow, and probing a set that outgrows the CPU caches costs
   * more than the HyperLogLog (measured: 110 ms per 43 MB file at 250,000).
   * @default 65_536 (a 6-column file: 10,922 per column)
   */
  exactDistinctValues: number;
  /**
   * Most columns a file may have; more fail the file with CSV_MALFORMED. Bounds the per-column
   * sketches (at most 16 KiB of HyperLogLog registers and 64 KiB of quantile buckets each).
   * @default 1024
   */
  maxColumns: number;
}

export const DEFAULT_ENGINE_LIMITS: Readonly<EngineLimits> = Object.freeze({
  exactQuantileValues: 262_144,
  exactDistinctValues: 65_536,
  maxColumns: 1024,
});

/** Bytes of distinct text an exact text set may keep, per value of its limit. */
export const EXACT_TEXT_BYTES_PER_VALUE = 32;
/** HyperLogLog precision: 2^14 registers, 0.81 % relative standard error. */
export const HLL_PRECISION = 14;

/** The limits of each column of a file with `columns` columns. */
export function columnLimits(limits: EngineLimits, columns: number): ColumnLimits {
  const n = Math.max(1, columns);
  const maxExact = Math.floor(limits.exactDistinctValues / n);
  return {
    maxExactQuantiles: Math.floor(limits.exactQuantileValues / n),
    distinct: {
      maxExact,
      maxExactBytes: maxExact * EXACT_TEXT_BYTES_PER_VALUE,
      precision: HLL_PRECISION,
    },
  };
}

/** Checks limits given by a caller; throws RangeError naming the bad field. */
export function checkEngineLimits(limits: EngineLimits): EngineLimits {
  for (const key of ['exactQuantileValues', 'exactDistinctValues'] as const) {
    const v = limits[key];
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`limits.${key} must be a non-negative integer`);
  }
  if (!Number.isInteger(limits.maxColumns) || limits.maxColumns < 1) {
    throw new RangeError('limits.maxColumns must be a positive integer');
  }
  return limits;
}
