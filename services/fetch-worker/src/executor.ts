import * as path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { errorOutcome, type TaskContext, type TaskExecutor, type TaskOutcome } from '@spindle/runtime';
import type { FetchTask } from '@spindle/sdk';
import { deriveFileName, sanitizeFileName, truncateUtf8 } from './fetch/file-name';
import { checkOutputDir } from './fetch/output-path';
import { createFetchPool, type FetchPool } from './pool';
import type { FetchLimits, FetchThreadTask, FromThreadMessage, ToThreadMessage } from './threads/protocol';

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
   * Number of worker threads; each runs many downloads concurrently.
   * @default 2
   */
  threads?: number;
  /**
   * Most downloads running at once in this worker (the credits it grants, and
   * the executor's `slots`). Spread evenly over the threads.
   * @default 16
   */
  slots?: number;
  /**
   * Most open connections per origin, per thread. The default lets every
   * download a thread runs use its own connection to one host.
   * @default ceil(slots / threads)
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
  allowLoopback: false,
  allowPrivate: false,
  maxBytes: 1024 * 1024 * 1024,
  maxRedirects: 10,
  connectTimeoutMs: 10_000,
  headersTimeoutMs: 30_000,
  idleTimeoutMs: 30_000,
  totalTimeoutMs: 30 * 60_000,
  closeTimeoutMs: 10_000,
  userAgent: 'spindle-fetch-worker/0.1.0',
});

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
/** Bytes of the final name kept in the temporary name (which adds task id and attempt). */
const TEMP_NAME_STEM_BYTES = 100;
const TEMP_NAME_TASK_BYTES = 64;

/**
 * Creates the fetch worker's task executor: downloads run in a piscina pool of
 * `threads` threads, at most `slots` at once. Throws a TypeError/RangeError for
 * invalid options; after that, `run` never throws.
 *
 * `run` resolves with `{ $case: 'fetch' }` or an error outcome (codes in
 * fetch/error-codes.ts). When `ctx.signal` aborts, the thread stops the download
 * and removes its temporary file, and only then does `run` resolve CANCELLED. A
 * cancel that arrives after the whole body was received and verified does not
 * undo the download: the file is complete, and the result says where it is.
 * `close()` cancels running downloads, waits up to `closeTimeoutMs` for their
 * cleanup, then terminates the threads; later `run` calls resolve CANCELLED.
 */
export function createFetchExecutor(options: FetchExecutorOptions): TaskExecutor<FetchTask> {
  return new FetchExecutor(options);
}

interface RunningTask {
  cancel(reason: string): void;
  readonly done: Promise<unknown>;
}

class FetchExecutor implements TaskExecutor<FetchTask> {
  readonly slots: number;
  readonly #limits: FetchLimits;
  readonly #closeTimeoutMs: number;
  readonly #pool: FetchPool;
  readonly #running = new Set<RunningTask>();
  #closing: Promise<void> | null = null;

