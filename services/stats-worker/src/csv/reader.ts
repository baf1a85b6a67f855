import { StatsError } from '../errors';

/** Field flag: the field was quoted; its range excludes the enclosing quotes. */
export const FIELD_QUOTED = 1;
/** Field flag: the quoted field contains doubled quotes (`""`) that stand for one `"`. */
export const FIELD_ESCAPED_QUOTE = 2;

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/**
 * One record as byte ranges into the parser's current buffer. The same object is reused for
 * every record and its ranges are only valid during the {@link RecordSink.record} call: copy
 * out what you keep (see {@link RecordView.text}).
 */
export class RecordView {
  /** The bytes the ranges point into. */
  buf: Buffer = Buffer.alloc(0);
  /** Number of fields. */
  count = 0;
  /** Field i is `buf[starts[i], ends[i])`. */
  starts = new Int32Array(64);
  ends = new Int32Array(64);
  /** FIELD_QUOTED | FIELD_ESCAPED_QUOTE per field. */
  flags = new Uint8Array(64);

  /** Field `i` as a string, with doubled quotes undone. Allocates: use for headers, not cells. */
  text(i: number): string {
    const s = this.buf.toString('utf8', this.starts[i], this.ends[i]);
    return (this.flags[i]! & FIELD_ESCAPED_QUOTE) !== 0 ? s.replaceAll('""', '"') : s;
  }

  /** Makes room for at least `n` fields. */
  grow(n: number): void {
    let size = this.starts.length;
    while (size < n) size *= 2;
    const starts = new Int32Array(size);
    const ends = new Int32Array(size);
    const flags = new Uint8Array(size);
    starts.set(this.starts);
    ends.set(this.ends);
    flags.set(this.flags);
    this.starts = starts;
    this.ends = ends;
    this.flags = flags;
  }
}

/**
 * One work buffer kept per thread between readers: a thread parses one byte range after
 * another, and a fresh megabyte-sized buffer per range is the kind of allocation that glibc
 * keeps in its per-thread arena after it is freed (see bench/RESULTS.md, memory).
 */
let spareWork: Buffer | null = null;

/** Receives complete records, in order. */
export interface RecordSink {
  record(view: RecordView): void;
  /**
   * Optional fast path. The reader hands over `buf[start, end)`, which holds complete records
   * only: it starts at a record start, ends right after an LF, and contains no `"` byte, so the
   * sink can split fields at delimiters and records at CR/LF without quote handling. The sink
   * parses records from `start` while they start before `limit` (relative to `buf`; it may be
   * beyond `end`) and returns where it stopped, which must be a record start (possibly `end`).
   * It may stop early (returning `start` sends the next record through {@link record}). Blank
   * lines are skipped, as in the reader; the sink enforces the record size limit itself.
   */
  records?(buf: Buffer, start: number, end: number, limit: number): number;
}

/** Options of {@link CsvReader}. */
export interface CsvReaderOptions {
  /**
   * Field delimiter: one byte, not `"`, CR or LF.
   * @default 0x2c (",")
   */
  delimiter?: number;
  /**
   * Longest record accepted, in bytes (a quoted field may make a record span lines). A longer
   * one fails with CSV_MALFORMED, so that an endless line cannot exhaust memory: the reader
   * never holds more than one chunk plus this many bytes.
   * @default 1048576 (1 MiB)
   */
  maxRecordBytes?: number;
  /**
   * Absolute offset of the first byte pushed: error messages and `stopAt` use absolute
   * offsets. A reader that does not start at 0 does not look for a byte order mark.
   * @default 0
   */
  startOffset?: number;
  /**
   * Stop at the first record that starts at or after this absolute offset: it is not emitted,
   * later input is ignored, and {@link CsvReader.stopOffset} tells where it starts. Used to
   * parse one byte range of a file.
   * @default Infinity
   */
  stopAt?: number;
}

/**
 * A streaming RFC 4180 CSV parser over bytes, fed chunk by chunk.
 *
 * - Fields are separated by the delimiter; records end with LF, CRLF or a lone CR.
 * - A field that starts with `"` is quoted: it may contain delimiters, CR, LF and doubled
 *   quotes, and must be followed by a delimiter, a line end or EOF (anything else is
 *   CSV_MALFORMED). A `"` inside an unquoted field is an ordinary byte (lenient, as
 *   Python's csv and most tools are).
 * - A UTF-8 byte order mark at the start is skipped. Blank lines (no bytes at all) are skipped.
 * - An unterminated quoted field at EOF, or a record over `maxRecordBytes`, is CSV_MALFORMED;
 *   messages give the absolute byte offset (record numbers are unknown when parsing a range).
 * - Fields are not decoded: the sink gets byte ranges, so no string is created per field.
 *
 * Records are only emitted once complete, so a record cut by a chunk boundary is parsed again
 * from its start when the next chunk arrives (at most one record per chunk is re-scanned).
 * Encoding checks (binary, UTF-8) are {@link TextGuard}'s job, not this class's.
 */
