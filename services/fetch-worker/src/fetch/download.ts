import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { FetchResult } from '@spindle/sdk';
import type { FetchLimits } from '../threads/protocol';
import { FetchError, fileSystemError, httpStatusError } from './error-codes';
import type { EgressPolicy } from './url-policy';

/** One download, every input already validated and resolved. */
export interface DownloadJob {
  /** The URL as given in the task (reported back in the result and in errors). */
  url: string;
  /** Absolute folder the file goes to; exists and is inside the data root. */
  dirAbs: string;
  /** POSIX path of the final file relative to the data root (FetchResult.path). */
  relPath: string;
  fileName: string;
  /** Temporary name in the same folder, unique to this task attempt. */
  tempName: string;
  /** Expected SHA-256, lowercase hex; '' = don't check. */
  sha256: string;
  /** Expected size in bytes; 0 = don't check. */
  expectedSize: number;
  limits: FetchLimits;
}

/** What a thread provides to every download. */
export interface DownloadEnv {
  /** The keep-alive HTTP agent for a given connect timeout. */
  dispatcher(connectTimeoutMs: number): Dispatcher;
  egress: EgressPolicy;
  /** Request headers sent with every request (shared, never mutated). */
  headers: Readonly<Record<string, string>>;
}

export interface DownloadOptions {
  /**
   * Aborts the download; its `reason` (a FetchError, normally CANCELLED) becomes
   * the error. Once the whole body has arrived, the download completes anyway.
   */
  signal: AbortSignal;
  /** Running totals, called at most every {@link PROGRESS_INTERVAL_MS}. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

/** Smallest gap between two progress reports of one download, in ms. */
export const PROGRESS_INTERVAL_MS = 250;

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** Bodies up to this size stay in memory and reach the disk with one open/writev/close. */
const SPILL_BYTES = 256 * 1024;
/** The socket is paused while this much data waits for the disk. */
const HIGH_WATER_BYTES = 1024 * 1024;
/** Bodies of redirects and error responses are read (keeping the connection) up to this. */
const DISCARD_LIMIT_BYTES = 64 * 1024;
/** setTimeout's largest delay; larger values would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;
// O_NOFOLLOW: a symlink planted at the temporary name must not redirect the write.
const WRITE_FLAGS =
  fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | (fs.constants.O_NOFOLLOW ?? 0);

/**
 * Downloads `job.url` to `job.relPath`: GET (following redirects, each hop
 * checked against the egress policy) → body hashed while it streams into a
 * temporary file in the same folder → size and SHA-256 checked → atomic rename.
 *
 * Nothing is ever left at the final name unless complete and verified; the
 * temporary file is removed on every failure, and the promise settles only after
 * that cleanup. Rejects with a FetchError for every expected failure (undici and
 * socket errors are rejected as they are; classify them with `toTaskError`).
 */
export async function download(
  job: DownloadJob,
  env: DownloadEnv,
  options: DownloadOptions,
): Promise<FetchResult> {
  const startedAt = performance.now();
  const { signal, onProgress } = options;
  const { limits } = job;
  let hop: Hop | null = null;
  let stopReason: FetchError | null = null;
  const stop = (reason: FetchError): void => {
    if (stopReason !== null) return;
    stopReason = reason;
    hop?.abort(reason);
  };
  const onAbort = (): void => stop(asFetchError(signal.reason, job.url));
  if (signal.aborted) throw asFetchError(signal.reason, job.url);
  signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(
    () =>
      stop(new FetchError('TIMEOUT', `GET ${job.url}: took longer than ${limits.totalTimeoutMs} ms`, true)),
    Math.min(limits.totalTimeoutMs, MAX_TIMER_MS),
  );
  try {
    let url: URL;
    try {
      url = new URL(job.url);
    } catch {
      throw new FetchError('INVALID_SPEC', `${JSON.stringify(job.url)} is not a valid URL`);
    }
    const dispatcher = env.dispatcher(limits.connectTimeoutMs);
    const progressAt = { next: Date.now() + PROGRESS_INTERVAL_MS };
    for (let redirects = 0; ; redirects++) {
      env.egress.checkUrl(url);
      if (stopReason !== null) throw stopReason;
      hop = new Hop(job, path.join(job.dirAbs, job.tempName), onProgress, progressAt);
      const outcome = await hop.run(dispatcher, url, env.headers);
      hop = null;
      if (outcome.type === 'file') {
        await renameIntoPlace(job);
        return {
          url: job.url,
          path: job.relPath,
          bytes: outcome.bytes,
          sha256: outcome.sha256,
          httpStatus: outcome.status,
          durationMs: Math.min(Math.round(performance.now() - startedAt), 0xffffffff),
          contentType: outcome.contentType,
        };
      }
      if (outcome.type === 'status') {
        throw httpStatusError(job.url, outcome.status, redirects > 0 ? url.href : job.url);
      }
      if (redirects >= limits.maxRedirects) {
        throw new FetchError(
          'HTTP_STATUS',
          `GET ${job.url}: more than ${limits.maxRedirects} redirects (last to ${outcome.location})`,
          false,
          outcome.status,
        );
      }
      try {
        url = new URL(outcome.location, url);
      } catch {
        throw new FetchError(
          'HTTP_STATUS',
          `GET ${job.url}: redirect (HTTP ${outcome.status}) to an invalid Location ${JSON.stringify(outcome.location)}`,
          false,
          outcome.status,
        );
      }
      url.hash = '';
    }
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/** Moves the complete temporary file to its final name, or removes it. */
function renameIntoPlace(job: DownloadJob): Promise<void> {
  const temp = path.join(job.dirAbs, job.tempName);
  return new Promise((resolve, reject) => {
    fs.rename(temp, path.join(job.dirAbs, job.fileName), (err) => {
      if (err === null) {
        resolve();
        return;
      }
      fs.unlink(temp, () => reject(fileSystemError(err, job.url, job.relPath)));
    });
  });
}

function asFetchError(reason: unknown, url: string): FetchError {
  if (reason instanceof FetchError) return reason;
  return new FetchError('CANCELLED', `GET ${url}: cancelled`);
}

type HopOutcome =
  | { type: 'redirect'; status: number; location: string }
  | { type: 'status'; status: number }
  | { type: 'file'; status: number; bytes: number; sha256: string; contentType: string };

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * One request/response of a download, as an undici dispatch handler (undici 7
 * controller API): no intermediate Readable, so a small file costs a handful of
 * callbacks. 2xx bodies are hashed and written to the temporary file; redirect
 * and error bodies are read and dropped up to a limit so the connection can be
 * reused.
 */
class Hop implements Dispatcher.DispatchHandler {
  readonly #job: DownloadJob;
  readonly #tempPath: string;
  readonly #onProgress: DownloadOptions['onProgress'];
  readonly #progressAt: { next: number };
  #controller: Dispatcher.DispatchController | null = null;
  /** The promise has been (or is being) settled; later callbacks are ignored. */
  #settled = false;
  /** The whole body arrived; from here on the hop completes even if aborted. */
  #complete = false;
  #abortReason: Error | null = null;
  #decided: HopOutcome | null = null;
  #discarded = 0;
  #status = 0;
  #bytes = 0;
  #bytesTotal = 0;
  #contentType = '';
  #hash: Hash | null = null;
  #file: TempFile | null = null;
  #resolve: (outcome: HopOutcome) => void = () => {};
  #reject: (err: unknown) => void = () => {};

  constructor(
    job: DownloadJob,
    tempPath: string,
    onProgress: DownloadOptions['onProgress'],
    progressAt: { next: number },
  ) {
    this.#job = job;
    this.#tempPath = tempPath;
    this.#onProgress = onProgress;
    this.#progressAt = progressAt;
  }

  run(dispatcher: Dispatcher, url: URL, headers: Readonly<Record<string, string>>): Promise<HopOutcome> {
    return new Promise<HopOutcome>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      const { limits } = this.#job;
      try {
        dispatcher.dispatch(
          {
            origin: url.origin,
            path: url.pathname + url.search,
            method: 'GET',
            headers,
            headersTimeout: limits.headersTimeoutMs,
            bodyTimeout: limits.idleTimeoutMs,
          },
          this,
        );
      } catch (err) {
        this.#fail(err);
      }
    });
  }

  /** Stops the hop with `reason` (cancel, timeout, limit); ignored once the body is complete. */
  abort(reason: FetchError): void {
    if (this.#settled || this.#complete) return;
    this.#abortReason = reason;
    const controller = this.#controller;
    // undici reports the abort through onResponseError; settling here as well covers
    // a request still waiting for a connection, which has no controller yet.
    if (controller !== null && !controller.aborted) controller.abort(reason);
    this.#fail(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#settled && !this.#complete) controller.abort(this.#abortReason ?? new Error('aborted'));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (this.#settled) return;
    this.#status = statusCode;
    const { url, limits, expectedSize } = this.#job;
    const lengthHeader = headerValue(headers, 'content-length');
    const parsed = lengthHeader === undefined ? NaN : Number(lengthHeader);
    const length = Number.isSafeInteger(parsed) && parsed >= 0 ? parsed : null;
    if (statusCode >= 200 && statusCode < 300) {
      if (length !== null && length > limits.maxBytes) {
        this.abort(tooLarge(url, limits.maxBytes, `announces ${length} bytes`));
        return;
      }
      if (length !== null && expectedSize > 0 && length !== expectedSize) {
        this.abort(sizeMismatch(url, expectedSize, `announces ${length} bytes`));
        return;
      }
      this.#bytesTotal = length ?? expectedSize;
      this.#contentType = headerValue(headers, 'content-type') ?? '';
      this.#hash = createHash('sha256');
      this.#file = new TempFile(this.#tempPath, this);
      return;
    }
    const location = headerValue(headers, 'location');
    this.#decided =
      REDIRECT_STATUSES.has(statusCode) && location !== undefined && location !== ''
        ? { type: 'redirect', status: statusCode, location }
        : { type: 'status', status: statusCode };
    if (length !== null && length > DISCARD_LIMIT_BYTES) this.#settleDecided(controller, true);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#settled) return;
    const file = this.#file;
    if (file === null) {
      this.#discarded += chunk.length;
      if (this.#discarded > DISCARD_LIMIT_BYTES) this.#settleDecided(controller, true);
      return;
    }
    const bytes = (this.#bytes += chunk.length);
    const { url, limits, expectedSize } = this.#job;
    if (bytes > limits.maxBytes) {
      this.abort(tooLarge(url, limits.maxBytes, 'sent more'));
      return;
    }
    if (expectedSize > 0 && bytes > expectedSize) {
      this.abort(sizeMismatch(url, expectedSize, 'sent more'));
      return;
    }
    this.#hash?.update(chunk);
    if (!file.push(chunk)) controller.pause();
    if (this.#onProgress !== undefined) {
      const now = Date.now();
      if (now >= this.#progressAt.next) {
        this.#progressAt.next = now + PROGRESS_INTERVAL_MS;
        this.#onProgress(bytes, this.#bytesTotal);
      }
    }
  }

  onResponseEnd(controller: Dispatcher.DispatchController): void {
    if (this.#settled) return;
    const file = this.#file;
    if (file === null) {
      this.#settleDecided(controller, false);
      return;
    }
    this.#complete = true;
    const { url, relPath, expectedSize, sha256: expected } = this.#job;
    const bytes = this.#bytes;
    if (expectedSize > 0 && bytes !== expectedSize) {
      this.#fail(sizeMismatch(url, expectedSize, `sent ${bytes} bytes`));
      return;
    }
    const sha256 = this.#hash?.digest('hex') ?? '';
    if (expected !== '' && sha256 !== expected) {
      this.#fail(
        new FetchError('CHECKSUM_MISMATCH', `GET ${url}: SHA-256 is ${sha256}, expected ${expected}`),
      );
      return;
    }
    const outcome: HopOutcome = {
      type: 'file',
      status: this.#status,
      bytes,
      sha256,
      contentType: this.#contentType,
    };
    file.finish().then(
      () => {
        this.#settled = true;
        this.#resolve(outcome);
      },
      (err: unknown) => this.#fail(fileSystemError(err, url, relPath)),
    );
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#fail(err);
  }

  /** Called by the TempFile when its queue drained below the high-water mark. */
  onFileDrain(): void {
    const controller = this.#controller;
    if (controller !== null && controller.paused && !this.#settled) controller.resume();
  }

  /** Called by the TempFile when a write failed (the file is already removed). */
  onFileError(err: unknown): void {
    this.abort(fileSystemError(err, this.#job.url, this.#job.relPath));
  }

  /** Resolves with the redirect/status outcome; `dropBody` closes the connection instead of reading on. */
  #settleDecided(controller: Dispatcher.DispatchController, dropBody: boolean): void {
    const decided = this.#decided;
    if (this.#settled || decided === null) return;
    this.#settled = true;
    if (dropBody && !controller.aborted) controller.abort(new Error('response body not needed'));
    this.#resolve(decided);
  }

  #fail(err: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    const file = this.#file;
    if (file === null) {
      this.#reject(err);
      return;
    }
    void file.discard().then(() => this.#reject(err));
  }
}

function tooLarge(url: string, maxBytes: number, detail: string): FetchError {
  return new FetchError('TOO_LARGE', `GET ${url}: body exceeds the limit of ${maxBytes} bytes (server ${detail})`);
}

function sizeMismatch(url: string, expected: number, detail: string): FetchError {
  return new FetchError(
    'CHECKSUM_MISMATCH',
    `GET ${url}: size mismatch, expected ${expected} bytes (server ${detail})`,
  );
}

interface TempFileOwner {
  onFileDrain(): void;
  onFileError(err: unknown): void;
}

type TempFileState = 'buffering' | 'streaming' | 'finishing' | 'discarding' | 'closed';

/**
 * The temporary file of one download, driven by callbacks (no stream objects).
 * Small bodies stay in memory and are written at the end with one writev; larger
 * ones spill to disk as they come, batching queued chunks into one writev, with
 * backpressure reported to the owner. At most one fs operation is in flight.
 */
class TempFile {
  readonly #path: string;
  readonly #owner: TempFileOwner;
  #state: TempFileState = 'buffering';
  #chunks: Buffer[] = [];
  #queued = 0;
  #fd: number | null = null;
  #busy = false;
  /** Something may exist on disk at #path. */
  #touched = false;
  #finish: { resolve: () => void; reject: (err: unknown) => void } | null = null;
  #discarded: Promise<void> | null = null;
  #onDiscarded: () => void = () => {};

  constructor(filePath: string, owner: TempFileOwner) {
    this.#path = filePath;
    this.#owner = owner;
  }

  /** Queues a chunk; false when the source should pause until `onFileDrain`. */
  push(chunk: Buffer): boolean {
    this.#chunks.push(chunk);
    this.#queued += chunk.length;
    if (this.#state === 'buffering') {
      if (this.#queued <= SPILL_BYTES) return true;
      this.#state = 'streaming';
      this.#open();
    } else if (!this.#busy && this.#fd !== null) {
      this.#flush();
    }
    return this.#queued < HIGH_WATER_BYTES;
  }

  /** Writes what is queued and closes the file. Rejects (file removed) on a write error. */
  finish(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#finish = { resolve, reject };
      const wasBuffering = this.#state === 'buffering';
      this.#state = 'finishing';
      if (wasBuffering) this.#open();
      else if (!this.#busy) this.#idle();
    });
  }

  /** Stops writing and removes the file; resolves once it is gone. Never rejects. */
  discard(): Promise<void> {
    if (this.#discarded === null) {
      this.#discarded = new Promise<void>((resolve) => {
        this.#onDiscarded = resolve;
      });
      this.#state = 'discarding';
      this.#chunks = [];
      this.#queued = 0;
      if (!this.#busy) this.#cleanup();
    }
    return this.#discarded;
  }

  #open(): void {
    this.#busy = true;
    this.#touched = true;
    fs.open(this.#path, WRITE_FLAGS, 0o644, (err, fd) => {
      this.#busy = false;
      if (err === null) this.#fd = fd;
      if (this.#state === 'discarding') this.#cleanup();
      else if (err !== null) this.#fault(err);
      else this.#idle();
    });
  }

  #flush(): void {
    const fd = this.#fd;
    if (fd === null) return;
    const chunks = this.#chunks;
    const total = this.#queued;
    this.#chunks = [];
    this.#queued = 0;
    this.#busy = true;
    fs.writev(fd, chunks, (err, written) => {
      this.#busy = false;
      if (this.#state === 'discarding') {
        this.#cleanup();
        return;
      }
      if (err !== null) {
        this.#fault(err);
        return;
      }
      if (written < total) this.#requeueUnwritten(chunks, written);
      this.#idle();
    });
  }

  /** A short write (rare on regular files): put the unwritten tail back in front. */
  #requeueUnwritten(chunks: Buffer[], written: number): void {
    const rest: Buffer[] = [];
    let skip = written;
    for (const c of chunks) {
      if (skip >= c.length) {
        skip -= c.length;
        continue;
      }
      rest.push(skip > 0 ? c.subarray(skip) : c);
      skip = 0;
    }
    this.#chunks = rest.concat(this.#chunks);
    this.#queued += rest.reduce((n, c) => n + c.length, 0);
  }

  /** Decides the next operation when nothing is in flight. */
  #idle(): void {
    if (this.#chunks.length > 0) {
      this.#flush();
      if (this.#state === 'streaming' && this.#queued < HIGH_WATER_BYTES) this.#owner.onFileDrain();
      return;
    }
    if (this.#state === 'streaming') {
      this.#owner.onFileDrain();
    } else if (this.#state === 'finishing') {
      this.#close();
    }
  }

  #close(): void {
    const fd = this.#fd;
    this.#fd = null;
    if (fd === null) return;
    this.#busy = true;
    fs.close(fd, (err) => {
      this.#busy = false;
      if (this.#state === 'discarding') {
        this.#cleanup();
        return;
      }
      if (err) {
        this.#fault(err);
        return;
      }
      this.#state = 'closed';
      this.#finish?.resolve();
    });
  }

  #fault(err: NodeJS.ErrnoException): void {
    const finishing = this.#finish;
    this.#finish = null;
    void this.discard().then(() => {
      if (finishing !== null) finishing.reject(err);
      else this.#owner.onFileError(err);
    });
  }

  /** Closes and unlinks; only called when nothing is in flight. */
  #cleanup(): void {
    const done = (): void => {
      this.#state = 'closed';
      this.#onDiscarded();
    };
    const unlink = (): void => {
      if (this.#touched) fs.unlink(this.#path, () => done());
      else done();
    };
    const fd = this.#fd;
    this.#fd = null;
    if (fd !== null) fs.close(fd, () => unlink());
    else unlink();
  }
}
