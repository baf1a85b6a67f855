/**
 * Messages between the fetch executor (main thread) and its fetch threads.
 * Messages travel in batches (arrays): each side collects what one turn of its
 * event loop produced and posts it as one message, so that thousands of tiny
 * downloads cost a few hundred thread wake-ups, not tens of thousands.
 *
 * Each message is a flat tuple of primitives ({@link ToThreadMessage},
 * {@link FromThreadMessage}), built and read by the encode/decode functions
 * here: V8's structured clone pays per property of a plain object (the key is
 * written and read back as a string, and every object is rebuilt property by
 * property, through map transitions), and far less per array element.
 * Measured per download (v8.serialize/deserialize, batches of 16): a start
 * message as an object 2.1 µs to serialize + 1.6 µs to deserialize, as a
 * tuple 0.4 + 0.9 µs; a result 1.4 + 1.9 µs as objects, 0.3–0.7 + 0.5 µs as a
 * tuple. Only what the other side does not know travels: limits equal to the
 * thread's defaults are left out, and a result does not echo the URL.
 */
import type { FetchResult, TaskError } from '@spindle/sdk';

/** Limits of one download, every default already applied (all > 0 but maxRedirects, which may be 0). */
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
  /** A synchronous write of a streamed body slower than this sends the thread to the pool; 0: always the pool (see WriteMode). */
  syncWriteLimitMs: number;
  /** The worker's default limits: a start message without limits uses these. */
  limits: FetchLimits;
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

/** How one download ended; never a rejection. */
export type FetchThreadResult =
  | { type: 'ok'; result: FetchResult }
  /** `keptPartial`: the partial body was kept for the next attempt (see TaskExecutor.forget). */
  | { type: 'error'; error: TaskError; keptPartial?: boolean };

// ------------------------------------------------------------ main thread → fetch thread

export const START = 0;
export const CANCEL = 1;
export const CLOSE = 2;
export const FORGET = 3;

/** The six limits in FetchLimits order, or 0 for the thread's defaults. */
type LimitsTuple = [number, number, number, number, number, number] | 0;

/** Run this download when one of the thread's `concurrency` slots is free (queued until then). */
export type StartMessage = [
  type: typeof START,
  id: number,
  url: string,
  origin: string,
  path: string,
  outputDir: string,
  fileName: string,
  tempStem: string,
  attempt: number,
  /** Bit 0: nameFromResponse, bit 1: keepPartial, bits 2–3: ifExists (IF_EXISTS_CODES). */
  flags: number,
  sha256: string,
  expectedSize: number,
  limits: LimitsTuple,
];
/** Stop download `id` (or drop it from the queue); it settles (CANCELLED) once its temporary file is removed. */
export type CancelMessage = [type: typeof CANCEL, id: number, reason: string];
/** Remove kept partial bodies, close connections, answer 'closed'. Running downloads must be cancelled first. */
export type CloseMessage = [type: typeof CLOSE];

/** Main thread → fetch thread (in a batch). */
/**
 * The task will not run again (its job was cancelled while it waited for a retry):
 * remove the partial body kept for it, if this thread kept one.
 */
export type ForgetMessage = [type: typeof FORGET, outputDir: string, tempStem: string];
export type ToThreadMessage = StartMessage | CancelMessage | CloseMessage | ForgetMessage;

const IF_EXISTS_CODES: readonly ExistingFilePolicyName[] = ['overwrite', 'skip', 'rename'];
const NAME_FROM_RESPONSE = 1;
const KEEP_PARTIAL = 2;

