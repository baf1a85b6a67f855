import type { ColumnStats } from '@spindle/sdk';
import { CsvReader, FIELD_ESCAPED_QUOTE, type RecordSink, type RecordView } from '../csv/reader';
import { TextGuard } from '../csv/text-guard';
import { ColumnProfile } from './column-profile';

/** Options of {@link StatsEngine}. */
export interface StatsEngineOptions {
  /**
   * Field delimiter byte.
   * @default 0x2c (",")
   */
  delimiter?: number;
  /**
   * True when the first record is data; columns are then named "column_1", "column_2", ...
   * @default false
   */
  noHeader?: boolean;
  /**
   * Longest record accepted, in bytes; longer is CSV_MALFORMED.
   * @default 1048576 (1 MiB)
   */
  maxRecordBytes?: number;
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
 * Single-pass, bounded-memory statistics of one CSV file, fed chunk by chunk: encoding checks
 * ({@link TextGuard}), parsing ({@link CsvReader}) and per-column profiles
 * ({@link ColumnProfile}). Pure: no I/O, so the same engine serves files, HTTP bodies and tests.
 * Errors are thrown as StatsError (CSV_MALFORMED).
 *
 * Rows shorter than the header count their missing cells as nulls; longer rows' extra
 * fields are ignored; both count as ragged rows. An empty header cell names its column
 * "column_N" (N is 1-based), as with no_header.
 */
export class StatsEngine implements RecordSink {
  readonly #guard = new TextGuard();
  readonly #reader: CsvReader;
  readonly #noHeader: boolean;
  #profiles: ColumnProfile[] | null = null;
  #rows = 0;
  #bytes = 0;
  #ragged = 0;

  constructor(options: StatsEngineOptions = {}) {
    this.#noHeader = options.noHeader ?? false;
    this.#reader = new CsvReader(this, {
      delimiter: options.delimiter,
      maxRecordBytes: options.maxRecordBytes,
    });
  }

  /** Data rows so far. */
  get rows(): number {
    return this.#rows;
  }

  /** Bytes pushed so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Feeds the next chunk of the file. The engine keeps no reference to it. */
  push(chunk: Uint8Array): void {
    this.#bytes += chunk.length;
    this.#guard.check(chunk);
    this.#reader.push(chunk);
  }

  /** Ends the input and returns the statistics. */
  end(): FileStats {
    this.#guard.end();
    this.#reader.end();
    const profiles = this.#profiles ?? [];
    return {
      rows: this.#rows,
      columns: profiles.length,
      bytes: this.#bytes,
      columnStats: profiles.map((p) => p.toColumnStats()),
      raggedRows: this.#ragged,
    };
  }

  /** @internal Called by the reader for each record. */
  record(view: RecordView): void {
    let profiles = this.#profiles;
    if (profiles === null) {
      profiles = [];
      for (let i = 0; i < view.count; i++) {
        const name = this.#noHeader ? '' : view.text(i);
        profiles.push(new ColumnProfile(name === '' ? `column_${i + 1}` : name));
      }
      this.#profiles = profiles;
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
}