export class CsvReader {
  readonly #delimiter: number;
  readonly #maxRecordBytes: number;
  readonly #sink: RecordSink;
  readonly #view = new RecordView();
  /**
   * `#work[0, #pendingLength)` holds an incomplete record (or an undecided BOM prefix) from
   * earlier chunks. The next chunk is appended behind it and both are parsed in place, so the
   * steady state allocates nothing; capacity stays below maxRecordBytes + the largest chunk.
   */
  #work: Buffer = takeSpareWork();
  #pendingLength = 0;
  /** Absolute file offset of `#work[0]`. */
  #pendingOffset = 0;
  #started = false;
  #ended = false;
  readonly #stopAt: number;
  #stopOffset = -1;

  constructor(sink: RecordSink, options: CsvReaderOptions = {}) {
    const delimiter = options.delimiter ?? 0x2c;
    if (!Number.isInteger(delimiter) || delimiter < 0 || delimiter > 0xff) {
      throw new TypeError('options.delimiter must be one byte');
    }
    if (delimiter === QUOTE || delimiter === CR || delimiter === LF) {
      throw new TypeError('options.delimiter must not be a quote, CR or LF');
    }
    const maxRecordBytes = options.maxRecordBytes ?? 1024 * 1024;
    if (!Number.isInteger(maxRecordBytes) || maxRecordBytes < 1) {
      throw new TypeError('options.maxRecordBytes must be a positive integer');
    }
    const startOffset = options.startOffset ?? 0;
    if (!Number.isInteger(startOffset) || startOffset < 0) {
      throw new TypeError('options.startOffset must be a non-negative integer');
    }
    this.#delimiter = delimiter;
    this.#maxRecordBytes = maxRecordBytes;
    this.#sink = sink;
    this.#pendingOffset = startOffset;
    // Only a file's first bytes can hold a BOM.
    this.#started = startOffset > 0;
    this.#stopAt = options.stopAt ?? Number.POSITIVE_INFINITY;
  }

  /** True once a record at or after `stopAt` was reached: further input is ignored. */
  get stopped(): boolean {
    return this.#stopOffset >= 0;
  }

  /** Absolute offset where the reader stopped (see `stopAt`), or -1. */
  get stopOffset(): number {
    return this.#stopOffset;
  }

  /** Absolute offset of the first byte not yet parsed into a record. */
  get offset(): number {
    return this.#pendingOffset;
  }

