import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { waitFor } from './grpc';

const ROOT = path.resolve(__dirname, '..', '..');

/** Entry points of the built services. */
export const SERVICE_MAIN = {
  coordinator: path.join(ROOT, 'services/coordinator/dist/main.js'),
  fetch: path.join(ROOT, 'services/fetch-worker/dist/main.js'),
  stats: path.join(ROOT, 'services/stats-worker/dist/main.js'),
} as const;

/** A service running as its own OS process, with its JSON log lines captured. */
export class ServiceProcess {
  readonly child: ChildProcess;
  readonly lines: Array<Record<string, unknown>> = [];
  stderr = '';
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly name: keyof typeof SERVICE_MAIN,
    env: Record<string, string>,
    command: string[] = [process.execPath, SERVICE_MAIN[name]],
  ) {
    this.child = spawn(command[0]!, command.slice(1), {
      env: { ...process.env, SPINDLE_LOG_LEVEL: 'info', SPINDLE_METRICS_ADDR: 'off', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buf = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.lines.push({ msg: line });
        }
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exit = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Waits for a log line with this `msg`; fails early if the process exits. */
  async waitForLog(msg: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    let exited = false;
    void this.exit.then(() => (exited = true));
    return waitFor(
      () => {
        const hit = this.lines.find((l) => l.msg === msg);
        if (!hit && exited) throw new Error(`${this.name} exited before logging "${msg}": ${this.stderr}`);
        return hit;
      },
      timeoutMs,
      `${this.name} to log "${msg}"`,
    );
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      const r = await this.exit;
      clearTimeout(t);
      return r;
    }
    return this.exit;
  }
}

/** Coordinator + one fetch worker + one stats worker, each its own process. */
export async function startStack(options: {
  dbPath: string;
  dataRoot: string;
  env?: Record<string, string>;
}): Promise<{ address: string; coordinator: ServiceProcess; fetch: ServiceProcess; stats: ServiceProcess; stop(): Promise<void> }> {
  const coordinator = new ServiceProcess('coordinator', {
    SPINDLE_LISTEN_ADDR: '127.0.0.1:0',
    SPINDLE_DB_PATH: options.dbPath,
    ...options.env,
  });
  const listening = await coordinator.waitForLog('coordinator listening');
  const address = String(listening.address);
  const workerEnv = {
    SPINDLE_COORDINATOR_ADDR: address,
    SPINDLE_DATA_ROOT: options.dataRoot,
    SPINDLE_HEALTH_ADDR: 'off',
    SPINDLE_FETCH_ALLOW_LOOPBACK: 'true',
    SPINDLE_WORKER_THREADS: '2',
    ...options.env,
  };
  const fetch = new ServiceProcess('fetch', { ...workerEnv, SPINDLE_WORKER_ID: 'fetch-1' });
  const stats = new ServiceProcess('stats', { ...workerEnv, SPINDLE_WORKER_ID: 'stats-1' });
  await Promise.all([fetch.waitForLog('worker connected'), stats.waitForLog('worker connected')]);
  return {
    address,
    coordinator,
    fetch,
    stats,
    async stop() {
      await Promise.all([fetch.stop(), stats.stop()]);
      await coordinator.stop();
    },
  };
}
