import * as path from 'node:path';
import { cancelOf, errorOutcome, type TaskCancel, type TaskContext, type TaskExecutor, type TaskOutcome } from '@spindle/runtime';
import { fileNameFromUrl, truncateUtf8 } from '@spindle/runtime/file-names';
import { ExistingFilePolicy, type FetchTask } from '@spindle/sdk';
import { sanitizeName } from './fetch/file-name';
import { FirstHopCache } from './fetch/first-hop';
import { checkOutputDir, type OutputDirCheck } from './fetch/output-path';
import { EgressPolicy } from './fetch/url-policy';
import { toTaskError } from './fetch/error-codes';
import { FetchThreadPool, type PendingThreadTask } from './pool';
import type { ExistingFilePolicyName, FetchLimits, FetchThreadResult, ThreadTask } from './threads/protocol';

/**
 * Options of {@link createFetchExecutor}. The limit and timeout options are the
 * worker's defaults: a task uses its own `FetchOptions` value where that is
 * non-zero, and these where it is zero.
 */
export interface FetchExecutorOptions {
  /**
   * Absolute folder that every output path is resolved under (the shared data
   * volume). A task's `output_dir` is relative to it; paths that are absolute,
   * contain `..`, or lead out through a symlink are refused with PATH_FORBIDDEN.
   * Created on first use if missing.
   */
  dataRoot: string;
  /**
   * Number of worker threads; each runs many downloads concurrently. At most
   * `slots` threads are started (a thread needs at least one slot).
   * @default 2
   */
  threads?: number;
  /**
   * Most downloads running at once in this worker (global concurrency),
   * exactly: split over the threads, which differ by one at most (5 over 2
   * threads: 3 and 2; see threadShares in pool.ts).
   * @default 16
   */
  slots?: number;
  /**
   * Most tasks accepted beyond `slots` and queued in the worker, ready to start
   * the moment a download finishes, so that the coordinator's round trip
   * (result → credit → assignment) is not on the critical path of every small
   * download. The queue is adaptive: the worker asks for as many queued tasks
   * as finish in {@link PREFETCH_COVER_MS} at the current completion rate (at
   * least 1), so thousands of tiny files get a deep queue while long downloads
   * are not hoarded by one worker when others could start them. 0 = none.
   * @default 64
   */
  prefetch?: number;
  /**
   * Most downloads running at once from one host (host:port) when the task's
   * FetchOptions.per_host_concurrency is 0. 0 = no limit below `slots`.
   * @default 0
   */
  perHostConcurrency?: number;
  /**
   * Most open connections per origin, per thread. The default lets every
   * download a thread runs use its own connection to one host.
   * @default the thread's share of `slots`
   */
  connectionsPerOrigin?: number;
  /**
   * Allow downloads from loopback addresses (127.0.0.0/8, ::1): tests and the
   * local demo. Link-local addresses (169.254.0.0/16, fe80::/10, where cloud
   * metadata services live) and known metadata hosts are always refused.
   * @default false
   */
  allowLoopback?: boolean;
  /**
   * Allow downloads from private networks (10/8, 172.16/12, 192.168/16,
   * 100.64/10, fc00::/7, …).
   * @default false
   */
  allowPrivate?: boolean;
  /**
   * Largest body accepted, in bytes; a download is aborted as soon as it exceeds it.
   * @default 1073741824 (1 GiB)
   */
  maxBytes?: number;
  /**
   * Most redirects followed (0 = none); each hop is checked against the egress policy.
   * @default 10
   */
  maxRedirects?: number;
  /**
   * Time to establish a TCP/TLS connection, in ms.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * Time from sending a request until its response headers arrive, in ms.
   * @default 30000
   */
  headersTimeoutMs?: number;
  /**
   * Longest gap between two chunks of a body, in ms.
   * @default 30000
   */
  idleTimeoutMs?: number;
  /**
   * Longest duration of one attempt (all redirects included), in ms.
   * @default 1800000 (30 min)
   */
  totalTimeoutMs?: number;
  /**
   * How long the partial body of a failed attempt waits for the next attempt
   * to resume it before it is removed, in ms.
   * @default 900000 (15 min)
   */
  resumeTtlMs?: number;
  /**
   * A synchronous write of a streamed body slower than this sends that thread
   * to libuv's thread pool for a while (see WriteMode), in ms; 0 writes through
   * the pool always (for file systems where any write may block long).
   * @default 20
   */
  syncWriteLimitMs?: number;
  /**
   * How long `close()` waits for cancelled downloads to remove their temporary
   * files before the threads are terminated, in ms.
   * @default 10000
   */
  closeTimeoutMs?: number;
  /**
   * User-Agent request header.
   * @default 'spindle-fetch-worker/0.1.0'
   */
  userAgent?: string;
  /**
   * Receives errors of a thread that are not tied to a task (task failures are
   * outcomes, never reported here).
   * @default process.emitWarning
   */
  onThreadError?: (err: Error) => void;
}