  /** Parses the next chunk. The reader keeps no reference to `chunk` after returning. */
  push(chunk: Uint8Array): void {
    if (this.#ended) throw new Error('CsvReader.push after end');
    if (chunk.length === 0 || this.stopped) return;
    const incoming = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.#pendingLength === 0) {
      this.#consume(incoming, false, false);
      return;
    }
    const total = this.#pendingLength + incoming.length;
    // Records end at CR, LF or EOF: if the chunk has neither, the pending record goes on, so
    // append without re-scanning it (keeps an endless line linear instead of quadratic).
    const appendOnly =
      this.#started &&
      this.#work[this.#pendingLength - 1] !== CR &&
      incoming.indexOf(LF) === -1 &&
      incoming.indexOf(CR) === -1;
    if (appendOnly && total > this.#maxRecordBytes) {
      this.#fail(`record is longer than ${this.#maxRecordBytes} bytes`, 0);
    }
    if (this.#work.length < total) {
      const grown = Buffer.allocUnsafeSlow(Math.max(total, this.#work.length * 2));
      this.#work.copy(grown, 0, 0, this.#pendingLength);
      this.#work = grown;
    }
    incoming.copy(this.#work, this.#pendingLength);
    if (appendOnly) {
      this.#pendingLength = total;
      return;
    }
    this.#consume(this.#work.subarray(0, total), false, true);
  }

  /** Signals end of input and emits the last record. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.stopped) this.#consume(this.#work.subarray(0, this.#pendingLength), true, true);
    this.release();
  }

  /** Hands the work buffer to the next reader of this thread; the reader takes no more input. */
  release(): void {
    this.#ended = true;
    if (spareWork === null || spareWork.length < this.#work.length) spareWork = this.#work;
    this.#work = Buffer.alloc(0);
    this.#pendingLength = 0;
  }

  /** Parses `buf`, which is either the caller's chunk or (`inWork`) the start of `#work`. */
  #consume(buf: Buffer, final: boolean, inWork: boolean): void {
    let start = 0;
    if (!this.#started) {
      if (buf.length < 3 && !final && isBomPrefix(buf)) {
        this.#keep(buf, 0, inWork);
        return;
      }
      this.#started = true;
      if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) start = 3;
    }
    const consumed = this.#parse(buf, start, final);
    if (this.stopped) {
      this.#pendingLength = 0;
      return;
    }
    this.#keep(buf, consumed, inWork);
  }

  /** Keeps `buf[from..]` as the pending record at the start of `#work`. */
  #keep(buf: Buffer, from: number, inWork: boolean): void {
    const rest = buf.length - from;
    if (rest > this.#maxRecordBytes) {
      this.#fail(`record is longer than ${this.#maxRecordBytes} bytes`, from);
    }
    this.#pendingOffset += from;
    this.#pendingLength = rest;
    if (rest === 0) return;
    if (inWork) {
      this.#work.copyWithin(0, from, buf.length);
    } else {
      // `buf` is the caller's chunk, which it may reuse: copy out.
      if (this.#work.length < rest) this.#work = Buffer.allocUnsafeSlow(Math.max(rest, 64 * 1024));
      buf.copy(this.#work, 0, from);
    }
  }

  #fail(what: string, at: number): never {
    throw new StatsError('CSV_MALFORMED', `${what} (byte offset ${this.#pendingOffset + at})`);
  }

  /** Parses complete records of `buf[start..]`; returns where the first incomplete one starts. */
  #parse(buf: Buffer, start: number, final: boolean): number {
    const end = buf.length;
    const delimiter = this.#delimiter;
    const view = this.#view;
    const sink = this.#sink;
    const base = this.#pendingOffset;
    const limit = this.#stopAt - base;
    // Fast path bookkeeping: the last LF of the buffer, and the next quote at or after p.
    const lastLf = sink.records === undefined ? -1 : buf.lastIndexOf(LF, end - 1);
    let nextQuote = -1;
    let slowAt = -1;
    view.buf = buf;
    let p = start;
    records: while (p < end) {
      if (p >= limit) {
        this.#stopOffset = base + p;
        return p;
      }
      if (p < lastLf && p !== slowAt) {
        if (nextQuote < p) {
          nextQuote = buf.indexOf(QUOTE, p);
          if (nextQuote === -1) nextQuote = end;
        }
        // Records up to the last LF before the next quote are quote-free. A quote close by is
        // most likely in this record: parse it the slow way rather than search backwards.
        const regionEnd =
          nextQuote >= end ? lastLf + 1 : nextQuote - p > 256 ? buf.lastIndexOf(LF, nextQuote) + 1 : 0;
        if (regionEnd > p) {
          const q = sink.records!(buf, p, regionEnd, limit);
          // No progress means the sink wants this record through record().
          if (q === p) slowAt = p;
          p = q;
          continue records;
        }
      }
      const recordStart = p;
      let n = 0;
      for (;;) {
        // One field per iteration; p is at its first byte.
        if (n === view.starts.length) view.grow(n + 1);
        if (p < end && buf[p] === QUOTE) {
          let q = p + 1;
          let flags = FIELD_QUOTED;
          let close: number;
          for (;;) {
            close = buf.indexOf(QUOTE, q);
            if (close === -1) {
              if (!final) return recordStart;
              this.#fail('unterminated quoted field', p);
            }
            if (close + 1 < end && buf[close + 1] === QUOTE) {
              flags = FIELD_QUOTED | FIELD_ESCAPED_QUOTE;
              q = close + 2;
              continue;
            }
            // A quote at the very end of a chunk may be the first of a doubled pair.
            if (close + 1 >= end && !final) return recordStart;
            break;
          }
          view.starts[n] = p + 1;
          view.ends[n] = close;
          view.flags[n] = flags;
          n++;
          p = close + 1;
          if (p >= end) break; // final: EOF right after the closing quote
          const c = buf[p]!;
          if (c === delimiter) {
            p++;
            continue;
          }
          if (c !== LF && c !== CR) {
            this.#fail(
              `unexpected character after the closing quote of field ${n}`,
              p,
            );
          }
        } else {
          const fieldStart = p;
          let c = 0;
          while (p < end) {
            c = buf[p]!;
            if (c === delimiter || c === LF || c === CR) break;
            p++;
          }
          view.starts[n] = fieldStart;
          view.ends[n] = p;
          view.flags[n] = 0;
          n++;
          if (p >= end) {
            if (!final) return recordStart;
            break; // EOF ends the record
          }
          if (c === delimiter) {
            p++;
            continue;
          }
        }
        // p is at CR or LF.
        if (buf[p] === CR) {
          if (p + 1 < end) p += buf[p + 1] === LF ? 2 : 1;
          else if (!final) return recordStart; // is an LF next?
          else p++;
        } else {
          p++;
        }
        break;
      }
      if (p - recordStart > this.#maxRecordBytes) {
        this.#fail(`record is longer than ${this.#maxRecordBytes} bytes`, recordStart);
      }
      // A blank line: one empty unquoted field.
      if (n === 1 && view.ends[0] === view.starts[0] && view.flags[0] === 0) continue records;
      view.count = n;
      this.#sink.record(view);
    }
    return p;
  }
}

function takeSpareWork(): Buffer {
  const work = spareWork ?? Buffer.alloc(0);
  spareWork = null;
  return work;
}

function isBomPrefix(buf: Buffer): boolean {
  const bom = [0xef, 0xbb, 0xbf];
  for (let i = 0; i < buf.length; i++) if (buf[i] !== bom[i]) return false;
  return true;
}
