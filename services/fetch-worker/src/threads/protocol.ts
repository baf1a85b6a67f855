/**
 * Messages between the fetch executor (main thread) and its fetch threads.
 * Everything here is structured-cloneable plain data, discriminated on `type`.
 * Messages travel in batches (arrays): each side collects what one turn of its
 * event loop produced and posts it as one message, so that thousands of tiny
 * downloads cost a few hundred thread wake-ups, not tens of thousands.
 */
import type { FetchResult, TaskError } from '@spindle/sdk';

/** Limits of one download, every default already applied (all > 0). */
export interface FetchLimits {
  maxBytes: number;
  maxRedirects: number;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  idleTimeoutMs: number;
  totalTimeoutMs: number;
}

/** FetchOptions.if_exists, resolved (UNSPECIFIED = overwrite). */
export type ExistingFilePolicyName = 'overwrite' | 'skip' | 'rename';

/** Static thread configuration, given once as `workerData`. */
export interface FetchThreadConfig {
  type: 'fetch-thread-config';
  /** Absolute data root. */
  dataRoot: string;
  allowLoopback: boolean;
  allowPrivate: boolean;
  /** Downloads this thread runs at once; the rest of what it is given waits in its queue. */
  concurrency: number;
  /** Most open connections per origin in this thread's HTTP agent. */
  connectionsPerOrigin: number;
  /** Sent as User-Agent. */
  userAgent: string;
  /** How long a partial body kept for resumption waits for the next attempt, in ms. */
  resumeTtlMs: number;
}

/** One download, as handed to a thread. */
export interface ThreadTask {
  url: string;
  /** Origin and path + query of `url`, already checked against the egress policy by the executor. */
  origin: string;
  path: string;
  /** Validated output folder, POSIX, relative to the data root ('' = the root). */
  outputDir: string;
  /** Sanitized final file name. */
  fileName: string;
  /** FetchTask.name_from_response. */
  nameFromResponse: boolean;
  /** Hidden, sanitized stem of this task's temporary names (see DownloadJob.tempStem). */
  tempStem: string;
  attempt: number;
  /** A retryable failure may keep its partial body for the next attempt. */
  keepPartial: boolean;
  /** Expected SHA-256, lowercase hex; '' = don't check. */
  sha256: string;
  /** Expected size in bytes; 0 = don't check. */
  expectedSize: number;
  ifExists: ExistingFilePolicyName;
  limits: FetchLimits;
}

/** Main thread → fetch thread (in a batch). */
export type ToThreadMessage =
  /** Run this download when one of the thread's `concurrency` slots is free (queued until then). */
  | { type: 'start'; id: number; task: ThreadTask }
  /** Stop download `id` (or drop it from the queue); it settles (CANCELLED) once its temporary file is removed. */
  | { type: 'cancel'; id: number; reason: string }
  /** Remove kept partial bodies, close connections, answer 'closed'. Running downloads must be cancelled first. */
  | { type: 'close' };

/** How one download ended; never a rejection. */
export type FetchThreadResult = { type: 'ok'; result: FetchResult } | { type: 'error'; error: TaskError };

/** Fetch thread → main thread (in a batch). */
export type FromThreadMessage =
  | { type: 'done'; id: number; outcome: FetchThreadResult }
  /** Running totals of download `id`, at most every 250 ms. `bytesTotal` 0 = unknown. */
  | { type: 'progress'; id: number; bytesDone: number; bytesTotal: number }
  | { type: 'closed' };