/** The defaults of the optional {@link FetchExecutorOptions}. */
export const FETCH_EXECUTOR_DEFAULTS = Object.freeze({
  threads: 2,
  slots: 16,
  prefetch: 512,
  perHostConcurrency: 0,
  allowLoopback: false,
  allowPrivate: false,
  maxBytes: 1024 * 1024 * 1024,
  maxRedirects: 10,
  connectTimeoutMs: 10_000,
  headersTimeoutMs: 30_000,
  idleTimeoutMs: 30_000,
  totalTimeoutMs: 30 * 60_000,
  resumeTtlMs: 15 * 60_000,
  syncWriteLimitMs: 20,
  closeTimeoutMs: 10_000,
  userAgent: 'spindle-fetch-worker/0.1.0',
});

/**
 * How long the prefetch queue should last at the current completion rate, in
 * ms: comfortably more than a coordinator round trip (about 1 ms on one host,
 * a few across a network), so a worker never waits for its next task. Deeper
 * than that on purpose: a fetch thread with downloads still queued holds its
 * results for a couple of ms and sends them as one batch, so the queue's depth
 * sets how many results travel in one message to the main thread and on to
 * the coordinator, and each message costs both of them the same whatever it
 * carries. Measured on 5,000 one-byte files (tmpfs, 8 runs each, alternating
 * restarts): at 10 ms (with a cap of 64) 16.7 results per message, wall
 * 514–527 ms, coordinator 17–18 and worker 37.5–38 cs of CPU; at 20 ms (cap
 * 512) 40–42 results per message, 438–450 ms, 15 and 33–34 cs. 40 ms gave 47
 * per message and no further gain. Long downloads still get a queue of one.
 */
export const PREFETCH_COVER_MS = 20;
/** Completions the rate is measured over. */
const RATE_WINDOW = 32;

/**
 * The prefetch queue wanted after completions at `times` (ms, oldest first,
 * the last {@link RATE_WINDOW}): the completions expected in
 * {@link PREFETCH_COVER_MS} at that rate, between 1 and `max`; 1 while the
 * rate is unknown or stale (nothing finished for a second).
 */
export function adaptivePrefetch(times: readonly number[], now: number, max: number): number {
  if (max === 0) return 0;
  const newest = times[times.length - 1];
  const oldest = times[0];
  if (times.length < 2 || newest === undefined || oldest === undefined || now - newest >= 1000) return 1;
  const perMs = (times.length - 1) / Math.max(0.001, newest - oldest);
  return Math.max(1, Math.min(max, Math.ceil(perMs * PREFETCH_COVER_MS)));
}

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
const SEPARATORS = /[/\\]/g;
/** Bytes of the final name kept in the temporary name (which adds the task id and attempt). */
const TEMP_NAME_STEM_BYTES = 100;
const TEMP_NAME_TASK_BYTES = 64;

