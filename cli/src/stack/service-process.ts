import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';

/** How a child process ended. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One parsed JSON log line of a service (pino format). */
export type LogEntry = Record<string, unknown>;

/** What to start. */
export interface ServiceSpec {
  /** Short name used in logs and messages: coordinator, fetch-worker, stats-worker. */
  name: string;
  /** The service's main script (run with this Node binary). */
  script: string;
  /** The full environment of the child. */
  env: NodeJS.ProcessEnv;
}

/** Lines kept per service for error reports. */
const TAIL_LINES = 40;

/** Describes an exit for people: `exited with code 1`, `was killed by SIGKILL`. */
export function describeExit(exit: ExitInfo): string {
  if (exit.signal) return `was killed by ${exit.signal}`;
  return `exited with code ${exit.code ?? '?'}`;
}

/**
 * Stamps a log line with the service name so that several services can share
 * one JSON Lines file: a JSON object line gets a leading `"service"` field, any
 * other line is wrapped as `{"service", "stream", "msg"}`.
 */
export function stampLogLine(service: string, stream: 'stdout' | 'stderr', line: string): string {
  const trimmed = line.trimStart();
  const entry = parseEntry(trimmed);
  // Services that name themselves already are left as they are.
  if (entry && typeof entry.service === 'string') return trimmed;
  if (entry) {
    const rest = trimmed.slice(1).trimStart();
    return `{"service":${JSON.stringify(service)}${rest.startsWith('}') ? '' : ','}${rest}`;
  }
  return JSON.stringify({ service, stream, msg: line });
}

function parseEntry(line: string): LogEntry | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as LogEntry) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One service running as a child process of the CLI. Its stdout and stderr are
 * read line by line: each line goes to the shared log, the last lines are kept
 * for error reports, and JSON lines can be waited for ({@link waitForLog}).
 */
export class ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;
  private readonly tail: string[] = [];
  private readonly listeners = new Set<(entry: LogEntry) => void>();

  constructor(spec: ServiceSpec, log: Writable) {
    this.name = spec.name;
    this.child = spawn(process.execPath, [spec.script], {
      env: spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: a terminal's Ctrl-C reaches only the CLI, which then
      // stops the services in order (workers drain before the coordinator goes).
      detached: true,
    });
    this.exited = new Promise<ExitInfo>((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      this.child.once('error', (err) => {
        this.remember(`failed to start: ${err.message}`);
        this.exitInfo ??= { code: null, signal: null };
        resolve(this.exitInfo);
      });
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      const input = this.child[stream];
      if (!input) continue;
      const lines = createInterface({ input, crlfDelay: Infinity });
      lines.on('line', (line) => {
        this.remember(line);
        if (log.writable) log.write(stampLogLine(this.name, stream, line) + '\n');
        const entry = parseEntry(line.trimStart());
        if (entry) for (const listener of this.listeners) listener(entry);
      });
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Set once the process exited. */
  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** The last lines it printed, oldest first. */
  lastLines(): readonly string[] {
    return this.tail;
  }

  /**
   * Resolves with the first JSON log line matching `predicate`. Rejects when the
   * process exits first, after `timeoutMs`, or when `signal` aborts.
   */
  waitForLog(
    predicate: (entry: LogEntry) => boolean,
    opts: { timeoutMs: number; signal?: AbortSignal | undefined; what: string },
  ): Promise<LogEntry> {
    return new Promise<LogEntry>((resolve, reject) => {
      const cleanup = (): void => {
        this.listeners.delete(listener);
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
      };
      const listener = (entry: LogEntry): void => {
        if (!predicate(entry)) return;
        cleanup();
        resolve(entry);
      };
      const onAbort = (): void => {
        cleanup();
        reject(opts.signal?.reason);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name} did not log "${opts.what}" within ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
      this.listeners.add(listener);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      void this.exited.then((exit) => {
        if (!this.listeners.has(listener)) return;
        cleanup();
        reject(new Error(`${this.name} ${describeExit(exit)} before it logged "${opts.what}"`));
      });
    });
  }

  /**
   * Asks the process to stop (SIGTERM) and waits up to `graceMs`; then kills it
   * (SIGKILL). Resolves with how it ended.
   */
  async stop(graceMs: number): Promise<ExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    this.signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first !== 'timeout') return first;
    this.remember(`did not stop within ${graceMs} ms of SIGTERM; killed`);
    this.signal('SIGKILL');
    return this.exited;
  }

  /** Kills the process at once; safe to call from a process 'exit' hook. */
  killNow(): void {
    if (!this.exitInfo) this.signal('SIGKILL');
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      this.child.kill(sig);
    } catch {
      // Already gone.
    }
  }

  private remember(line: string): void {
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
  }
}
