import type { ColumnStats } from '@spindle/sdk';
import { StatsError } from '../errors';
import { CsvReader, FIELD_ESCAPED_QUOTE, type RecordSink, type RecordView } from '../csv/reader';
import { TextGuard } from '../csv/text-guard';
import { ColumnProfile, type ColumnState } from './column-profile';
import { checkEngineLimits, columnLimits, DEFAULT_ENGINE_LIMITS, type EngineLimits } from './limits';

/** Options of {@link StatsEngine}. */
export interface StatsEngineOptions {
  /**
   * Field delimiter byte.
   * @default 0x2c (",")
   */
  delimiter?: number;
  /**
   * True when the first record is data; columns are then named "column_1", "column_2", ...
   * Ignored when `columns` is given.
   * @default false
   */
  noHeader?: boolean;
  /**
   * Longest record accepted, in bytes; longer is CSV_MALFORMED.
   * @default 1048576 (1 MiB)
   */
  maxRecordBytes?: number;
  /**
   * The column names, when the header was read elsewhere (a byte range of a file that was
   * split): every record pushed is then data.
   */
  columns?: readonly string[];
  /** Per-file memory budgets. @default DEFAULT_ENGINE_LIMITS */
  limits?: EngineLimits;
  /**
   * Absolute offset of the first byte pushed (byte ranges); no BOM is looked for unless 0.
   * @default 0
   */
  startOffset?: number;
  /**
   * Stop at the first record that starts at or after this absolute offset (byte ranges);
   * see {@link StatsEngine.stopOffset}.
   * @default Infinity
   */
  stopAt?: number;
}

/** The statistics of one CSV file: StatsResult without what the executor adds. */
export interface FileStats {
  /** Data rows (the header is not counted; blank lines are skipped). */
  rows: number;
  /** Columns, from the header or (no_header) the first record. */
  columns: number;
  /** Bytes read, BOM and header included. */
  bytes: number;
  columnStats: ColumnStats[];
  /** Rows whose field count differs from the column count. */
  raggedRows: number;
}

/**
 * The mergeable state of a file, or of a part of it: what a thread sends back for a byte
 * range. Plain data (typed arrays inside), structured-cloneable.
 */
export interface FileState {
  rows: number;
  raggedRows: number;
  bytes: number;
  /** Null when no header (or first record) was seen: an empty file. */
  columns: ColumnState[] | null;
}

const LF = 0x0a;
const CR = 0x0d;
const MAX_EXACT_MANTISSA = Number.MAX_SAFE_INTEGER;
const POW10: readonly number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);
/** Numbers staged per column by the fast path before they go to the profile. */
const STAGE = 256;

/**
 * Single-pass, bounded-memory statistics of one CSV file (or one byte range of it), fed chunk
 * by chunk: encoding checks ({@link TextGuard}), parsing ({@link CsvReader}) and per-column
 * profiles ({@link ColumnProfile}). Pure: no I/O, so the same engine serves files, HTTP bodies,
 * byte ranges and tests. Errors are thrown as StatsError (CSV_MALFORMED).
 *
 * Hot path: the reader hands quote-free runs of complete records to {@link records}, which
 * splits fields and parses plain decimal numbers in the same loop over the bytes; everything
 * else (quoted fields, exponents, blanks, text, dates) goes through {@link record} and
 * ColumnProfile.addCell, which apply the same rules more slowly.
 *
 * Rows shorter than the header count their missing cells as nulls; longer rows' extra
 * fields are ignored; both count as ragged rows. An empty header cell names its column
 * "column_N" (N is 1-based), as with no_header.
 */
export class StatsEngine implements RecordSink {
  readonly #guard = new TextGuard();
  readonly #reader: CsvReader;
  readonly #noHeader: boolean;
  readonly #delimiter: number;
  readonly #maxRecordBytes: number;
  readonly #limits: EngineLimits;
  readonly #startOffset: number;
  /** False when the delimiter could be part of a number (a digit, sign or point). */
  readonly #fastPath: boolean;
  #profiles: ColumnProfile[] | null = null;
  // The fast path's staging, per column: a block of parsed numbers, how many, how many were
  // integer literals, and the shortest/longest cell. Handed to the profile when full (STAGE).
  #stages: Float64Array[] = [];
  #stageLength = new Int32Array(0);
  #stageIntegers = new Int32Array(0);
  #stageMinLength = new Int32Array(0);
  #stageMaxLength = new Int32Array(0);
  #rows = 0;
  #bytes = 0;
  #ragged = 0;

