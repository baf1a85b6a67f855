import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
export { parseCsv } from '../../test/helpers/csv';

/** The built CLI: integration tests run exactly what `npm start` and users run. */
export const CLI = path.resolve(__dirname, '..', 'dist', 'main.js');
export const DEMO_DATA = path.resolve(__dirname, '..', 'demo-data');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `spindle args…` to completion. */
export function runSpindle(
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, SPINDLE_ADDR: '', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`spindle ${args.join(' ')} timed out\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP listener that counts connections: proves that a command sent nothing. */
export async function connectionCounter(): Promise<{ address: string; count: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server = createTcpServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    count: () => count,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** True when something accepts TCP connections on host:port. */
export function isListening(address: string): Promise<boolean> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** An HTTP server on 127.0.0.1:0 with the given handler. */
export async function httpServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: (p: string) => string; close: () => Promise<void> }> {
  const server = createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A running `spindle up`. */
export interface UpProcess {
  child: ChildProcess;
  address: string;
  processes: { name: string; pid: number }[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `spindle --json up …` and waits for its ready line. */
export async function startUp(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<UpProcess> {
  const child = spawn(process.execPath, [CLI, '--json', 'up', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const lines = createInterface({ input: child.stdout });
  const ready = await new Promise<{ address: string; processes: { name: string; pid: number }[] }>(
    (resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`spindle up did not get ready:\n${stderr}`)), 60_000);
      lines.on('line', (line) => {
        const msg = JSON.parse(line) as { event?: string; address?: string; processes?: { name: string; pid: number }[] };
        if (msg.event === 'ready' && msg.address && msg.processes) {
          clearTimeout(timer);
          resolve({ address: msg.address, processes: msg.processes });
        }
      });
      void exited.then(({ code }) => {
        clearTimeout(timer);
        reject(new Error(`spindle up exited with ${code} before ready:\n${stderr}`));
      });
    },
  );
  return { child, ...ready, stderr: () => stderr, exited };
}
