/**
 * Messages between the executor (main thread) and the stats threads. Plain,
 * structured-cloneable objects, discriminated on `type`; errors travel as `{ code, message }`.
 */
import type { MessagePort } from 'node:worker_threads';
import type { StatsErrorCode } from '../errors';
import type { RangeOutcome, RangeSpec } from '../split/split';
import type { FileState } from '../stats/engine';
import type { EngineLimits } from '../stats/limits';

/** Settings shared by every request. */
interface CommonRequest {
  /** The source as the task gave it, for error messages. */
  source: string;
  /** Longest record accepted, in bytes. */
  maxLineBytes: number;
  /** Size of each read. */
  chunkBytes: number;
  limits: EngineLimits;
  /** Where the thread posts {@link StatsThreadProgress}; transferred with the task. */
  progressPort: MessagePort;
}

/** Parse the records of one byte range of a local, uncompressed file (see split.ts). */
export interface StatsRangeRequest extends CommonRequest {
  type: 'stats-range';
  /** Real path of the file, already checked to be inside the data root. */
  path: string;
  /** Device and inode seen when the path was checked; the thread refuses a different file. */
  dev: string;
  ino: string;
  range: RangeSpec;
  /** Column names from the header the executor read. */
  columns: string[];
  /** Delimiter byte. */
  delimiter: number;
}

/**
 * Compute the statistics of a whole stream: a gzip-compressed local file, or an http(s) URL
 * (either possibly gzip-compressed). The thread reads the header and detects the delimiter.
 */
export interface StatsStreamRequest extends CommonRequest {
  type: 'stats-stream';
  /** A checked local path (with dev/ino), or a URL. */
  input: { kind: 'file'; path: string; dev: string; ino: string } | { kind: 'url'; url: string; egress: EgressOptions };
  /** Delimiter byte, or 0 to detect it. */
  delimiter: number;
  noHeader: boolean;
}

/** Which non-public addresses a URL source may reach (link-local and metadata never). */
export interface EgressOptions {
  allowLoopback: boolean;
  allowPrivate: boolean;
  /** Limits of one HTTP exchange, in ms. */
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** Longest a URL source may take, from the request to its last byte, in ms. */
  totalTimeoutMs: number;
}

/** What the executor sends to a thread. */
export type StatsThreadRequest = StatsRangeRequest | StatsStreamRequest;

/** Posted on the progress port after each chunk: running totals of this request. */
export interface StatsThreadProgress {
  type: 'progress';
  /** Source bytes consumed (compressed bytes for gzip). */
  bytesDone: number;
  rowsDone: number;
}

/** The answer to a stream request. */
export type StatsStreamResponse =
  | {
      type: 'ok';
      state: FileState;
      /** The delimiter used (given or detected). */
      delimiter: number;
      /** Source bytes read (compressed size for gzip; `state.bytes` is the CSV size). */
      sourceBytes: number;
    }
  | { type: 'error'; code: StatsErrorCode; message: string; httpStatus?: number; retryable?: boolean };

/** What a thread returns. It never throws for a bad file: that is an error response. */
export type StatsThreadResponse = ({ type: 'range' } & RangeOutcome) | StatsStreamResponse;
