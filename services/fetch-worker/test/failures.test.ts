import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import type * as net from 'node:net';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { FetchTask } from '@spindle/sdk';
import {
  closedPort,
  fetchOptions,
  fetchTask,
  listDir,
  makeDataRoot,
  startServer,
  taskContext,
  unansweredPort,
  useExecutor,
} from './helpers';

describe('fetch executor: failures become task errors', () => {
  const fx = useExecutor({ threads: 2, slots: 8, allowLoopback: true, maxBytes: 100_000, maxRedirects: 3, connectTimeoutMs: 60_000 });

  it('reports 404 as HTTP_STATUS, not retryable, with the status, and writes nothing', async () => {
    fx.server = await startServer((_req, res) => res.writeHead(404).end('no such file'));
    const outcome = await fx.executor.run(fetchTask(`${fx.server.origin}/gone.txt`, { outputDir: 'e404' }), taskContext());
    expect(outcome).toMatchObject({
      $case: 'error',
      value: {
        code: 'HTTP_STATUS',
        retryable: false,
        httpStatus: 404,
        message: expect.stringContaining(`${fx.server.origin}/gone.txt`),
      },
    });
    expect(await listDir(path.join(fx.dataRoot, 'e404'))).toEqual([]);
  });

  it.each([
    [500, true],
    [502, true],
    [503, true],
    [504, true],
    [408, true],
    [429, true],
    [403, false],
    [501, false],
  ])('reports HTTP %i as HTTP_STATUS with retryable=%s', async (status, retryable) => {
    fx.server = await startServer((_req, res) => res.writeHead(status).end());
    const outcome = await fx.executor.run(fetchTask(`${fx.server.origin}/s`), taskContext());
    expect(outcome).toMatchObject({ $case: 'error', value: { code: 'HTTP_STATUS', retryable, httpStatus: status } });
  });

  it('reports a refused connection as CONNECT, retryable', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}/file`;
    const outcome = await fx.executor.run(fetchTask(url), taskContext());
    expect(outcome).toMatchObject({
      $case: 'error',
      value: { code: 'CONNECT', retryable: true, message: expect.stringContaining('ECONNREFUSED') },
    });
    expect(outcome.$case === 'error' && outcome.value.message).toContain(url);
  });

  it('reports a connection cut mid-body as TRUNCATED, retryable, and leaves no file', async () => {
    fx.server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': 50_000 });
      res.write(randomBytes(10_000), () => res.destroy());
    });
    const outcome = await fx.executor.run(fetchTask(`${fx.server.origin}/cut.bin`, { outputDir: 'cut' }), taskContext());
    // The error names the status the response had, although the failure came after it.
    expect(outcome).toMatchObject({ $case: 'error', value: { code: 'TRUNCATED', retryable: true, httpStatus: 200 } });
    expect(await listDir(path.join(fx.dataRoot, 'cut'))).toEqual([]);
  });

  it('reports a body shorter than its Content-Length as TRUNCATED, retryable, leaving no file', async () => {
    fx.server = await startServer((req, res) => {
      // The server lies: it announces 1000 bytes, sends 600 and closes the connection.
      res.socket?.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n');
      res.socket?.end(randomBytes(600));
      void req;
    });
    const outcome = await fx.executor.run(fetchTask(`${fx.server.origin}/short.bin`, { outputDir: 'short' }), taskContext());
    expect(outcome).toMatchObject({ $case: 'error', value: { code: 'TRUNCATED', retryable: true } });
    expect(await listDir(path.join(fx.dataRoot, 'short'))).toEqual([]);
  });

  it('keeps exactly Content-Length bytes of a body that runs longer, and the checksum catches it', async () => {
    const body = randomBytes(1500);
    fx.server = await startServer((_req, res) => {
      // Announces 1000 bytes and sends 1500: HTTP ends the message after 1000.
      res.socket?.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
      res.socket?.end(body);
    });
    const ok = await fx.executor.run(fetchTask(`${fx.server.origin}/long.bin`, { outputDir: 'long' }), taskContext());
    expect(ok).toMatchObject({ $case: 'fetch', value: { bytes: 1000 } });
    expect(await fs.readFile(path.join(fx.dataRoot, 'long', 'long.bin'))).toEqual(body.subarray(0, 1000));
    const sha256 = createHash('sha256').update(body).digest('hex');
    const bad = await fx.executor.run(fetchTask(`${fx.server.origin}/long2.bin`, { outputDir: 'long', sha256 }), taskContext());
    expect(bad).toMatchObject({ $case: 'error', value: { code: 'CHECKSUM_MISMATCH', retryable: false } });
    expect(await listDir(path.join(fx.dataRoot, 'long'))).toEqual(['long.bin']);
  });

  it('detects a redirect loop at the first repeated URL with REDIRECT, not retryable', async () => {
    fx.server = await startServer((req, res) => {
      res.writeHead(302, { location: req.url === '/a' ? '/b' : '/a' }).end();
    });
    const outcome = await fx.executor.run(fetchTask(`${fx.server.origin}/a`), taskContext());
    expect(outcome).toMatchObject({
      $case: 'error',
      value: { code: 'REDIRECT', retryable: false, httpStatus: 302, message: expect.stringContaining('loop') },
    });
    expect(fx.server.requests).toEqual(['GET /a', 'GET /b']);
  });

  it('stops a redirect chain after maxRedirects with REDIRECT', async () => {
    fx.server = await startServer((req, res) => {
      const n = Number(req.url?.slice(1));
      res.writeHead(307, { location: `/${n + 1}` }).end();
    });
    const outcome = await fx.executor.run(fetchTask(`${fx.server.origin}/0`), taskContext());
    expect(outcome).toMatchObject({
      $case: 'error',
      value: { code: 'REDIRECT', retryable: false, httpStatus: 307, message: expect.stringContaining('more than 3 redirects') },
    });
    expect(fx.server.requests).toHaveLength(4); // the request plus maxRedirects (3) hops
  });

  it('honours a per-task maxRedirects', async () => {
    fx.server = await startServer((req, res) => {
      if (req.url === '/0') return void res.writeHead(302, { location: '/1' }).end();
      res.end('done');
    });
    const task = (n: number): FetchTask =>
      fetchTask(`${fx.server!.origin}/0`, {
        outputDir: `redir${n}`,
        options: fetchOptions({ maxRedirects: n }),
      });
    expect((await fx.executor.run(task(1), taskContext())).$case).toBe('fetch');
    // 0 means no redirects at all (not the worker's default of 3 here).
    expect(await fx.executor.run(task(0), taskContext())).toMatchObject({
      $case: 'error',
      value: { code: 'REDIRECT', retryable: false, httpStatus: 302, message: expect.stringContaining('more than 0 redirects') },
    });
  });

  it('refuses a body larger than maxBytes announced by Content-Length, leaving no file', async () => {
    fx.server = await startServer((_req, res) => res.end(randomBytes(100_001)));
    const outcome = await fx.executor.run(fetchTask(`${fx.server.origin}/big.bin`, { outputDir: 'big1' }), taskContext());
    expect(outcome).toMatchObject({ $case: 'error', value: { code: 'TOO_LARGE', retryable: false } });
    expect(await listDir(path.join(fx.dataRoot, 'big1'))).toEqual([]);
  });

  it('aborts an unannounced (chunked) body once it exceeds maxBytes, leaving no file', async () => {
    let sent = 0;
    fx.server = await startServer((_req, res) => {
      res.writeHead(200); // no Content-Length: chunked, endless
      const chunk = randomBytes(16 * 1024);
      const pump = (): void => {
        while (!res.destroyed && sent < 10_000_000) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      res.on('close', () => (sent = Infinity));
      pump();
    });
    const outcome = await fx.executor.run(
      fetchTask(`${fx.server.origin}/endless.bin`, { outputDir: 'big2' }),
      taskContext(),
    );
    expect(outcome).toMatchObject({ $case: 'error', value: { code: 'TOO_LARGE', retryable: false, httpStatus: 200 } });
    expect(await listDir(path.join(fx.dataRoot, 'big2'))).toEqual([]);
  });

  it('rejects a SHA-256 mismatch with CHECKSUM_MISMATCH and removes the file', async () => {
    const body = randomBytes(2000);
    fx.server = await startServer((_req, res) => res.end(body));
    const wrong = createHash('sha256').update('something else').digest('hex');
    const outcome = await fx.executor.run(
      fetchTask(`${fx.server.origin}/sum.bin`, { outputDir: 'sum', sha256: wrong }),
      taskContext(),
    );
    expect(outcome).toMatchObject({
      $case: 'error',
      value: { code: 'CHECKSUM_MISMATCH', retryable: false, message: expect.stringContaining(wrong) },
    });
    expect(await listDir(path.join(fx.dataRoot, 'sum'))).toEqual([]);
  });

  it('rejects a SHA-256 mismatch of a large (spilled to disk) body and removes the temporary file', async () => {
    const body = randomBytes(90_000);
    fx.server = await startServer((_req, res) => {
      res.writeHead(200);
      for (let o = 0; o < body.length; o += 1000) res.write(body.subarray(o, o + 1000));
      res.end();
    });
    const outcome = await fx.executor.run(
      fetchTask(`${fx.server.origin}/sum2.bin`, { outputDir: 'sum2', sha256: 'a'.repeat(64) }),
      taskContext(),
    );
    expect(outcome).toMatchObject({ $case: 'error', value: { code: 'CHECKSUM_MISMATCH' } });
    expect(await listDir(path.join(fx.dataRoot, 'sum2'))).toEqual([]);
  });

  it.each([
    ['shorter', 999],
    ['longer', 1001],
  ])('rejects a body %s than expected_size with CHECKSUM_MISMATCH', async (_label, expectedSize) => {
    fx.server = await startServer((_req, res) => {
      res.writeHead(200); // chunked, so the check happens while streaming / at the end
      res.end(randomBytes(1000));
    });
    const outcome = await fx.executor.run(
      fetchTask(`${fx.server.origin}/size.bin`, { outputDir: 'size', expectedSize }),
      taskContext(),
    );
    expect(outcome).toMatchObject({ $case: 'error', value: { code: 'CHECKSUM_MISMATCH' } });
    expect(await listDir(path.join(fx.dataRoot, 'size'))).toEqual([]);
  });

  it('reports a stalled body as TIMEOUT (idle timeout), retryable, and leaves no file', async () => {
    fx.server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': 1000 });
      res.write('partial'); // and never more
    });
    const outcome = await fx.executor.run(
      fetchTask(`${fx.server.origin}/stall.bin`, {
        outputDir: 'stall',
        options: fetchOptions({ idleTimeoutMs: 300 }),
      }),
      taskContext(),
    );
    expect(outcome).toMatchObject({
      $case: 'error',
      value: { code: 'TIMEOUT', retryable: true, message: expect.stringContaining('UND_ERR_BODY_TIMEOUT') },
    });
    expect(await listDir(path.join(fx.dataRoot, 'stall'))).toEqual([]);
  });

  it('reports a slow drip that falls below the idle timeout as TIMEOUT, with the status it had', async () => {
    let sent = 0;
    fx.server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': 1000 });
      // Five bytes 50 ms apart (within the idle timeout), then one every 1.5 s: beyond it
      // by more than the ~1 s granularity of undici's timers (see FetchOptions).
      const drip = (): void => {
        if (res.destroyed) return;
        res.write('.');
        sent++;
        timer = setTimeout(drip, sent < 5 ? 50 : 1500);
      };
      let timer = setTimeout(drip, 0);
      res.on('close', () => clearTimeout(timer));
    });
    const outcome = await fx.executor.run(
      fetchTask(`${fx.server.origin}/drip.bin`, { outputDir: 'drip', options: fetchOptions({ idleTimeoutMs: 300 }) }),
      taskContext(),
    );
    expect(outcome).toMatchObject({
      $case: 'error',
      value: { code: 'TIMEOUT', retryable: true, httpStatus: 200, message: expect.stringContaining('UND_ERR_BODY_TIMEOUT') },
    });
    expect(sent).toBeGreaterThanOrEqual(5);
    expect(await listDir(path.join(fx.dataRoot, 'drip'))).toEqual([]);
  });

  it.each([
    [404, undefined, false, 0],
    [503, '7', true, 7000],
  ])(
    'reports HTTP %i whose body trickles as that status (not an idle TIMEOUT), Retry-After %s kept',
    async (status, retryAfter, retryable, retryAfterMs) => {
      fx.server = await startServer((_req, res) => {
        res.writeHead(status, retryAfter === undefined ? {} : { 'retry-after': retryAfter });
        const timer = setInterval(() => res.write('.'), 100);
        res.on('close', () => clearInterval(timer));
      });
      const outcome = await fx.executor.run(
        fetchTask(`${fx.server.origin}/slow-error`, {
          options: fetchOptions({ idleTimeoutMs: 5000, totalTimeoutMs: 20_000 }),
        }),
        taskContext(),
      );
      expect(outcome).toMatchObject({
        $case: 'error',
        value: { code: 'HTTP_STATUS', retryable, httpStatus: status, retryAfterMs },
      });
    },
  );

  it('reports missing response headers as TIMEOUT (headers timeout)', async () => {
    fx.server = await startServer(() => {
      /* never answers */
    });
    const outcome = await fx.executor.run(
      fetchTask(`${fx.server.origin}/silent`, {
        options: fetchOptions({ headersTimeoutMs: 300 }),
      }),
      taskContext(),
    );
    expect(outcome).toMatchObject({
      $case: 'error',
      value: { code: 'TIMEOUT', retryable: true, message: expect.stringContaining('UND_ERR_HEADERS_TIMEOUT') },
    });
  });

  it("reports a connect that never completes as TIMEOUT (connect timeout), after the job's own timeout", async () => {
    const unanswered = await unansweredPort();
    try {
      const started = performance.now();
      const outcome = await fx.executor.run(
        fetchTask(`http://127.0.0.1:${unanswered.port}/never`, { options: fetchOptions({ connectTimeoutMs: 300 }) }),
        taskContext(),
      );
      const elapsed = performance.now() - started;
      expect(outcome).toMatchObject({
        $case: 'error',
        value: { code: 'TIMEOUT', retryable: true, message: expect.stringContaining('UND_ERR_CONNECT_TIMEOUT') },
      });
      // Its own 300 ms (timers fire no earlier than due, ±1 ms); the executor's default of
      // 60 s would outlast the test's own time limit, so no upper bound on speed is needed.
      expect(elapsed).toBeGreaterThanOrEqual(299);
    } finally {
      await unanswered.close();
    }
  });

  it('enforces the total timeout on a body that trickles forever', async () => {
    fx.server = await startServer((_req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write('.'), 20);
      res.on('close', () => clearInterval(timer));
    });
    const outcome = await fx.executor.run(
      fetchTask(`${fx.server.origin}/trickle`, {
        outputDir: 'trickle',
        options: fetchOptions({ totalTimeoutMs: 400 }),
      }),
      taskContext(),
    );
    expect(outcome).toMatchObject({
      $case: 'error',
      value: { code: 'TIMEOUT', retryable: true, message: expect.stringContaining('400 ms') },
    });
    expect(await listDir(path.join(fx.dataRoot, 'trickle'))).toEqual([]);
  });

  it.each([
    ['ftp://example.com/file', 'only http and https'],
    ['not a url', 'not a valid URL'],
  ])('rejects the URL %j with INVALID_SPEC', async (url, message) => {
    const outcome = await fx.executor.run(fetchTask(url), taskContext());
    expect(outcome).toMatchObject({
      $case: 'error',
      value: { code: 'INVALID_SPEC', retryable: false, message: expect.stringContaining(message) },
    });
  });

  it('rejects a malformed expected SHA-256 with INVALID_SPEC', async () => {
    const outcome = await fx.executor.run(fetchTask('http://127.0.0.1:1/x', { sha256: 'abc' }), taskContext());
    expect(outcome).toMatchObject({ $case: 'error', value: { code: 'INVALID_SPEC' } });
  });

  it.each(['/etc', '../outside', 'a/../../b', 'C:\\temp', '..\\x'])(
    'refuses output_dir %j with PATH_FORBIDDEN',
    async (outputDir) => {
      const outcome = await fx.executor.run(fetchTask('http://127.0.0.1:1/x', { outputDir }), taskContext());
      expect(outcome).toMatchObject({ $case: 'error', value: { code: 'PATH_FORBIDDEN', retryable: false } });
    },
  );

  it('refuses an output folder that a symlink leads out of the data root', async () => {
    const outside = await makeDataRoot();
    try {
      await fs.symlink(outside, path.join(fx.dataRoot, 'escape'));
      fx.server = await startServer((_req, res) => res.end('data'));
      const outcome = await fx.executor.run(
        fetchTask(`${fx.server.origin}/f.txt`, { outputDir: 'escape/sub' }),
        taskContext(),
      );
      expect(outcome).toMatchObject({ $case: 'error', value: { code: 'PATH_FORBIDDEN' } });
      expect(fx.server.requests).toEqual([]);
      expect(await listDir(path.join(outside, 'sub'))).toEqual([]);
    } finally {
      await fs.rm(outside, { recursive: true, force: true });
    }
  });
});