  constructor(options: StatsEngineOptions = {}) {
    this.#noHeader = options.noHeader ?? false;
    this.#delimiter = options.delimiter ?? 0x2c;
    this.#maxRecordBytes = options.maxRecordBytes ?? 1024 * 1024;
    this.#limits = checkEngineLimits(options.limits ?? DEFAULT_ENGINE_LIMITS);
    this.#startOffset = options.startOffset ?? 0;
    this.#fastPath = !/[0-9+\-.eE]/.test(String.fromCharCode(this.#delimiter));
    this.#reader = new CsvReader(this, {
      delimiter: this.#delimiter,
      maxRecordBytes: this.#maxRecordBytes,
      startOffset: this.#startOffset,
      stopAt: options.stopAt,
    });
    if (options.columns !== undefined) this.#createProfiles(options.columns);
  }

  /** Data rows so far. */
  get rows(): number {
    return this.#rows;
  }

  /** Bytes pushed so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** True once the `stopAt` offset was reached; further input is ignored. */
  get stopped(): boolean {
    return this.#reader.stopped;
  }

  /** Absolute offset of the first record not processed because of `stopAt`, or -1. */
  get stopOffset(): number {
    return this.#reader.stopOffset;
  }

  /** Feeds the next chunk of the file. The engine keeps no reference to it. */
  push(chunk: Uint8Array): void {
    if (this.#reader.stopped) return;
    const chunkStart = this.#startOffset + this.#bytes;
    this.#bytes += chunk.length;
    try {
      this.#reader.push(chunk);
    } catch (err) {
      // A binary or mis-encoded file makes a poor CSV: report the encoding, the real cause.
      this.#guard.check(chunk);
      throw err;
    }
    // Bytes past the stop offset belong to the next range, which checks them.
    const checked = this.#reader.stopped ? chunk.subarray(0, this.#reader.stopOffset - chunkStart) : chunk;
    this.#guard.check(checked);
  }

  /** Ends the input and returns the statistics (see also {@link toState}). */
  end(): FileStats {
    return StatsEngine.finalize(this.toState(), this.#limits);
  }

  /**
   * Ends the input and returns the mergeable state. For a stopped range, `bytes` counts the
   * bytes up to the stop offset.
   */
  toState(): FileState {
    if (!this.#reader.stopped) {
      this.#guard.end();
      this.#reader.end();
    } else {
      this.#reader.release();
    }
    const bytes = this.#reader.stopped ? this.#reader.stopOffset - this.#startOffset : this.#bytes;
    for (let col = 0; col < this.#stages.length; col++) this.#flushStage(col, this.#stageLength[col]!);
    return {
      rows: this.#rows,
      raggedRows: this.#ragged,
      bytes,
      columns: this.#profiles?.map((p) => p.toState()) ?? null,
    };
  }

  /** Merges `next` (the state of the bytes that follow) into `first`, which it returns. */
  static merge(first: FileState, next: FileState, limits: EngineLimits = DEFAULT_ENGINE_LIMITS): FileState {
    const columns = first.columns ?? next.columns;
    let merged = columns;
    if (first.columns !== null && next.columns !== null) {
      if (first.columns.length !== next.columns.length) {
        throw new Error('cannot merge the states of files with different column counts');
      }
      const perColumn = columnLimits(limits, first.columns.length);
      merged = first.columns.map((state, i) => {
        const profile = ColumnProfile.fromState(state, perColumn);
        profile.merge(next.columns![i]!);
        return profile.toState();
      });
    }
    return {
      rows: first.rows + next.rows,
      raggedRows: first.raggedRows + next.raggedRows,
      bytes: first.bytes + next.bytes,
      columns: merged,
    };
  }

  /** The statistics of a (merged) state. */
  static finalize(state: FileState, limits: EngineLimits = DEFAULT_ENGINE_LIMITS): FileStats {
    const columns = state.columns ?? [];
    const perColumn = columnLimits(limits, columns.length);
    return {
      rows: state.rows,
      columns: columns.length,
      bytes: state.bytes,
      columnStats: columns.map((c) => ColumnProfile.fromState(c, perColumn).toColumnStats()),
      raggedRows: state.raggedRows,
    };
  }

  /**
   * A merger that folds the states of consecutive parts of a file into live profiles, in
   * place: merging K parts copies nothing K times (StatsEngine.merge rebuilds both sides).
   */
  static merger(limits: EngineLimits = DEFAULT_ENGINE_LIMITS): FileStateMerger {
    return new FileStateMerger(limits);
  }

  #createProfiles(names: readonly string[]): ColumnProfile[] {
    if (names.length > this.#limits.maxColumns) {
      throw new StatsError(
        'CSV_MALFORMED',
        `${names.length} columns, more than the limit of ${this.#limits.maxColumns}`,
      );
    }
    const perColumn = columnLimits(this.#limits, names.length);
    const profiles = names.map((name, i) => new ColumnProfile(name === '' ? `column_${i + 1}` : name, perColumn));
    this.#profiles = profiles;
    const n = names.length;
    this.#stages = names.map(() => new Float64Array(STAGE));
    this.#stageLength = new Int32Array(n);
    this.#stageIntegers = new Int32Array(n);
    this.#stageMinLength = new Int32Array(n).fill(0x7fffffff);
    this.#stageMaxLength = new Int32Array(n);
    return profiles;
  }

  /** Hands column `col`'s staged numbers to its profile. */
  #flushStage(col: number, length: number): void {
    this.#profiles![col]!.addNumbers(
      this.#stages[col]!,
      length,
      this.#stageIntegers[col]!,
      this.#stageMinLength[col]!,
      this.#stageMaxLength[col]!,
    );
    this.#stageLength[col] = 0;
    this.#stageIntegers[col] = 0;
    this.#stageMinLength[col] = 0x7fffffff;
    this.#stageMaxLength[col] = 0;
  }

  /** @internal Called by the reader for each record that takes the general path. */
  record(view: RecordView): void {
    let profiles = this.#profiles;
    if (profiles === null) {
      const names: string[] = [];
      for (let i = 0; i < view.count; i++) names.push(this.#noHeader ? '' : view.text(i));
      profiles = this.#createProfiles(names);
      if (!this.#noHeader) return;
    }
    this.#rows++;
    const columns = profiles.length;
    const n = view.count;
    if (n !== columns) this.#ragged++;
    const m = n < columns ? n : columns;
    const { buf, starts, ends, flags } = view;
    for (let i = 0; i < m; i++) {
      profiles[i]!.addCell(buf, starts[i]!, ends[i]!, (flags[i]! & FIELD_ESCAPED_QUOTE) !== 0);
    }
    for (let i = m; i < columns; i++) profiles[i]!.addNull();
  }

  /**
   * @internal The reader's fast path (see RecordSink.records): quote-free complete records.
   * Fields are split and plain decimals (`[+-]?digits[.digits]`, at most 15-16 significant
   * digits) parsed in one pass; any other field is handed to ColumnProfile.addCell, which
   * classifies it by the same rules. The region ends with an LF, which stops every scan.
   */
  records(buf: Buffer, start: number, end: number, limit: number): number {
    const profiles = this.#profiles;
    if (profiles === null || !this.#fastPath) return start;
    const columns = profiles.length;
    const delimiter = this.#delimiter;
    const maxRecordBytes = this.#maxRecordBytes;
    const stages = this.#stages;
    const stageLength = this.#stageLength;
    const stageIntegers = this.#stageIntegers;
    const stageMinLength = this.#stageMinLength;
    const stageMaxLength = this.#stageMaxLength;
    let rows = 0;
    let ragged = 0;
    let p = start;
    while (p < end && p < limit) {
      const recordStart = p;
      let c = buf[p]!;
      if (c === LF) {
        p++;
        continue;
      }
      if (c === CR) {
        p += buf[p + 1] === LF ? 2 : 1;
        continue;
      }
      let col = 0;
      for (;;) {
        const fieldStart = p;
        c = buf[p]!;
        let negative = false;
        if (c === 0x2d) {
          negative = true;
          c = buf[++p]!;
        } else if (c === 0x2b) {
          c = buf[++p]!;
        }
        let mantissa = 0;
        let digits = 0;
        let fraction = 0;
        let d = c - 0x30;
        while (d >= 0 && d <= 9) {
          mantissa = mantissa * 10 + d;
          digits++;
          d = buf[++p]! - 0x30;
        }
        let integer = true;
        if (d === 0x2e - 0x30) {
          integer = false;
          d = buf[++p]! - 0x30;
          while (d >= 0 && d <= 9) {
            mantissa = mantissa * 10 + d;
            fraction++;
            d = buf[++p]! - 0x30;
          }
        }
        c = d + 0x30;
        if (
          (c === delimiter || c === LF || c === CR) &&
          digits + fraction > 0 &&
          mantissa <= MAX_EXACT_MANTISSA &&
          fraction <= 22
        ) {
          // Clinger's fast path: one correctly rounded operation, as Number() would give.
          const value = fraction === 0 ? mantissa : mantissa / POW10[fraction]!;
          if (col < columns) {
            const k = stageLength[col]!;
            stages[col]![k] = negative ? -value : value;
            if (integer) stageIntegers[col]!++;
            const length = p - fieldStart;
            if (length < stageMinLength[col]!) stageMinLength[col] = length;
            if (length > stageMaxLength[col]!) stageMaxLength[col] = length;
            if (k === STAGE - 1) this.#flushStage(col, STAGE);
            else stageLength[col] = k + 1;
          }
        } else {
          while (c !== delimiter && c !== LF && c !== CR) c = buf[++p]!;
          if (col < columns) profiles[col]!.addCell(buf, fieldStart, p, false);
        }
        col++;
        p++;
        if (c === delimiter) continue;
        if (c === CR && buf[p] === LF) p++;
        break;
      }
      if (p - recordStart > maxRecordBytes) {
        throw new StatsError(
          'CSV_MALFORMED',
          `record is longer than ${maxRecordBytes} bytes (byte offset ${this.#reader.offset + recordStart})`,
        );
      }
      rows++;
      if (col !== columns) {
        ragged++;
        for (let i = col; i < columns; i++) profiles[i]!.addNull();
      }
    }
    this.#rows += rows;
    this.#ragged += ragged;
    return p;
  }
}

/** Folds the states of consecutive parts of one file, in file order (see StatsEngine.merger). */
export class FileStateMerger {
  readonly #limits: EngineLimits;
  #profiles: ColumnProfile[] | null = null;
  #rows = 0;
  #ragged = 0;
  #bytes = 0;

  constructor(limits: EngineLimits) {
    this.#limits = limits;
  }

  /** Adds the state of the part that follows everything added so far. */
  add(state: FileState): void {
    this.#rows += state.rows;
    this.#ragged += state.raggedRows;
    this.#bytes += state.bytes;
    if (state.columns === null) return;
    if (this.#profiles === null) {
      const perColumn = columnLimits(this.#limits, state.columns.length);
      this.#profiles = state.columns.map((c) => ColumnProfile.fromState(c, perColumn));
      return;
    }
    if (this.#profiles.length !== state.columns.length) {
      throw new Error('cannot merge the states of files with different column counts');
    }
    state.columns.forEach((c, i) => this.#profiles![i]!.merge(c));
  }

  /** The statistics of everything added. */
  finalize(): FileStats {
    const profiles = this.#profiles ?? [];
    return {
      rows: this.#rows,
      columns: profiles.length,
      bytes: this.#bytes,
      columnStats: profiles.map((p) => p.toColumnStats()),
      raggedRows: this.#ragged,
    };
  }
}
