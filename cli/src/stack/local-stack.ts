import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkerKind } from '@spindle/sdk';
import { SpindleClient } from '../api/client';
import { CliError, errorMessage } from '../errors';
import { ServiceProcess, describeExit, type ExitInfo } from './service-process';

/** Options of {@link LocalStack.start}. */
export interface LocalStackOptions {
  /** Folder for the SQLite file and the log; created if missing. */
  stateDir: string;
  /** Absolute folder the workers read and write under; created if missing. */
  dataRoot: string;
  /** Interface the coordinator listens on. @default '127.0.0.1' */
  host?: string;
  /** Port the coordinator listens on; 0 = any free port. */
  port: number;
  /** JSON Lines log of every service. @default `<stateDir>/spindle.log` */
  logFile?: string;
  /** pino level of the services. @default 'info' */
  logLevel?: string;
  /** Let the fetch worker download from 127.0.0.0/8 (the demo serves its files there). @default false */
  allowLoopback?: boolean;
  /** Coordinator's Prometheus endpoint, host:port or 'off'. @default 'off' */
  metricsAddr?: string;
  /** Environment the children inherit (then overridden by the SPINDLE_* settings). */
  baseEnv: NodeJS.ProcessEnv;
  /** How long startup may take until both workers are connected, in ms. @default 60000 */
  startTimeoutMs?: number;
  /** Aborting stops startup; the started children are stopped. */
  signal?: AbortSignal;
}

/** Where a service's main script is; resolved through the workspace packages. */
export function resolveServiceScript(pkg: string): string {
  try {
    return require.resolve(`${pkg}/dist/main.js`);
  } catch {
    throw new CliError(`${pkg} is not built (no ${pkg}/dist/main.js): run "npm run build" at the repository root`);
  }
}

/**
 * A coordinator, one fetch worker and one stats worker as child processes of
 * this CLI: what `spindle up` and `spindle demo` run. Logs of all three go to
 * one JSON Lines file; the last lines of each are kept for error reports.
 */
export class LocalStack {
  /** Resolves when a service exits while the stack is not being stopped. */
  readonly unexpectedExit: Promise<{ service: string; exit: ExitInfo }>;
  private stopping = false;

  private constructor(
    /** The coordinator's address, host:port. */
    readonly address: string,
    readonly logFile: string,
    readonly dbPath: string,
    private readonly coordinator: ServiceProcess,
    private readonly workers: readonly ServiceProcess[],
    private readonly log: WriteStream,
  ) {
    this.unexpectedExit = new Promise((resolve) => {
      for (const service of this.services) {
        void service.exited.then((exit) => {
          if (!this.stopping) resolve({ service: service.name, exit });
        });
      }
    });
  }

  private get services(): ServiceProcess[] {
    return [this.coordinator, ...this.workers];
  }

