import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MessageChannel } from 'node:worker_threads';
import { errorOutcome, type TaskContext, type TaskExecutor, type TaskOutcome } from '@spindle/runtime';
import type { CsvDialect, StatsTask } from '@spindle/sdk';
import { getErrorMessage, isStatsError, StatsError } from './errors';
import { createStatsPool, type StatsPool } from './pool';
import { resolveSourcePath } from './source/resolve-path';
import type { StatsThreadProgress, StatsThreadRequest, StatsThreadResponse } from './threads/protocol';

/** Options of {@link createStatsExecutor}. */
export interface StatsExecutorOptions {
  /**
   * Absolute path of the data root. Path sources are resolved inside it; anything that
   * resolves outside (`..`, other absolute paths, symlinks) is refused with PATH_FORBIDDEN.
   * It must exist when the executor is created.
   */
  dataRoot: string;
  /**
   * Worker threads, hence files processed at once. The executor's `slots` equals this.
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
   * Size of each file read. Memory per running task is about 2 × this + `maxLineBytes`.
   * @default 1048576 (1 MiB)
   */
  readChunkBytes?: number;
  /**
   * The thread entry file (tests may point it elsewhere).
   * @default the compiled threads/stats-thread.js of this package
   */
  threadFilename?: string;
}

const MiB = 1024 * 1024;

/**
 * Creates the stats worker's task executor: one CSV file per task, parsed and profiled in a
 * single streaming pass on a worker_threads pool (piscina).
 *
 * `run` never throws. It resolves with `{ $case: 'stats' }` or an error outcome with code
 * INVALID_SPEC, FILE_NOT_FOUND, PATH_FORBIDDEN, CSV_MALFORMED, CANCELLED or INTERNAL (the only
 * retryable one). When `ctx.signal` aborts, the thread running the task is terminated (piscina
 * starts a fresh one) and the outcome is CANCELLED. `close()` terminates every thread; tasks
 * still running then resolve as CANCELLED.
 *
 * @throws TypeError for invalid options, Error when `dataRoot` does not exist
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
  readonly #pool: StatsPool;
  #closed = false;

  constructor(options: StatsExecutorOptions) {
    const { dataRoot, threads = 2, maxLineBytes = MiB, readChunkBytes = MiB } = options;
    if (typeof dataRoot !== 'string' || !path.isAbsolute(dataRoot)) {
      throw new TypeError('options.dataRoot must be an absolute path');
    }
    if (!Number.isInteger(threads) || threads < 1) {
      throw new TypeError('options.threads must be a positive integer');
    }
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) {
      throw new TypeError('options.maxLineBytes must be a positive integer');
    }
    if (!Number.isInteger(readChunkBytes) || readChunkBytes < 1) {
      throw new TypeError('options.readChunkBytes must be a positive integer');
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
      if (source.$case === 'url') {
        throw new StatsError('INVALID_SPEC', `${source.value}: url sources are not supported yet`);
      }
      const resolved = await resolveSourcePath(source.value, this.#dataRoot, this.#realRoot);
      if (ctx.signal.aborted) return cancelled(ctx.signal);
      const bytesTotal = resolved.size;
      ctx.progress({ bytesDone: 0, bytesTotal, rowsDone: 0 });

      const { port1, port2 } = new MessageChannel();
      port1.on('message', (message: StatsThreadProgress) => {
        try {
          ctx.progress({ bytesDone: message.bytesDone, bytesTotal, rowsDone: message.rowsDone });
        } catch {
          // Progress is best effort; a failing reporter must not become an uncaught exception.
        }
      });
      const request: StatsThreadRequest = {
        type: 'stats-file',
        path: resolved.realPath,
        dev: resolved.dev,
        ino: resolved.ino,
        source: source.value,
        delimiter: dialect.delimiter,
        noHeader: dialect.noHeader,
        maxLineBytes: this.#maxLineBytes,
        chunkBytes: this.#chunkBytes,
        progressPort: port2,
      };
      let response: StatsThreadResponse;
      try {
        response = await this.#pool.run(request, { transferList: [port2], signal: ctx.signal });
      } finally {
        // Closing drops progress still in flight, which could otherwise arrive after the result.
        port1.close();
      }
      if (response.type === 'error') {
        return errorOutcome(response.code, response.message, response.code === 'INTERNAL');
      }
      const { stats } = response;
      ctx.progress({ bytesDone: stats.bytes, bytesTotal, rowsDone: stats.rows });
      return {
        $case: 'stats',
        value: {
          source: source.value,
          rows: stats.rows,
          columns: stats.columns,
          bytes: stats.bytes,
          delimiter: '',
          columnStats: stats.columnStats,
          raggedRows: stats.raggedRows,
          durationMs: Math.round(performance.now() - startedAt),
        },
      };
    } catch (err) {
      if (ctx.signal.aborted) return cancelled(ctx.signal);
      if (this.#closed) return errorOutcome('CANCELLED', 'the stats worker is shutting down');
      if (isStatsError(err)) return errorOutcome(err.code, err.message, err.code === 'INTERNAL');
      // A thread that died (out of memory, a bug): another attempt may succeed elsewhere.
      const label = spec.source?.source?.value ?? 'stats task';
      return errorOutcome('INTERNAL', `${label}: stats thread failed: ${getErrorMessage(err)}`, true);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.destroy();
  }
}

function cancelled(signal: AbortSignal): TaskOutcome {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error && reason.name !== 'AbortError' ? `: ${reason.message}` : '';
  return errorOutcome('CANCELLED', `task cancelled${why}`);
}

/** The dialect as the engine wants it; INVALID_SPEC for a delimiter it cannot use. */
function parseDialect(dialect: CsvDialect | undefined): { delimiter: number; noHeader: boolean } {
  const text = dialect?.delimiter ?? '';
  const noHeader = dialect?.noHeader ?? false;
  if (text === '') return { delimiter: 0x2c, noHeader };
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
