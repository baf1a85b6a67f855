/**
 * Messages between the executor (main thread) and the stats threads. Plain,
 * structured-cloneable objects, discriminated on `type`; errors travel as `{ code, message }`.
 */
import type { MessagePort } from 'node:worker_threads';
import type { StatsErrorCode } from '../errors';
import type { FileStats } from '../stats/engine';

/** Compute the statistics of one local file. */
export interface StatsFileRequest {
  type: 'stats-file';
  /** Real path of the file, already checked to be inside the data root. */
  path: string;
  /** Device and inode seen when the path was checked; the thread refuses a different file. */
  dev: string;
  ino: string;
  /** The source as the task gave it, for error messages. */
  source: string;
  /** Delimiter byte. */
  delimiter: number;
  noHeader: boolean;
  /** Longest record accepted, in bytes. */
  maxLineBytes: number;
  /** Size of each read. */
  chunkBytes: number;
  /** Where the thread posts {@link StatsThreadProgress}; transferred with the task. */
  progressPort: MessagePort;
}

/** What the executor sends to a thread. (URL sources will add a variant.) */
export type StatsThreadRequest = StatsFileRequest;

/** Posted on the progress port after each chunk. Running totals. */
export interface StatsThreadProgress {
  type: 'progress';
  bytesDone: number;
  rowsDone: number;
}

/** What a thread returns. It never throws for a bad file: that is an `error` response. */
export type StatsThreadResponse =
  | { type: 'ok'; stats: FileStats }
  | { type: 'error'; code: StatsErrorCode; message: string };
