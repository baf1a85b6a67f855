import { constants, promises as fs, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MessageChannel } from 'node:worker_threads';
import { errorOutcome, type TaskContext, type TaskExecutor, type TaskOutcome } from '@spindle/runtime';
import type { CsvDialect, StatsResult, StatsTask } from '@spindle/sdk';
import { detectDelimiter, readHead, type FileHead } from './csv/sniff';
import { TextGuard } from './csv/text-guard';
import { getErrorMessage, isStatsError, StatsError } from './errors';
import { minorGc } from './minor-gc';
import { createStatsPool, type StatsPool } from './pool';
import { resolveSourcePath, type ResolvedSource } from './source/resolve-path';
import { planRanges, runRanges, type RangeOutcome, type RangeSpec } from './split/split';
import { StatsEngine, type FileState } from './stats/engine';
import { checkEngineLimits, DEFAULT_ENGINE_LIMITS, type EngineLimits } from './stats/limits';
import type {
  EgressOptions,
  StatsRangeRequest,
  StatsStreamRequest,
  StatsThreadProgress,
  StatsThreadRequest,
  StatsThreadResponse,
} from './threads/protocol';

/** Options of {@link createStatsExecutor}. */
export interface StatsExecutorOptions {
  /**
   * Absolute path of the data root. Path sources are resolved inside it; anything that
   * resolves outside (`..`, other absolute paths, symlinks) is refused with PATH_FORBIDDEN.
   * It must exist when the executor is created.
   */
  dataRoot: string;
  /**
   * Worker threads. The executor's `slots` equals this; one file may use all of them.
   * @default 2
   */
  threads?: number;
  /**
   * Longest CSV record accepted, in bytes (a record may span lines inside quotes). A longer
   * one, such as an endless line, fails the task with CSV_MALFORMED instead of growing memory.
   * @default 1048576 (1 MiB)
   */
  maxLineBytes?: number;
  /**
   * Size of each file read. Memory per thread is about 2 × this + `maxLineBytes` + the
   * per-file budgets of `limits`.
   * @default 1048576 (1 MiB)
   */
  readChunkBytes?: number;
  /** Per-file memory budgets of the statistics. @default DEFAULT_ENGINE_LIMITS */
  limits?: EngineLimits;
  /**
   * A local file of at least 2 × `minRangeBytes` is split into byte ranges of about this size
   * (a multiple of `threads` of them), parsed on all threads and merged.
   * @default 67108864 (64 MiB)
   */
  rangeBytes?: number;
  /** Smallest range worth a thread of its own. @default 1048576 (1 MiB) */
  minRangeBytes?: number;
  /** Egress rules and timeouts of URL sources. Loopback and private addresses are refused by default. */
  egress?: Partial<EgressOptions>;
  /**
   * The thread entry file (tests may point it elsewhere).
   * @default the compiled threads/stats-thread.js of this package
   */
  threadFilename?: string;
}

const MiB = 1024 * 1024;

/** Bytes read from the start of a file to detect its delimiter and read its header. */
const HEAD_BYTES = 64 * 1024;

/**
 * Creates the stats worker's task executor: the statistics of one CSV file per task, computed
 * in a single streaming pass on a worker_threads pool (piscina).
 *
 * A local, uncompressed file is planned here (delimiter detection and header from its first
 * bytes), then cut into byte ranges that run on the pool at once and are merged in file order
 * (split.ts), so one large file keeps every thread busy. Gzip files and URLs are streamed by
 * one thread.
 *
 * `run` never throws. It resolves with `{ $case: 'stats' }` or an error outcome with code
 * INVALID_SPEC, FILE_NOT_FOUND, PATH_FORBIDDEN, CSV_MALFORMED, HTTP_STATUS, NETWORK, TIMEOUT,
 * CANCELLED or INTERNAL. When `ctx.signal` aborts, the threads running the task are
 * terminated (piscina starts fresh ones) and the outcome is CANCELLED. `close()` terminates
 * every thread; tasks still running then resolve as CANCELLED.
 *
 * @throws TypeError or RangeError for invalid options, Error when `dataRoot` does not exist
 */