const IF_EXISTS: Readonly<Record<number, ExistingFilePolicyName>> = {
  [ExistingFilePolicy.EXISTING_FILE_POLICY_UNSPECIFIED]: 'overwrite',
  [ExistingFilePolicy.EXISTING_FILE_POLICY_OVERWRITE]: 'overwrite',
  [ExistingFilePolicy.EXISTING_FILE_POLICY_SKIP_IDENTICAL]: 'skip',
  [ExistingFilePolicy.EXISTING_FILE_POLICY_RENAME]: 'rename',
};

/**
 * Creates the fetch worker's task executor: downloads run on `threads` worker
 * threads, at most `slots` at once and at most the per-host limit per host;
 * up to `prefetch` more wait in the worker. Throws a TypeError/RangeError for
 * invalid options; after that, `run` never throws.
 *
 * `run` resolves with `{ $case: 'fetch' }` or an error outcome (codes in
 * fetch/error-codes.ts). When the task is cancelled (`ctx.cancel`, else
 * `ctx.signal`), a waiting task resolves CANCELLED at once; a running one is
 * stopped by its thread, which removes its temporary file, and only then does
 * `run` resolve CANCELLED. A cancel that arrives after the whole body was
 * received and verified does not undo the download: the file is complete, and
 * the result says where it is.
 * `close()` cancels everything, waits up to `closeTimeoutMs` for the cleanup,
 * removes partial bodies kept for resumption, then stops the threads; later
 * `run` calls resolve CANCELLED.
 */
export function createFetchExecutor(options: FetchExecutorOptions): TaskExecutor<FetchTask> {
  return new FetchExecutor(options);
}

/** A task that passed {@link FetchExecutor.#prepare}. */
interface Prepared {
  task: ThreadTask;
  /** host:port of the URL, for the per-host limit. */
  host: string;
  perHost: number;
}

/** What an accepted task calls back into: one per executor, so that a task needs no closures of its own. */
interface AcceptedHooks {
  finish(a: Accepted, outcome: FetchThreadResult): void;
  abort(a: Accepted): void;
}

/**
 * A task accepted by the executor: held back by its host's limit, or given to
 * a thread, whose callbacks it is. A class with methods rather than a record
 * plus closures: the main thread holds one for every queued and running
 * download, long enough for it to be promoted (see PREFETCH_COVER_MS).
 */
class Accepted implements PendingThreadTask {
  /** Pool id once running. */
  id = 0;
  /** The abort listener; its identity is what `cancel.offAbort` removes. */
  readonly onAbort: () => void;

  constructor(
    readonly task: ThreadTask,
    /** host:port of the URL, for the per-host limit. */
    readonly host: string,
    readonly perHost: number,
    readonly ctx: TaskContext,
    /** The task's cancellation: `ctx.cancel`, or one that follows `ctx.signal`. */
    readonly cancel: TaskCancel,
    /** Settles `run`; replaced while the executor closes, to learn when the download ended. */
    public resolve: (outcome: TaskOutcome) => void,
    private readonly hooks: AcceptedHooks,
  ) {
    this.onAbort = () => hooks.abort(this);
  }

  onProgress(bytesDone: number, bytesTotal: number): void {
    try {
      this.ctx.progress({ bytesDone, bytesTotal });
    } catch {
      // A failing progress sink must not crash the worker; the result still goes through.
    }
  }

  onDone(outcome: FetchThreadResult): void {
    this.hooks.finish(this, outcome);
  }
}

