/**
 * Messages between the fetch executor (main thread) and the fetch threads.
 * Everything here is structured-cloneable: plain objects, strings, numbers, and
 * the one MessagePort each task carries. Discriminated on `type`.
 */
import type { MessagePort } from 'node:worker_threads';
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

/** Static thread configuration, given once as piscina `workerData`. */
export interface FetchThreadConfig {
  type: 'fetch-thread-config';
  /** Absolute data root. */
  dataRoot: string;
  allowLoopback: boolean;
  allowPrivate: boolean;
  /** Most open connections per origin in this thread's HTTP agent. */
  connectionsPerOrigin: number;
  /** Sent as User-Agent. */
  userAgent: string;
}

/** One download, as handed to a thread by `pool.run`. */
export interface FetchThreadTask {
  type: 'fetch';
  url: string;
  /** Validated output folder, POSIX, relative to the data root ('' = the root). */
  outputDir: string;
  /** Sanitized final file name. */
  fileName: string;
  /** Sanitized temporary file name in the same folder. */
  tempName: string;
  /** Expected SHA-256, lowercase hex; '' = don't check. */
  sha256: string;
  /** Expected size in bytes; 0 = don't check. */
  expectedSize: number;
  limits: FetchLimits;
  /**
   * This task's control channel (transferred). The executor sends
   * {@link ToThreadMessage}s on it; the thread sends {@link FromThreadMessage}s
   * back, and closes it when the task settles.
   */
  port: MessagePort;
}

/** What a thread returns for a task; never a rejection for download failures. */
export type FetchThreadResult =
  | { type: 'ok'; result: FetchResult }
  | { type: 'error'; error: TaskError };

/** Executor → thread, on the task's port. */
export type ToThreadMessage = {
  type: 'cancel';
  /** Why, for the error message. */
  reason: string;
};

/** Thread → executor, on the task's port. Running totals, not deltas. */
export type FromThreadMessage = {
  type: 'progress';
  bytesDone: number;
  /** 0 when unknown. */
  bytesTotal: number;
};