export function createStatsExecutor(options: StatsExecutorOptions): TaskExecutor<StatsTask> {
  return new StatsExecutor(options);
}

class StatsExecutor implements TaskExecutor<StatsTask> {
  readonly slots: number;
  readonly #dataRoot: string;
  readonly #realRoot: string;
  readonly #maxLineBytes: number;
  readonly #chunkBytes: number;
  readonly #limits: EngineLimits;
  readonly #rangeBytes: number;
  readonly #minRangeBytes: number;
  readonly #egress: EgressOptions;
  readonly #pool: StatsPool;
  #closed = false;

  constructor(options: StatsExecutorOptions) {
    const {
      dataRoot,
      threads = 2,
      maxLineBytes = MiB,
      readChunkBytes = MiB,
      rangeBytes = 64 * MiB,
      minRangeBytes = MiB,
    } = options;
    if (typeof dataRoot !== 'string' || !path.isAbsolute(dataRoot)) {
      throw new TypeError('options.dataRoot must be an absolute path');
    }
    for (const [name, value] of Object.entries({ threads, maxLineBytes, readChunkBytes, rangeBytes, minRangeBytes })) {
      if (!Number.isInteger(value) || value < 1) throw new TypeError(`options.${name} must be a positive integer`);
    }
    try {
      this.#realRoot = realpathSync(dataRoot);
    } catch (err) {
      throw new Error(`options.dataRoot ${dataRoot} cannot be resolved: ${getErrorMessage(err)}`);
    }
    this.#dataRoot = path.resolve(dataRoot);
    this.slots = threads;
    this.#maxLineBytes = maxLineBytes;
    this.#chunkBytes = readChunkBytes;
    this.#limits = checkEngineLimits({ ...DEFAULT_ENGINE_LIMITS, ...options.limits });
    this.#rangeBytes = rangeBytes;
    this.#minRangeBytes = minRangeBytes;
    this.#egress = {
      allowLoopback: false,
      allowPrivate: false,
      headersTimeoutMs: 30_000,
      bodyTimeoutMs: 30_000,
      totalTimeoutMs: 30 * 60_000,
      ...options.egress,
    };
    this.#pool = createStatsPool({ threads, filename: options.threadFilename });
  }

  async run(spec: StatsTask, ctx: TaskContext): Promise<TaskOutcome> {
    const startedAt = performance.now();
    try {
      if (this.#closed) return errorOutcome('CANCELLED', 'the stats executor is closed');
      if (ctx.signal.aborted) return cancelled(ctx.signal);
      const dialect = parseDialect(spec.dialect);
      const source = spec.source?.source;
      if (source === undefined) throw new StatsError('INVALID_SPEC', 'stats task has no source');
      let result: Omit<StatsResult, 'durationMs'>;
      if (source.$case === 'url') {
        result = await this.#stream(source.value, { kind: 'url', url: source.value, egress: this.#egress }, 0, dialect, ctx);
      } else {
        const resolved = await resolveSourcePath(source.value, this.#dataRoot, this.#realRoot);
        if (ctx.signal.aborted) return cancelled(ctx.signal);
        result = await this.#file(source.value, resolved, dialect, ctx);
      }
      const outcome: TaskOutcome = {
        $case: 'stats',
        value: { ...result, durationMs: Math.round(performance.now() - startedAt) },
      };
      // The range states moved in from the threads are garbage once merged, and this
      // thread allocates too little for a scavenge to come by soon.
      minorGc?.({ type: 'minor' });
      return outcome;
    } catch (err) {
      if (ctx.signal.aborted) return cancelled(ctx.signal);
      if (this.#closed) return errorOutcome('CANCELLED', 'the stats worker is shutting down');
      if (isStatsError(err)) {
        const e = err as StatsError & { httpStatus?: number; retryable?: boolean };
        return errorOutcome(e.code, e.message, e.retryable ?? e.code === 'INTERNAL', e.httpStatus ?? 0);
      }
      // A thread that died (out of memory, a bug): another attempt may succeed elsewhere.
      const label = spec.source?.source?.value ?? 'stats task';
      return errorOutcome('INTERNAL', `${label}: stats thread failed: ${getErrorMessage(err)}`, true);
    }
  }

  /** A local file: planned here, then split into ranges (or streamed when gzip-compressed). */
  async #file(
    source: string,
    resolved: ResolvedSource,
    dialect: { delimiter: number; noHeader: boolean },
    ctx: TaskContext,
  ): Promise<Omit<StatsResult, 'durationMs'>> {
    const input = { kind: 'file', path: resolved.realPath, dev: resolved.dev, ino: resolved.ino } as const;
    const size = resolved.size;
    ctx.progress({ bytesDone: 0, bytesTotal: size, rowsDone: 0 });
    const { head, final } = await this.#readHeadBytes(resolved, source);
    if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
      return this.#stream(source, input, size, dialect, ctx);
    }
    let plan: { delimiter: number; head: FileHead };
    try {
      // Binary files and other encodings fail here, before any thread is involved.
      new TextGuard().check(head);
      const delimiter = dialect.delimiter || detectDelimiter(head, final);
      const fileHead = readHead(head, final, delimiter, dialect.noHeader, this.#maxLineBytes);
      if (fileHead === null) {
        throw new StatsError('CSV_MALFORMED', `record is longer than ${this.#maxLineBytes} bytes (byte offset 0)`);
      }
      plan = { delimiter, head: fileHead };
    } catch (err) {
      if (isStatsError(err)) throw new StatsError(err.code, `${source}: ${err.message}`);
      throw err;
    }
    const { delimiter, head: fileHead } = plan;
    const base: FileState = {
      ...new StatsEngine({ columns: fileHead.columns, limits: this.#limits }).toState(),
      bytes: fileHead.dataStart,
    };
    if (fileHead.columns.length === 0) base.columns = null;
    const ranges = planRanges(fileHead.dataStart, size, this.slots, this.#rangeBytes, this.#minRangeBytes);
    const done = new Map<number, { bytes: number; rows: number }>();
    const report = (): void => {
      let bytes = fileHead.dataStart;
      let rows = 0;
      for (const d of done.values()) {
        bytes += d.bytes;
        rows += d.rows;
      }
      ctx.progress({ bytesDone: Math.min(bytes, size), bytesTotal: size, rowsDone: rows });
    };
    const runRange = async (range: RangeSpec): Promise<RangeOutcome> => {
      const response = await this.#runOnPool(
        (progressPort) =>
          ({
            type: 'stats-range',
            source,
            path: resolved.realPath,
            dev: resolved.dev,
            ino: resolved.ino,
            range,
            columns: fileHead.columns,
            delimiter,
            maxLineBytes: this.#maxLineBytes,
            chunkBytes: this.#chunkBytes,
            limits: this.#limits,
            progressPort,
          }) satisfies StatsRangeRequest,
        ctx,
        (message) => {
          done.set(range.index, { bytes: message.bytesDone, rows: message.rowsDone });
          report();
        },
      );
      if (response.type !== 'range') throw new Error(`unexpected thread response ${response.type}`);
      return response;
    };
    const stats =
      fileHead.columns.length === 0
        ? StatsEngine.finalize(base, this.#limits)
        : (await runRanges(ranges, base, this.#limits, runRange)).stats;
    ctx.progress({ bytesDone: size, bytesTotal: size, rowsDone: stats.rows });
    return { source, ...stats, delimiter: String.fromCharCode(delimiter) };
  }

  /** A gzip file or a URL, on one thread. */
  async #stream(
    source: string,
    input: StatsStreamRequest['input'],
    size: number,
    dialect: { delimiter: number; noHeader: boolean },
    ctx: TaskContext,
  ): Promise<Omit<StatsResult, 'durationMs'>> {
    const response = await this.#runOnPool(
      (progressPort) =>
        ({
          type: 'stats-stream',
          source,
          input,
          delimiter: dialect.delimiter,
          noHeader: dialect.noHeader,
          maxLineBytes: this.#maxLineBytes,
          chunkBytes: this.#chunkBytes,
          limits: this.#limits,
          progressPort,
        }) satisfies StatsStreamRequest,
      ctx,
      (message) => ctx.progress({ bytesDone: message.bytesDone, bytesTotal: size, rowsDone: message.rowsDone }),
    );
    if (response.type === 'error') {
      throw Object.assign(new StatsError(response.code, response.message), {
        httpStatus: response.httpStatus,
        retryable: response.retryable,
      });
    }
    if (response.type !== 'ok') throw new Error(`unexpected thread response ${response.type}`);
    const stats = StatsEngine.finalize(response.state, this.#limits);
    ctx.progress({ bytesDone: response.sourceBytes, bytesTotal: size, rowsDone: stats.rows });
    return { source, ...stats, delimiter: String.fromCharCode(response.delimiter) };
  }

  /** Runs one request on the pool with a progress port; the port closes when it settles. */
  async #runOnPool(
    build: (port: StatsThreadRequest['progressPort']) => StatsThreadRequest,
    ctx: TaskContext,
    onProgress: (message: StatsThreadProgress) => void,
  ): Promise<StatsThreadResponse> {
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (message: StatsThreadProgress) => {
      try {
        onProgress(message);
      } catch {
        // Progress is best effort; a failing reporter must not become an uncaught exception.
      }
    });
    try {
      return await this.#pool.run(build(port2), { transferList: [port2], signal: ctx.signal });
    } finally {
      // Closing drops progress still in flight, which could otherwise arrive after the result.
      port1.close();
    }
  }

  /** The first bytes of a file (more when the header is long), and whether that is all of it. */
  async #readHeadBytes(resolved: ResolvedSource, source: string): Promise<{ head: Buffer; final: boolean }> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(resolved.realPath, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new StatsError('FILE_NOT_FOUND', `${source}: no such file`);
      if (code === 'ELOOP') throw new StatsError('PATH_FORBIDDEN', `${source}: the file was replaced by a symlink`);
      throw new StatsError('PATH_FORBIDDEN', `${source}: ${getErrorMessage(err)}`);
    }
    try {
      const stat = await handle.stat({ bigint: true });
      if (stat.dev.toString() !== resolved.dev || stat.ino.toString() !== resolved.ino) {
        throw new StatsError('PATH_FORBIDDEN', `${source}: the file changed between the path check and the open`);
      }
      let length = HEAD_BYTES;
      for (;;) {
        const buf = Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(buf, 0, length, 0);
        const head = buf.subarray(0, bytesRead);
        const final = bytesRead < length;
        // A header longer than the first read: read more, up to the record size limit.
        if (final || length > this.#maxLineBytes || headerComplete(head)) return { head, final };
        length *= 4;
      }
    } finally {
      await handle.close();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.destroy();
  }
}

/** True when `head` holds a line end outside quotes (so its first record is complete). */
function headerComplete(head: Buffer): boolean {
  let quoted = false;
  for (let i = 0; i < head.length; i++) {
    const c = head[i];
    if (c === 0x22) quoted = !quoted;
    else if (!quoted && (c === 0x0a || c === 0x0d)) return true;
  }
  return false;
}

function cancelled(signal: AbortSignal): TaskOutcome {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error && reason.name !== 'AbortError' ? `: ${reason.message}` : '';
  return errorOutcome('CANCELLED', `task cancelled${why}`);
}

/** The dialect as the engine wants it (delimiter 0 = detect); INVALID_SPEC for an unusable delimiter. */
function parseDialect(dialect: CsvDialect | undefined): { delimiter: number; noHeader: boolean } {
  const text = dialect?.delimiter ?? '';
  const noHeader = dialect?.noHeader ?? false;
  if (text === '') return { delimiter: 0, noHeader };
  const code = text.charCodeAt(0);
  const usable = text.length === 1 && (code === 0x09 || (code >= 0x20 && code < 0x7f)) && text !== '"';
  if (!usable) {
    throw new StatsError(
      'INVALID_SPEC',
      'dialect.delimiter must be one printable ASCII character or a tab, not a quote ' +
        `(got ${JSON.stringify(text)})`,
    );
  }
  return { delimiter: code, noHeader };
}
