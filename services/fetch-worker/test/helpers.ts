import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { TaskContext, TaskExecutor, TaskProgressUpdate } from '@spindle/runtime';
import type { FetchOptions, FetchTask } from '@spindle/sdk';
import { createFetchExecutor, type FetchExecutorOptions } from '@spindle/fetch-worker';

/** A real HTTP server on 127.0.0.1 with an ephemeral port. */
export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  port: number;
  /** Requests received, in order ("GET /path"). */
  requests: string[];
  /** TCP connections accepted. */
  connections(): number;
  /** Closes the server and destroys every open connection. */
  close(): Promise<void>;
}

export async function startServer(handler: http.RequestListener): Promise<TestServer> {
  const requests: string[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    handler(req, res);
  });
  server.on('connection', () => connections++);
  // Node's 5 s default could drop an idle keep-alive connection on a slow, loaded machine.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Source of the thread behind {@link unansweredPort}. */
const UNANSWERED_LISTENER = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const server = net.createServer();
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  parentPort.postMessage(server.address().port);
  // The event loop stays blocked until the test is done: nothing is ever accepted.
  while (Atomics.load(workerData, 0) === 0) Atomics.wait(workerData, 0, 0, 100);
  server.close();
});
`;

/**
 * A port on 127.0.0.1 where connecting never completes: a listener that never
 * accepts, its accept queue (backlog 1) filled by connections of its own, so
 * the kernel drops every further SYN and the client's connect hangs until its
 * connect timeout.
 */
export async function unansweredPort(): Promise<{ port: number; close(): Promise<void> }> {
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const listener = new Worker(UNANSWERED_LISTENER, { eval: true, workerData: stop });
  const port = await new Promise<number>((resolve, reject) => {
    listener.once('message', resolve);
    listener.once('error', reject);
  });
  // More than the queue holds; their SYNs are sent now, before any the test sends.
  const fillers = Array.from({ length: 4 }, () => net.connect(port, '127.0.0.1').on('error', () => {}));
  await new Promise((resolve) => fillers[0]!.once('connect', resolve));
  return {
    port,
    async close() {
      for (const f of fillers) f.destroy();
      Atomics.store(stop, 0, 1);
      Atomics.notify(stop, 0);
      await listener.terminate();
    },
  };
}

export async function makeDataRoot(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'spindle-fetch-test-'));
}

/**
 * What the tests of one describe block share: an executor over a fresh data
 * root, created before them and closed (the root removed) after them, and the
 * running test's server, closed after each test. The hooks set the fields, so
 * read them inside the tests.
 */
export interface ExecutorFixture {
  dataRoot: string;
  executor: TaskExecutor<FetchTask>;
  /** The running test's server, if it started one. */
  server: TestServer | undefined;
}

/** Registers the hooks of an {@link ExecutorFixture} in the calling describe block. */
export function useExecutor(options: Omit<FetchExecutorOptions, 'dataRoot'>): ExecutorFixture {
  const fx = { server: undefined } as ExecutorFixture;
  beforeAll(async () => {
    fx.dataRoot = await makeDataRoot();
    fx.executor = createFetchExecutor({ ...options, dataRoot: fx.dataRoot });
  });
  afterAll(async () => {
    await fx.executor.close();
    await fs.rm(fx.dataRoot, { recursive: true, force: true });
  });
  afterEach(async () => {
    await fx.server?.close();
    fx.server = undefined;
  });
  return fx;
}

export function fetchTask(url: string, fields: Partial<FetchTask> = {}): FetchTask {
  return {
    url,
    outputDir: 'out',
    fileName: '',
    sha256: '',
    expectedSize: 0,
    options: undefined,
    maxAttempts: 0,
    nameFromResponse: false,
    ...fields,
  };
}

/** FetchOptions with every field zero ("worker default") except those given. */
export function fetchOptions(fields: Partial<FetchOptions> = {}): FetchOptions {
  return {
    maxBytes: 0,
    maxRedirects: undefined,
    connectTimeoutMs: 0,
    headersTimeoutMs: 0,
    idleTimeoutMs: 0,
    totalTimeoutMs: 0,
    perHostConcurrency: 0,
    ifExists: 0,
    ...fields,
  };
}

export interface TestContext extends TaskContext {
  controller: AbortController;
  updates: TaskProgressUpdate[];
}

export function taskContext(fields: Partial<Pick<TaskContext, 'taskId' | 'attempt' | 'jobId'>> = {}): TestContext {
  const controller = new AbortController();
  const updates: TaskProgressUpdate[] = [];
  return {
    taskId: fields.taskId ?? randomUUID(),
    attempt: fields.attempt ?? 1,
    jobId: fields.jobId ?? 'job-1',
    signal: controller.signal,
    progress: (u) => updates.push(u),
    controller,
    updates,
  };
}

/** Every entry of `dir` (including hidden temporary files), sorted; [] if it does not exist. */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** What a {@link rangeHandler} does with one request. */
export interface RangeServerOptions {
  /** The resource; a function to let it change between requests. */
  body: Buffer | (() => Buffer);
  /** Strong ETag (quoted) of the current body; a function to let it change. '' = none. */
  etag?: string | (() => string);
  /** Serve byte ranges (Accept-Ranges: bytes, honour Range/If-Range). @default true */
  ranges?: boolean;
  /**
   * Send only this many body bytes of the nth request (0-based), then hold the
   * connection open until the test calls `reset()` (`{ 0: 1_000_000 }`).
   */
  holdAfter?: Record<number, number>;
  /** A 206 carries at most this many bytes (as servers that cap open-ended ranges do). */
  maxRangeBytes?: number;
  /** Serve the range whatever If-Range says (a server that ignores it). @default false */
  ignoreIfRange?: boolean;
}

/**
 * A handler for a real HTTP server that serves one resource with optional byte
 * ranges (RFC 9110: Range, If-Range, 206/416), and can stall a response
 * mid-body until the test resets the connection. Records the Range and
 * If-Range headers of every request.
 */
export function rangeHandler(options: RangeServerOptions): {
  handler: http.RequestListener;
  seen: Array<{ range: string | undefined; ifRange: string | undefined }>;
  /** Resets (TCP RST) every held connection. */
  reset(): void;
} {
  const seen: Array<{ range: string | undefined; ifRange: string | undefined }> = [];
  const held: http.ServerResponse[] = [];
  const handler: http.RequestListener = (req, res) => {
    const n = seen.length;
    const range = req.headers.range;
    const ifRange = req.headers['if-range'];
    seen.push({ range, ifRange: typeof ifRange === 'string' ? ifRange : undefined });
    const body = typeof options.body === 'function' ? options.body() : options.body;
    const etag = typeof options.etag === 'function' ? options.etag() : (options.etag ?? '');
    const ranges = options.ranges ?? true;
    const headers: http.OutgoingHttpHeaders = {};
    if (etag !== '') headers.etag = etag;
    if (ranges) headers['accept-ranges'] = 'bytes';
    let start = 0;
    let end = body.length;
    let status = 200;
    const m = ranges && typeof range === 'string' ? /^bytes=(\d+)-$/.exec(range) : null;
    if (m !== null && (ifRange === undefined || ifRange === etag || options.ignoreIfRange === true)) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      status = 206;
      end = Math.min(body.length, start + (options.maxRangeBytes ?? body.length));
      headers['content-range'] = `bytes ${start}-${end - 1}/${body.length}`;
    }
    const part = body.subarray(start, end);
    headers['content-length'] = part.length;
    res.writeHead(status, headers);
    const hold = options.holdAfter?.[n];
    if (hold === undefined) {
      res.end(part);
      return;
    }
    res.write(part.subarray(0, hold));
    held.push(res);
  };
  const reset = (): void => {
    for (const res of held.splice(0)) res.socket?.resetAndDestroy();
  };
  return { handler, seen, reset };
}

/** Size of the largest file in `dir` (0 if none), to see how far a download got. */
export async function largestFile(dir: string): Promise<number> {
  let max = 0;
  for (const name of await listDir(dir)) {
    try {
      max = Math.max(max, (await fs.stat(path.join(dir, name))).size);
    } catch {
      // Renamed or removed meanwhile.
    }
  }
  return max;
}