export function encodeStart(id: number, t: ThreadTask, defaults: FetchLimits): StartMessage {
  const l = t.limits;
  const limits: LimitsTuple =
    l === defaults ||
    (l.maxBytes === defaults.maxBytes &&
      l.maxRedirects === defaults.maxRedirects &&
      l.connectTimeoutMs === defaults.connectTimeoutMs &&
      l.headersTimeoutMs === defaults.headersTimeoutMs &&
      l.idleTimeoutMs === defaults.idleTimeoutMs &&
      l.totalTimeoutMs === defaults.totalTimeoutMs)
      ? 0
      : [l.maxBytes, l.maxRedirects, l.connectTimeoutMs, l.headersTimeoutMs, l.idleTimeoutMs, l.totalTimeoutMs];
  const flags =
    (t.nameFromResponse ? NAME_FROM_RESPONSE : 0) |
    (t.keepPartial ? KEEP_PARTIAL : 0) |
    (Math.max(0, IF_EXISTS_CODES.indexOf(t.ifExists)) << 2);
  return [START, id, t.url, t.origin, t.path, t.outputDir, t.fileName, t.tempStem, t.attempt, flags, t.sha256, t.expectedSize, limits];
}

export function decodeStart(m: StartMessage, defaults: FetchLimits): ThreadTask {
  const flags = m[9];
  const l = m[12];
  return {
    url: m[2],
    origin: m[3],
    path: m[4],
    outputDir: m[5],
    fileName: m[6],
    nameFromResponse: (flags & NAME_FROM_RESPONSE) !== 0,
    tempStem: m[7],
    attempt: m[8],
    keepPartial: (flags & KEEP_PARTIAL) !== 0,
    sha256: m[10],
    expectedSize: m[11],
    ifExists: IF_EXISTS_CODES[(flags >> 2) & 3] ?? 'overwrite',
    limits:
      l === 0
        ? defaults
        : {
            maxBytes: l[0],
            maxRedirects: l[1],
            connectTimeoutMs: l[2],
            headersTimeoutMs: l[3],
            idleTimeoutMs: l[4],
            totalTimeoutMs: l[5],
          },
  };
}

// ------------------------------------------------------------ fetch thread → main thread

export const DONE_OK = 0;
export const DONE_ERROR = 1;
export const PROGRESS = 2;
export const CLOSED = 3;

/** Download `id` succeeded: its FetchResult without `url` (the main thread knows it). */
export type DoneOkMessage = [
  type: typeof DONE_OK,
  id: number,
  path: string,
  bytes: number,
  sha256: string,
  httpStatus: number,
  durationMs: number,
  contentType: string,
  skipped: boolean,
  resumedBytes: number,
];
/** Download `id` failed: its TaskError. */
export type DoneErrorMessage = [
  type: typeof DONE_ERROR,
  id: number,
  code: string,
  message: string,
  retryable: boolean,
  httpStatus: number,
  retryAfterMs: number,
  attempts: number,
  keptPartial: boolean,
];
/** Running totals of download `id`, at most every 250 ms. `bytesTotal` 0 = unknown. */
export type ProgressMessage = [type: typeof PROGRESS, id: number, bytesDone: number, bytesTotal: number];
export type ClosedMessage = [type: typeof CLOSED];

/** Fetch thread → main thread (in a batch). */
export type FromThreadMessage = DoneOkMessage | DoneErrorMessage | ProgressMessage | ClosedMessage;

export function encodeDone(id: number, outcome: FetchThreadResult): DoneOkMessage | DoneErrorMessage {
  if (outcome.type === 'ok') {
    const r = outcome.result;
    return [DONE_OK, id, r.path, r.bytes, r.sha256, r.httpStatus, r.durationMs, r.contentType, r.skipped, r.resumedBytes];
  }
  const e = outcome.error;
  return [DONE_ERROR, id, e.code, e.message, e.retryable, e.httpStatus, e.retryAfterMs, e.attempts, outcome.keptPartial === true];
}

/** The outcome in a done message of the download of `url`. */
export function decodeDone(m: DoneOkMessage | DoneErrorMessage, url: string): FetchThreadResult {
  if (m[0] === DONE_OK) {
    return {
      type: 'ok',
      result: {
        url,
        path: m[2],
        bytes: m[3],
        sha256: m[4],
        httpStatus: m[5],
        durationMs: m[6],
        contentType: m[7],
        skipped: m[8],
        resumedBytes: m[9],
      },
    };
  }
  return {
    type: 'error',
    error: { code: m[2], message: m[3], retryable: m[4], httpStatus: m[5], retryAfterMs: m[6], attempts: m[7] },
    keptPartial: m[8],
  };
}
