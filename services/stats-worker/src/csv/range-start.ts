import { CsvReader } from './reader';

const LF = 0x0a;
const CR = 0x0d;
/** Line starts tried before falling back to the first one. */
const MAX_CANDIDATES = 32;
/** Records parsed from a candidate to judge it. */
const PROBE_RECORDS = 8;

/**
 * Guesses where the first record at or after absolute offset `from` starts, for parsing a
 * byte range of a file without reading what comes before it. `buf` holds the file's bytes
 * from absolute offset `bufOffset` (= `from - 1` when `from > 0`, so the byte before `from` is
 * known); `final` says it reaches the end of the file.
 *
 * A record can only start at a line start (after LF, or after a CR not followed by LF), but a
 * line start may also be inside a quoted field. Each candidate is probed by parsing a few
 * records from it: it is accepted when they parse and have `columns` fields each. The guess
 * can still be wrong (a quoted field may hold lines that look like records); the caller checks
 * it against where the previous range really ended and parses again from there if not.
 *
 * Returns the absolute offset of the chosen line start; the end of the file (bufOffset +
 * buf.length) when `final` and there is none; -1 when `buf` holds no line start and is not
 * final (read more).
 */
export function guessRecordStart(
  buf: Uint8Array,
  bufOffset: number,
  from: number,
  delimiter: number,
  columns: number,
  final: boolean,
): number {
  const candidates: number[] = [];
  for (let i = Math.max(0, from - bufOffset); i <= buf.length && candidates.length < MAX_CANDIDATES; i++) {
    const abs = bufOffset + i;
    if (abs === 0 || isLineStart(buf, i)) {
      if (i === buf.length && !final) break; // after a CR at the very end: an LF may follow
      candidates.push(abs);
    }
    if (i < buf.length) {
      const lf = indexOfLineEnd(buf, i);
      if (lf === -1) break;
      i = lf; // the loop's i++ moves to the byte after the line end
    }
  }
  if (candidates.length === 0) return final ? bufOffset + buf.length : -1;
  for (const candidate of candidates) {
    if (candidate === bufOffset + buf.length || probe(buf, candidate - bufOffset, delimiter, columns, final)) {
      return candidate;
    }
  }
  return candidates[0]!;
}

/** True when `buf[i]` starts a line: the byte before is LF, or a CR not followed by LF. */
function isLineStart(buf: Uint8Array, i: number): boolean {
  if (i === 0) return false; // the byte before is not in the buffer
  const before = buf[i - 1];
  return before === LF || (before === CR && buf[i] !== LF);
}

/** Index of the next CR or LF at or after `i`, or -1. */
function indexOfLineEnd(buf: Uint8Array, i: number): number {
  for (let j = i; j < buf.length; j++) {
    const c = buf[j];
    if (c === LF || c === CR) return j;
  }
  return -1;
}

/** Parses a few records from `buf[at..]`: true when they parse and each has `columns` fields. */
function probe(buf: Uint8Array, at: number, delimiter: number, columns: number, final: boolean): boolean {
  let records = 0;
  let good = true;
  try {
    const reader = new CsvReader(
      {
        record(view) {
          if (records >= PROBE_RECORDS) return;
          records++;
          if (view.count !== columns) good = false;
        },
      },
      { delimiter, maxRecordBytes: Math.max(1, buf.length), startOffset: 1 },
    );
    try {
      reader.push(buf.subarray(at, Math.min(buf.length, at + 64 * 1024)));
      if (final && at + 64 * 1024 >= buf.length) reader.end();
    } finally {
      reader.release();
    }
  } catch {
    return false;
  }
  return good && records > 0;
}