  /**
   * Starts the coordinator, learns its port from its "coordinator listening" log
   * line, starts the workers, and waits until ListWorkers shows one of each kind.
   * @throws CliError with the services' last log lines when any step fails.
   */
  static async start(opts: LocalStackOptions): Promise<LocalStack> {
    const host = opts.host ?? '127.0.0.1';
    const timeoutMs = opts.startTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    const scripts = {
      coordinator: resolveServiceScript('@spindle/coordinator'),
      fetch: resolveServiceScript('@spindle/fetch-worker'),
      stats: resolveServiceScript('@spindle/stats-worker'),
    };
    const dataRoot = path.resolve(opts.dataRoot);
    await mkdir(opts.stateDir, { recursive: true });
    await mkdir(dataRoot, { recursive: true });
    const logFile = opts.logFile ?? path.join(opts.stateDir, 'spindle.log');
    const dbPath = path.join(opts.stateDir, 'spindle.db');
    const log = createWriteStream(logFile, { flags: 'a' });
    const logLevel = opts.logLevel ?? 'info';
    const started: ServiceProcess[] = [];

    try {
      const coordinator = new ServiceProcess(
        {
          name: 'coordinator',
          script: scripts.coordinator,
          env: {
            ...opts.baseEnv,
            SPINDLE_LISTEN_ADDR: `${host}:${opts.port}`,
            SPINDLE_DB_PATH: dbPath,
            SPINDLE_METRICS_ADDR: opts.metricsAddr ?? 'off',
            SPINDLE_LOG_LEVEL: logLevel,
          },
        },
        log,
      );
      started.push(coordinator);
      const listening = await coordinator.waitForLog(
        (e) => e.msg === 'coordinator listening' && typeof e.address === 'string',
        { timeoutMs: timeoutMs, signal: opts.signal, what: 'coordinator listening' },
      );
      const address = String(listening.address);

      // Pool sizes are left to each worker's own defaults (SPINDLE_WORKER_SLOTS/THREADS
      // in the inherited environment still apply).
      const workerEnv = (kind: 'fetch' | 'stats'): NodeJS.ProcessEnv => ({
        ...opts.baseEnv,
        SPINDLE_COORDINATOR_ADDR: address,
        SPINDLE_DATA_ROOT: dataRoot,
        SPINDLE_WORKER_ID: `local-${kind}-${os.hostname()}`,
        SPINDLE_METRICS_ADDR: 'off',
        SPINDLE_HEALTH_ADDR: '127.0.0.1:0',
        SPINDLE_LOG_LEVEL: logLevel,
        ...(kind === 'fetch' ? { SPINDLE_FETCH_ALLOW_LOOPBACK: opts.allowLoopback ? 'true' : 'false' } : {}),
      });
      const fetchWorker = new ServiceProcess(
        { name: 'fetch-worker', script: scripts.fetch, env: workerEnv('fetch') },
        log,
      );
      started.push(fetchWorker);
      const statsWorker = new ServiceProcess(
        { name: 'stats-worker', script: scripts.stats, env: workerEnv('stats') },
        log,
      );
      started.push(statsWorker);

      await waitForWorkers(address, started, deadline, opts.signal);
      return new LocalStack(address, logFile, dbPath, coordinator, [fetchWorker, statsWorker], log);
    } catch (err) {
      await stopAll(started, 5_000);
      await closeLog(log);
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw new CliError(`the local stack did not start: ${errorMessage(err)}\n${formatTails(started)}`);
    }
  }

  /**
   * Stops the workers (SIGTERM, so that they drain), then the coordinator; each
   * phase gets `graceMs` before SIGKILL. Closes the log. Safe to call twice.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    await stopAll(this.workers, graceMs);
    await stopAll([this.coordinator], graceMs);
    await closeLog(this.log);
  }

  /** Name and process id of each service. */
  processes(): { name: string; pid: number | undefined }[] {
    return this.services.map((s) => ({ name: s.name, pid: s.pid }));
  }

  /** SIGKILLs every service now; for process 'exit' hooks. */
  killNow(): void {
    this.stopping = true;
    for (const s of this.services) s.killNow();
  }

  /** The last log lines of every service, for error reports. */
  tails(): string {
    return formatTails(this.services);
  }
}

async function stopAll(services: readonly ServiceProcess[], graceMs: number): Promise<void> {
  await Promise.all(services.map((s) => s.stop(graceMs)));
}

function closeLog(log: WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (log.closed || log.writableEnded) {
      resolve();
      return;
    }
    log.end(() => resolve());
  });
}

/** Last lines of each service, under a header naming it and how it ended. */
export function formatTails(services: readonly ServiceProcess[], lines = 15): string {
  return services
    .map((s) => {
      const state = s.exit ? describeExit(s.exit) : 'running';
      const tail = s.lastLines().slice(-lines);
      const body = tail.length > 0 ? tail.map((l) => `  ${l}`).join('\n') : '  (no output)';
      return `--- ${s.name} (pid ${s.pid ?? '?'}, ${state}), last lines:\n${body}`;
    })
    .join('\n');
}

/** Polls ListWorkers until a fetch and a stats worker are connected. */
async function waitForWorkers(
  address: string,
  services: readonly ServiceProcess[],
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const client = new SpindleClient(address);
  try {
    for (;;) {
      const dead = services.find((s) => s.exit);
      if (dead?.exit) throw new Error(`${dead.name} ${describeExit(dead.exit)}`);
      try {
        const { workers } = await client.listWorkers(WorkerKind.WORKER_KIND_UNSPECIFIED, { signal, timeoutMs: 2_000 });
        const kinds = new Set(workers.filter((w) => !w.draining).map((w) => w.kind));
        if (kinds.has(WorkerKind.WORKER_KIND_FETCH) && kinds.has(WorkerKind.WORKER_KIND_STATS)) return;
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        // Not ready yet; the deadline bounds the retries.
        if (Date.now() > deadline) throw err;
      }
      if (Date.now() > deadline) throw new Error('the workers did not connect to the coordinator in time');
      await sleep(100, undefined, { signal });
    }
  } finally {
    client.close();
  }
}