  constructor(options: FetchExecutorOptions) {
    if (typeof options.dataRoot !== 'string' || !path.isAbsolute(options.dataRoot)) {
      throw new TypeError('options.dataRoot must be an absolute path');
    }
    const d = FETCH_EXECUTOR_DEFAULTS;
    const threads = positiveInt('threads', options.threads ?? d.threads);
    this.slots = positiveInt('slots', options.slots ?? d.slots);
    const tasksPerThread = Math.ceil(this.slots / threads);
    this.#limits = {
      maxBytes: positiveInt('maxBytes', options.maxBytes ?? d.maxBytes),
      maxRedirects: nonNegativeInt('maxRedirects', options.maxRedirects ?? d.maxRedirects),
      connectTimeoutMs: positiveInt('connectTimeoutMs', options.connectTimeoutMs ?? d.connectTimeoutMs),
      headersTimeoutMs: positiveInt('headersTimeoutMs', options.headersTimeoutMs ?? d.headersTimeoutMs),
      idleTimeoutMs: positiveInt('idleTimeoutMs', options.idleTimeoutMs ?? d.idleTimeoutMs),
      totalTimeoutMs: positiveInt('totalTimeoutMs', options.totalTimeoutMs ?? d.totalTimeoutMs),
    };
    this.#closeTimeoutMs = nonNegativeInt('closeTimeoutMs', options.closeTimeoutMs ?? d.closeTimeoutMs);
    const onThreadError = options.onThreadError ?? ((err: Error) => process.emitWarning(err));
    this.#pool = createFetchPool({
      threads,
      tasksPerThread,
      closeTimeoutMs: this.#closeTimeoutMs,
      onError: onThreadError,
      threadConfig: {
        type: 'fetch-thread-config',
        dataRoot: path.resolve(options.dataRoot),
        allowLoopback: options.allowLoopback ?? d.allowLoopback,
        allowPrivate: options.allowPrivate ?? d.allowPrivate,
        connectionsPerOrigin: positiveInt(
          'connectionsPerOrigin',
          options.connectionsPerOrigin ?? tasksPerThread,
        ),
        userAgent: options.userAgent ?? d.userAgent,
      },
    });
  }

  async run(spec: FetchTask, ctx: TaskContext): Promise<TaskOutcome> {
    try {
      return await this.#run(spec, ctx);
    } catch (err) {
      // Only a bug gets here; the contract is to report it, not to throw.
      return errorOutcome('INTERNAL', `GET ${String(spec?.url)}: ${messageOf(err)}`);
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #run(spec: FetchTask, ctx: TaskContext): Promise<TaskOutcome> {
    if (this.#closing !== null) return cancelled(spec.url, 'the fetch executor is closed');
    if (ctx.signal.aborted) return cancelled(spec.url, reasonOf(ctx.signal.reason));
    const prepared = this.#prepare(spec, ctx);
    if ('$case' in prepared) return prepared;

    const { port1, port2 } = new MessageChannel();
    const cancel = (reason: string): void => {
      const message: ToThreadMessage = { type: 'cancel', reason };
      port1.postMessage(message);
    };
    const onAbort = (): void => cancel(reasonOf(ctx.signal.reason));
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    port1.on('message', (message: FromThreadMessage) => {
      if (message.type !== 'progress') return;
      try {
        ctx.progress({ bytesDone: message.bytesDone, bytesTotal: message.bytesTotal });
      } catch {
        // A failing progress sink must not crash the worker; the result still goes through.
      }
    });
    const task: FetchThreadTask = { ...prepared, port: port2 };
    const done = this.#pool.run(task, { transferList: [port2] });
    const running: RunningTask = { cancel, done };
    this.#running.add(running);
    try {
      const out = await done;
      return out.type === 'ok' ? { $case: 'fetch', value: out.result } : { $case: 'error', value: out.error };
    } catch (err) {
      // The thread died or the pool was destroyed under the task.
      if (ctx.signal.aborted) return cancelled(spec.url, reasonOf(ctx.signal.reason));
      if (this.#closing !== null) return cancelled(spec.url, 'the fetch executor is closed');
      return errorOutcome('INTERNAL', `GET ${spec.url}: fetch thread failed: ${messageOf(err)}`);
    } finally {
      this.#running.delete(running);
      ctx.signal.removeEventListener('abort', onAbort);
      port1.close();
    }
  }

  /** Validates a task and resolves its names and limits, or returns the INVALID_SPEC/PATH_FORBIDDEN outcome. */
  #prepare(spec: FetchTask, ctx: TaskContext): Omit<FetchThreadTask, 'port'> | TaskOutcome {
    let url: URL;
    try {
      url = new URL(spec.url);
    } catch {
      return errorOutcome('INVALID_SPEC', `${JSON.stringify(spec.url)} is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return errorOutcome('INVALID_SPEC', `${spec.url}: only http and https URLs are supported`);
    }
    let sha256 = '';
    if (spec.sha256 !== '') {
      if (!SHA256_HEX.test(spec.sha256)) {
        return errorOutcome('INVALID_SPEC', `${spec.url}: sha256 must be 64 hex digits`);
      }
      sha256 = spec.sha256.toLowerCase();
    }
    if (!Number.isSafeInteger(spec.expectedSize) || spec.expectedSize < 0) {
      return errorOutcome('INVALID_SPEC', `${spec.url}: expected_size must be a non-negative integer`);
    }
    const dir = checkOutputDir(spec.outputDir, ctx.jobId);
    if (!dir.ok) return errorOutcome(dir.code, `${spec.url}: ${dir.message}`);
    const fileName = deriveFileName(spec.fileName, url);
    const taskPart = sanitizeFileName(`${ctx.taskId}`, TEMP_NAME_TASK_BYTES);
    return {
      type: 'fetch',
      url: spec.url,
      outputDir: dir.rel,
      fileName,
      // Hidden, unique per attempt, and in the same folder so the final rename is atomic.
      tempName: `.${truncateUtf8(fileName, TEMP_NAME_STEM_BYTES)}.${taskPart}.${ctx.attempt}.part`,
      sha256,
      expectedSize: spec.expectedSize,
      limits: this.#limitsFor(spec),
    };
  }

  #limitsFor(spec: FetchTask): FetchLimits {
    const o = spec.options;
    const d = this.#limits;
    if (o === undefined) return d;
    const pick = (value: number, fallback: number): number =>
      Number.isSafeInteger(value) && value > 0 ? value : fallback;
    return {
      maxBytes: pick(o.maxBytes, d.maxBytes),
      maxRedirects: pick(o.maxRedirects, d.maxRedirects),
      connectTimeoutMs: pick(o.connectTimeoutMs, d.connectTimeoutMs),
      headersTimeoutMs: pick(o.headersTimeoutMs, d.headersTimeoutMs),
      idleTimeoutMs: pick(o.idleTimeoutMs, d.idleTimeoutMs),
      totalTimeoutMs: pick(o.totalTimeoutMs, d.totalTimeoutMs),
    };
  }

  async #close(): Promise<void> {
    const running = [...this.#running];
    for (const task of running) task.cancel('the fetch executor is closing');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#closeTimeoutMs);
    });
    try {
      await Promise.race([Promise.allSettled(running.map((t) => t.done)), deadline]);
    } finally {
      clearTimeout(timer);
    }
    await this.#pool.destroy();
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