class FetchExecutor implements TaskExecutor<FetchTask> {
  /** Most credits: concurrent downloads plus the largest prefetch queue. */
  readonly slots: number;
  readonly #concurrency: number;
  readonly #maxPrefetch: number;
  /** Times of the last RATE_WINDOW completions (ms, performance.now), oldest first. */
  readonly #completions: number[] = [];
  readonly #perHostDefault: number;
  readonly #limits: FetchLimits;
  readonly #closeTimeoutMs: number;
  readonly #pool: FetchThreadPool;
  readonly #hooks: AcceptedHooks = {
    finish: (a, outcome) => this.#finish(a, outcome),
    abort: (a) => this.#abort(a),
  };
  /** Accepted tasks held back because their host is at its limit, oldest first. */
  #waiting: Accepted[] = [];
  /** Tasks given to a thread (running there or in its queue). */
  readonly #running = new Set<Accepted>();
  /** Tasks given to threads, by host; the per-host limit counts these. */
  readonly #perHost = new Map<string, number>();
  readonly #dirs = new Map<string, OutputDirCheck>();
  /**
   * The last folder checked, in front of #dirs: the tasks of a job arrive in
   * runs with the same job and folder, and comparing two strings is cheaper
   * than building and hashing the map key (measured 0.13 → 0.03 µs per task).
   */
  #lastDir: { jobId: string; outputDir: string; dir: OutputDirCheck } | null = null;
  /** The URL-level egress check of the first request (the threads check redirects and DNS answers). */
  readonly #egress: EgressPolicy;
  readonly #firstHops: FirstHopCache;
  #closing: Promise<void> | null = null;
  /**
   * Tasks whose last attempt here failed retryably and may have kept a partial body
   * for the next attempt, by task id: where that body would be, for {@link forget}.
   * An entry goes when the task runs here again or is forgotten; past the resume
   * time-to-live the thread has removed the body itself, and the entry is pruned.
   */
  readonly #mayHavePartial = new Map<string, { outputDir: string; tempStem: string; at: number }>();
  readonly #resumeTtlMs: number;
  #pruneAt = 1024;

  constructor(options: FetchExecutorOptions) {
    if (typeof options.dataRoot !== 'string' || !path.isAbsolute(options.dataRoot)) {
      throw new TypeError('options.dataRoot must be an absolute path');
    }
    const d = FETCH_EXECUTOR_DEFAULTS;
    const threads = positiveInt('threads', options.threads ?? d.threads);
    const concurrency = positiveInt('slots', options.slots ?? d.slots);
    this.#concurrency = concurrency;
    this.#maxPrefetch = nonNegativeInt('prefetch', options.prefetch ?? d.prefetch);
    this.slots = concurrency + this.#maxPrefetch;
    this.#perHostDefault = nonNegativeInt('perHostConcurrency', options.perHostConcurrency ?? d.perHostConcurrency);
    this.#limits = {
      maxBytes: positiveInt('maxBytes', options.maxBytes ?? d.maxBytes),
      maxRedirects: nonNegativeInt('maxRedirects', options.maxRedirects ?? d.maxRedirects),
      connectTimeoutMs: positiveInt('connectTimeoutMs', options.connectTimeoutMs ?? d.connectTimeoutMs),
      headersTimeoutMs: positiveInt('headersTimeoutMs', options.headersTimeoutMs ?? d.headersTimeoutMs),
      idleTimeoutMs: positiveInt('idleTimeoutMs', options.idleTimeoutMs ?? d.idleTimeoutMs),
      totalTimeoutMs: positiveInt('totalTimeoutMs', options.totalTimeoutMs ?? d.totalTimeoutMs),
    };
    this.#closeTimeoutMs = nonNegativeInt('closeTimeoutMs', options.closeTimeoutMs ?? d.closeTimeoutMs);
    this.#resumeTtlMs = positiveInt('resumeTtlMs', options.resumeTtlMs ?? d.resumeTtlMs);
    const onThreadError = options.onThreadError ?? ((err: Error) => process.emitWarning(err));
    this.#egress = new EgressPolicy({
      allowLoopback: options.allowLoopback ?? d.allowLoopback,
      allowPrivate: options.allowPrivate ?? d.allowPrivate,
    });
    this.#firstHops = new FirstHopCache(this.#egress);
    const connectionsPerOrigin = options.connectionsPerOrigin;
    this.#pool = new FetchThreadPool({
      threads,
      concurrency,
      connectionsPerOrigin:
        connectionsPerOrigin === undefined ? undefined : positiveInt('connectionsPerOrigin', connectionsPerOrigin),
      onError: onThreadError,
      threadConfig: {
        type: 'fetch-thread-config',
        dataRoot: path.resolve(options.dataRoot),
        allowLoopback: options.allowLoopback ?? d.allowLoopback,
        allowPrivate: options.allowPrivate ?? d.allowPrivate,
        userAgent: options.userAgent ?? d.userAgent,
        resumeTtlMs: this.#resumeTtlMs,
        syncWriteLimitMs: nonNegativeInt('syncWriteLimitMs', options.syncWriteLimitMs ?? d.syncWriteLimitMs),
        limits: this.#limits,
      },
    });
  }

  /** Tasks held back by per-host limits, and tasks given to threads (for tests and metrics). */
  get queued(): { waiting: number; running: number } {
    return { waiting: this.#waiting.length, running: this.#running.size };
  }

  run(spec: FetchTask, ctx: TaskContext): Promise<TaskOutcome> {
    try {
      if (this.#closing !== null) return Promise.resolve(cancelled(spec.url, 'the fetch executor is closed'));
      // The connection's TaskCancellation: a Node AbortSignal per task costs a hidden class of its own.
      const cancel = ctx.cancel ?? cancelOf(ctx.signal);
      if (cancel.aborted) return Promise.resolve(cancelled(spec.url, reasonOf(cancel.reason)));
      if (this.#mayHavePartial.size > 0) this.#mayHavePartial.delete(ctx.taskId);
      const prepared = this.#prepare(spec, ctx);
      if ('$case' in prepared) return Promise.resolve(prepared);
      return new Promise<TaskOutcome>((resolve) => {
        // A constructor, not `{ ...prepared, ctx, … }`: that spread gave every task's object a
        // hidden class of its own (%HaveSameMap of two in a row: false), a new map and descriptors
        // each time: 8 MB of the main thread's ~40 MB allocated per 5,000-file job (V8's sampling
        // heap profiler), held until each download ends.
        const accepted = new Accepted(prepared.task, prepared.host, prepared.perHost, ctx, cancel, resolve, this.#hooks);
        cancel.onAbort(accepted.onAbort);
        this.#waiting.push(accepted);
        this.#pump();
      });
    } catch (err) {
      // Only a bug gets here; the contract is to report it, not to throw.
      return Promise.resolve(errorOutcome('INTERNAL', `GET ${String(spec?.url)}: ${messageOf(err)}`));
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  forget(taskId: string): void {
    const kept = this.#mayHavePartial.get(taskId);
    if (kept === undefined) return;
    this.#mayHavePartial.delete(taskId);
    this.#pool.forget(kept.outputDir, kept.tempStem);
  }

  #notePartial(taskId: string, task: ThreadTask): void {
    const now = performance.now();
    // Pruned when the map has doubled since the last pruning: amortised O(1) per entry
    // even when thousands of downloads fail within the time-to-live.
    if (this.#mayHavePartial.size >= this.#pruneAt) {
      for (const [id, k] of this.#mayHavePartial) if (now - k.at > this.#resumeTtlMs) this.#mayHavePartial.delete(id);
      this.#pruneAt = Math.max(1024, 2 * this.#mayHavePartial.size);
    }
    this.#mayHavePartial.set(taskId, { outputDir: task.outputDir, tempStem: task.tempStem, at: now });
  }

  /**
   * Tasks wanted now: every slot, plus queued tasks for {@link PREFETCH_COVER_MS}
   * of completions at the recent rate (1 while it is unknown), at most `prefetch`.
   */
  credits(): number {
    return this.#concurrency + adaptivePrefetch(this.#completions, performance.now(), this.#maxPrefetch);
  }

  #recordCompletion(): void {
    this.#completions.push(performance.now());
    if (this.#completions.length > RATE_WINDOW) this.#completions.shift();
  }

  /**
   * Gives waiting tasks to threads, oldest first, while their hosts' limits
   * allow. The global limit needs no check here: the threads enforce it (their
   * shares add up to `slots`), and the credits bound what is accepted.
   */
  #pump(): void {
    let i = 0;
    while (i < this.#waiting.length) {
      const a = this.#waiting[i]!;
      if ((this.#perHost.get(a.host) ?? 0) >= a.perHost) {
        i++; // its host is at its limit; a later task for another host may start
        continue;
      }
      this.#waiting.splice(i, 1);
      this.#launch(a);
    }
  }

  #launch(a: Accepted): void {
    this.#running.add(a);
    this.#perHost.set(a.host, (this.#perHost.get(a.host) ?? 0) + 1);
    a.id = this.#pool.start(a);
  }

  #finish(a: Accepted, outcome: FetchThreadResult): void {
    this.#recordCompletion();
    this.#running.delete(a);
    const n = (this.#perHost.get(a.host) ?? 1) - 1;
    if (n > 0) this.#perHost.set(a.host, n);
    else this.#perHost.delete(a.host);
    a.cancel.offAbort(a.onAbort);
    if (outcome.type === 'error' && outcome.keptPartial === true) this.#notePartial(a.ctx.taskId, a.task);
    a.resolve(outcome.type === 'ok' ? { $case: 'fetch', value: outcome.result } : { $case: 'error', value: outcome.error });
    this.#pump();
  }

  #abort(a: Accepted): void {
    const reason = reasonOf(a.cancel.reason);
    const i = this.#waiting.indexOf(a);
    if (i >= 0) {
      this.#waiting.splice(i, 1);
      a.cancel.offAbort(a.onAbort);
      a.resolve(cancelled(a.task.url, reason));
      return;
    }
    if (this.#running.has(a)) this.#pool.cancel(a.id, reason);
  }

  /** Validates a task and resolves its names and limits, or returns the INVALID_SPEC/PATH_FORBIDDEN outcome. */
  #prepare(spec: FetchTask, ctx: TaskContext): Prepared | TaskOutcome {
    // A task without a file name takes it from the parsed URL; the others' first hop
    // usually comes from the cache of origins already parsed and checked.
    let hop = spec.fileName !== '' ? this.#firstHops.lookup(spec.url) : null;
    let url: URL | null = null;
    if (hop === null) {
      try {
        url = new URL(spec.url);
      } catch {
        return errorOutcome('INVALID_SPEC', `${JSON.stringify(spec.url)} is not a valid URL`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        return errorOutcome('INVALID_SPEC', `${spec.url}: only http and https URLs are supported`);
      }
      try {
        this.#egress.checkUrl(url);
      } catch (err) {
        return { $case: 'error', value: toTaskError(err, spec.url) };
      }
      hop = { origin: url.origin, host: url.host, path: url.pathname + url.search };
    }
    let sha256 = '';
    if (spec.sha256 !== '') {
      if (!SHA256_HEX.test(spec.sha256)) return errorOutcome('INVALID_SPEC', `${spec.url}: sha256 must be 64 hex digits`);
      sha256 = spec.sha256.toLowerCase();
    }
    if (!Number.isSafeInteger(spec.expectedSize) || spec.expectedSize < 0) {
      return errorOutcome('INVALID_SPEC', `${spec.url}: expected_size must be a non-negative integer`);
    }
    const dir = this.#outputDir(ctx.jobId, spec.outputDir);
    if (!dir.ok) return errorOutcome(dir.code, `${spec.url}: ${dir.message}`);
    // Names given by the coordinator are planned and sanitized already; sanitize anyway, never trust.
    const fileName = sanitizeName(url !== null && spec.fileName === '' ? fileNameFromUrl(url) : spec.fileName);
    // The task id (job/kind/index) keeps temporary names of different jobs apart; '/' would cut it.
    const taskPart = sanitizeName(ctx.taskId.replace(SEPARATORS, '-'), TEMP_NAME_TASK_BYTES);
    const o = spec.options;
    const perHost = o !== undefined && o.perHostConcurrency > 0 ? o.perHostConcurrency : this.#perHostDefault;
    return {
      host: hop.host,
      perHost: perHost > 0 ? perHost : Infinity,
      task: {
        url: spec.url,
        origin: hop.origin,
        path: hop.path,
        outputDir: dir.rel,
        fileName,
        nameFromResponse: spec.nameFromResponse === true && spec.fileName !== '',
        // Hidden, unique per task, and in the same folder so the final rename is atomic.
        tempStem: `.${truncateUtf8(fileName, TEMP_NAME_STEM_BYTES)}.${taskPart}`,
        attempt: ctx.attempt,
        keepPartial: spec.maxAttempts > 0 && ctx.attempt < spec.maxAttempts,
        sha256,
        expectedSize: spec.expectedSize,
        ifExists: IF_EXISTS[o?.ifExists ?? 0] ?? 'overwrite',
        limits: this.#limitsFor(spec),
      },
    };
  }

  #outputDir(jobId: string, outputDir: string): OutputDirCheck {
    const last = this.#lastDir;
    if (last !== null && last.jobId === jobId && last.outputDir === outputDir) return last.dir;
    const key = `${jobId}\0${outputDir}`;
    let dir = this.#dirs.get(key);
    if (dir === undefined) {
      dir = checkOutputDir(outputDir, jobId);
      if (this.#dirs.size > 1000) this.#dirs.clear(); // a small cache, not a leak
      this.#dirs.set(key, dir);
    }
    this.#lastDir = { jobId, outputDir, dir };
    return dir;
  }

  #limitsFor(spec: FetchTask): FetchLimits {
    const o = spec.options;
    const d = this.#limits;
    if (o === undefined) return d;
    const pick = (value: number, fallback: number): number =>
      Number.isSafeInteger(value) && value > 0 ? value : fallback;
    return {
      maxBytes: pick(o.maxBytes, d.maxBytes),
      // 0 is a limit here (no redirects); only an unset field takes the default.
      maxRedirects: o.maxRedirects !== undefined && Number.isSafeInteger(o.maxRedirects) && o.maxRedirects >= 0 ? o.maxRedirects : d.maxRedirects,
      connectTimeoutMs: pick(o.connectTimeoutMs, d.connectTimeoutMs),
      headersTimeoutMs: pick(o.headersTimeoutMs, d.headersTimeoutMs),
      idleTimeoutMs: pick(o.idleTimeoutMs, d.idleTimeoutMs),
      totalTimeoutMs: pick(o.totalTimeoutMs, d.totalTimeoutMs),
    };
  }

  async #close(): Promise<void> {
    const started = Date.now();
    for (const a of this.#waiting) {
      a.cancel.offAbort(a.onAbort);
      a.resolve(cancelled(a.task.url, 'the fetch executor is closing'));
    }
    this.#waiting = [];
    const running = [...this.#running];
    const settled = running.map(
      (a) =>
        new Promise<void>((resolve) => {
          const resolveOutcome = a.resolve;
          a.resolve = (outcome: TaskOutcome) => {
            resolveOutcome(outcome);
            resolve();
          };
        }),
    );
    for (const a of running) this.#pool.cancel(a.id, 'the fetch executor is closing');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#closeTimeoutMs)));
    try {
      await Promise.race([Promise.all(settled), deadline]);
    } finally {
      clearTimeout(timer);
    }
    await this.#pool.close(Math.max(100, this.#closeTimeoutMs - (Date.now() - started)));
    // Downloads the threads did not finish in time were failed by the pool as the threads stopped.
  }
}

function cancelled(url: string, reason: string): TaskOutcome {
  return errorOutcome('CANCELLED', `GET ${url}: cancelled (${reason})`);
}

function reasonOf(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  if (typeof reason === 'string' && reason !== '') return reason;
  return 'task cancelled';
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`options.${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function nonNegativeInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`options.${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}