describe('fetch executor: connect timeouts set by jobs', () => {
  // One thread, so that all the agents below are that thread's.
  const fx = useExecutor({ threads: 1, slots: 4, allowLoopback: true, connectTimeoutMs: 60_000 });

  async function connectTimeout(port: number, connectTimeoutMs: number): Promise<number> {
    const started = performance.now();
    const outcome = await fx.executor.run(
      fetchTask(`http://127.0.0.1:${port}/never`, { options: fetchOptions({ connectTimeoutMs }) }),
      taskContext(),
    );
    expect(outcome).toMatchObject({ $case: 'error', value: { code: 'TIMEOUT', message: expect.stringContaining('UND_ERR_CONNECT_TIMEOUT') } });
    return performance.now() - started;
  }

  it('keeps a bounded number of agents open however many distinct timeouts jobs send, each still honoured', async () => {
    // Each agent keeps its keep-alive connection to the server open: the open connections
    // show how many agents are.
    const open = new Set<net.Socket>();
    fx.server = await startServer((req, res) => {
      const socket = req.socket;
      if (!open.has(socket)) {
        open.add(socket);
        socket.once('close', () => open.delete(socket));
      }
      res.end(req.url);
    });
    const unanswered = await unansweredPort();
    try {
      expect(await connectTimeout(unanswered.port, 300)).toBeGreaterThanOrEqual(299);
      const distinct = 30;
      for (let i = 0; i < distinct; i++) {
        const url = `${fx.server.origin}/t${i}`;
        const outcome = await fx.executor.run(
          fetchTask(url, { outputDir: 'agents', options: fetchOptions({ connectTimeoutMs: 20_000 + i }) }),
          taskContext(),
        );
        expect(outcome).toMatchObject({ $case: 'fetch', value: { bytes: `/t${i}`.length } });
      }
      expect(fx.server.connections()).toBe(distinct);
      // SPARE_AGENTS (8) idle agents stay; the others were closed with their connections.
      await vi.waitFor(() => expect(open.size).toBeLessThanOrEqual(8), { timeout: 10_000, interval: 20 });
      // The agent of 300 ms was closed long ago; a new one has the same timeout.
      const elapsed = await connectTimeout(unanswered.port, 300);
      expect(elapsed).toBeGreaterThanOrEqual(299);
    } finally {
      await unanswered.close();
    }
  });
});
