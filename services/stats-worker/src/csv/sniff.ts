import { StatsError } from '../errors';
import { CsvReader } from './reader';

/** Delimiters tried by {@link detectDelimiter}, in order of preference: comma, semicolon, tab, pipe. */
export const DELIMITER_CANDIDATES: readonly number[] = [0x2c, 0x3b, 0x09, 0x7c];

/** Records of the sample that detection looks at. */
const SAMPLE_RECORDS = 100;

/**
 * Picks the delimiter of a CSV file from its first bytes: each candidate parses the sample
 * (quotes respected), and the winner is the one whose records most often have the same field
 * count, that count being at least 2; ties go to the larger field count, then to the order of
 * {@link DELIMITER_CANDIDATES}. A candidate that makes the sample malformed is out. When no
 * candidate gives two fields (a one-column file), the answer is comma.
 *
 * `final` says the sample is the whole file; otherwise its last, maybe cut, record is ignored.
 */
export function detectDelimiter(sample: Uint8Array, final: boolean): number {
  let best = DELIMITER_CANDIDATES[0]!;
  let bestShare = 0;
  let bestFields = 1;
  for (const delimiter of DELIMITER_CANDIDATES) {
    const counts: number[] = [];
    try {
      const reader = new CsvReader(
        {
          record(view) {
            if (counts.length < SAMPLE_RECORDS) counts.push(view.count);
          },
        },
        { delimiter, maxRecordBytes: Math.max(1, sample.length) },
      );
      try {
        reader.push(sample);
        if (final) reader.end();
      } finally {
        reader.release();
      }
    } catch {
      continue;
    }
    if (counts.length === 0) continue;
    const frequency = new Map<number, number>();
    for (const c of counts) frequency.set(c, (frequency.get(c) ?? 0) + 1);
    let mode = 1;
    let modeCount = 0;
    for (const [fields, n] of frequency) {
      if (n > modeCount || (n === modeCount && fields > mode)) {
        mode = fields;
        modeCount = n;
      }
    }
    if (mode < 2) continue;
    const share = modeCount / counts.length;
    if (share > bestShare || (share === bestShare && mode > bestFields)) {
      best = delimiter;
      bestShare = share;
      bestFields = mode;
    }
  }
  return best;
}

/** The header of a file, as read from its first bytes. */
export interface FileHead {
  /** Column names ("column_N" for empty ones and with `noHeader`); empty for an empty file. */
  columns: string[];
  /** Offset of the first data byte: after the BOM, leading blank lines and the header record. */
  dataStart: number;
}

/**
 * Reads the header record from the start of a file. Returns null when `sample` holds no
 * complete first record and is not the whole file (`final`): read more and call again.
 * With `noHeader`, the first record is data: only its field count is used and `dataStart` is
 * where it starts. Throws CSV_MALFORMED for a malformed or over-long first record.
 */
export function readHead(
  sample: Uint8Array,
  final: boolean,
  delimiter: number,
  noHeader: boolean,
  maxRecordBytes: number,
): FileHead | null {
  let start = 0;
  if (sample.length >= 3 && sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf) start = 3;
  while (start < sample.length && (sample[start] === 0x0a || sample[start] === 0x0d)) start++;
  let names: string[] | null = null;
  const reader = new CsvReader(
    {
      record(view) {
        names ??= Array.from({ length: view.count }, (_, i) => (noHeader ? '' : view.text(i)));
      },
    },
    { delimiter, maxRecordBytes, startOffset: start, stopAt: start + 1 },
  );
  try {
    reader.push(sample.subarray(start));
    if (final) reader.end();
  } finally {
    reader.release();
  }
  const found: string[] | null = names;
  if (found === null) {
    if (!final) {
      if (sample.length - start > maxRecordBytes) {
        throw new StatsError('CSV_MALFORMED', `record is longer than ${maxRecordBytes} bytes (byte offset ${start})`);
      }
      return null;
    }
    return { columns: [], dataStart: sample.length };
  }
  if (!reader.stopped && !final) return null; // the header may go on in the next bytes
  const dataStart = reader.stopped ? reader.stopOffset : sample.length;
  const columns = (found as string[]).map((name, i) => (name === '' ? `column_${i + 1}` : name));
  return { columns, dataStart: noHeader ? start : dataStart };
}
