import { randomBytes } from 'node:crypto';
import { getEventListeners } from 'node:events';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createFetchExecutor } from '@spindle/fetch-worker';
import { fetchTask, listDir, makeDataRoot, startServer, taskContext, type TestServer, useExecutor } from './helpers';

/** A server that sends `burst` bytes at once, then one byte every 50 ms, forever. */
function drippingServer(burst: number): Promise<TestServer> {
  return startServer((_req, res) => {
    res.writeHead(200, { 'content-length': burst + 1_000_000 });
    res.write(randomBytes(burst));
    const timer = setInterval(() => res.write('.'), 50);
    res.on('close', () => clearInterval(timer));
  });
}

describe('fetch executor: cancellation', () => {
  const fx = useExecutor({ threads: 1, slots: 4, allowLoopback: true });

  it('cancels a download mid-body: CANCELLED, temporary file removed, nothing at the final name', async () => {
    // More than the in-memory threshold, so the temporary file exists on disk when we cancel.
    fx.server = await drippingServer(400 * 1024);
    const dir = path.join(fx.dataRoot, 'cancel');
    const ctx = taskContext();
    const running = fx.executor.run(fetchTask(`${fx.server.origin}/slow.bin`, { outputDir: 'cancel' }), ctx);
    await vi.waitFor(
      async () => {
        expect((await listDir(dir)).some((f) => f.endsWith('.part'))).toBe(true);
        // Progress is forwarded from the thread: the first report at once, the rest of
        // the burst when the 250 ms interval ends (it is not lost when the body stalls).
        expect(ctx.updates.at(-1)?.bytesDone).toBeGreaterThanOrEqual(400 * 1024);
      },
      { timeout: 10_000, interval: 20 },
    );
    expect(ctx.updates.at(-1)).toMatchObject({ bytesTotal: 400 * 1024 + 1_000_000 });

    ctx.controller.abort(new Error('job cancelled by user'));
    const outcome = await running;
    expect(outcome).toMatchObject({
      $case: 'error',
      value: { code: 'CANCELLED', retryable: false, message: expect.stringContaining('job cancelled by user') },
    });
    expect(await listDir(dir)).toEqual([]);
  });

  it('cancels a download whose thread is still preparing a new output folder (the first task of a job)', async () => {
    fx.server = await drippingServer(400 * 1024);
    const ctx = taskContext();
    const running = fx.executor.run(fetchTask(`${fx.server.origin}/slow.bin`, { outputDir: 'fresh/folder' }), ctx);
    // In the same turn: the cancel reaches the thread with the start, before the folder exists.
    ctx.controller.abort(new Error('job cancelled by user'));
    expect(await running).toMatchObject({ $case: 'error', value: { code: 'CANCELLED' } });
    expect(await listDir(path.join(fx.dataRoot, 'fresh', 'folder'))).toEqual([]);
  });

  it('cancels a download still waiting for response headers', async () => {
    fx.server = await startServer(() => {
      /* never answers */
    });
    const ctx = taskContext();
    const running = fx.executor.run(fetchTask(`${fx.server.origin}/wait`, { outputDir: 'cancel2' }), ctx);
    await vi.waitFor(() => expect(fx.server?.requests).toHaveLength(1), { timeout: 10_000, interval: 10 });
    ctx.controller.abort();
    expect(await running).toMatchObject({ $case: 'error', value: { code: 'CANCELLED' } });
    expect(await listDir(path.join(fx.dataRoot, 'cancel2'))).toEqual([]);
  });

  it('leaves no abort listener behind on a signal shared by several tasks', async () => {
    fx.server = await startServer((_req, res) => res.end('ok'));
    const ctx = taskContext();
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) => fx.executor.run(fetchTask(`${fx.server!.origin}/s${i}`, { outputDir: 'shared' }), ctx)),
    );
    expect(outcomes.every((o) => o.$case === 'fetch')).toBe(true);
    expect(getEventListeners(ctx.signal, 'abort')).toHaveLength(0);
  });

  it('cancels through a signal that is not a Node.js AbortSignal (a polyfill)', async () => {
    fx.server = await drippingServer(400 * 1024);
    /** Just the AbortSignal members the executor uses, on a plain EventTarget. */
    class PolyfillSignal extends EventTarget {
      aborted = false;
      reason: unknown = undefined;
      abort(reason: unknown): void {
        this.aborted = true;
        this.reason = reason;
        this.dispatchEvent(new Event('abort'));
      }
    }
    const signal = new PolyfillSignal();
    const ctx = { ...taskContext(), signal: signal as unknown as AbortSignal };
    const running = fx.executor.run(fetchTask(`${fx.server.origin}/poly.bin`, { outputDir: 'poly' }), ctx);
    await vi.waitFor(
      async () => expect((await listDir(path.join(fx.dataRoot, 'poly'))).some((f) => f.endsWith('.part'))).toBe(true),
      { timeout: 10_000, interval: 20 },
    );
    signal.abort(new Error('polyfill abort'));
    expect(await running).toMatchObject({
      $case: 'error',
      value: { code: 'CANCELLED', message: expect.stringContaining('polyfill abort') },
    });
    expect(await listDir(path.join(fx.dataRoot, 'poly'))).toEqual([]);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    // Already aborted: CANCELLED without a request.
    expect(await fx.executor.run(fetchTask(`${fx.server.origin}/late.bin`, { outputDir: 'poly' }), ctx)).toMatchObject({
      $case: 'error',
      value: { code: 'CANCELLED' },
    });
  });

  it('returns CANCELLED at once for a task whose signal is already aborted', async () => {
    const ctx = taskContext();
    ctx.controller.abort();
    expect(await fx.executor.run(fetchTask('http://127.0.0.1:1/x'), ctx)).toMatchObject({
      $case: 'error',
      value: { code: 'CANCELLED' },
    });
  });

  it('cancelling one download leaves the others on the same thread running', async () => {
    const body = randomBytes(200_000);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    fx.server = await startServer((req, res) => {
      if (req.url === '/hang') {
        res.writeHead(200, { 'content-length': 10 });
        res.write('x');
        return;
      }
      void gate.then(() => res.end(body));
    });
    const hangCtx = taskContext();
    const hanging = fx.executor.run(fetchTask(`${fx.server.origin}/hang`, { outputDir: 'mixed' }), hangCtx);
    const others = [1, 2].map((i) =>
      fx.executor.run(fetchTask(`${fx.server!.origin}/ok${i}`, { outputDir: 'mixed' }), taskContext()),
    );
    await vi.waitFor(() => expect(fx.server?.requests).toHaveLength(3), { timeout: 10_000, interval: 10 });
    hangCtx.controller.abort();
    expect(await hanging).toMatchObject({ $case: 'error', value: { code: 'CANCELLED' } });
    release();
    for (const outcome of await Promise.all(others)) {
      expect(outcome).toMatchObject({ $case: 'fetch', value: { bytes: body.length } });
    }
    expect(await listDir(path.join(fx.dataRoot, 'mixed'))).toEqual(['ok1', 'ok2']);
  });
});

describe('fetch executor: close()', () => {
  it('aborts running downloads, removes their temporary files, and then refuses new tasks', async () => {
    const dataRoot = await makeDataRoot();
    const server = await drippingServer(400 * 1024);
    const executor = createFetchExecutor({ dataRoot, threads: 1, slots: 2, allowLoopback: true });
    try {
      const dir = path.join(dataRoot, 'closing');
      const running = executor.run(fetchTask(`${server.origin}/slow.bin`, { outputDir: 'closing' }), taskContext());
      await vi.waitFor(
        async () => expect((await listDir(dir)).some((f) => f.endsWith('.part'))).toBe(true),
        { timeout: 10_000, interval: 20 },
      );
      await executor.close();
      expect(await running).toMatchObject({ $case: 'error', value: { code: 'CANCELLED' } });
      expect(await listDir(dir)).toEqual([]);
      expect(await executor.run(fetchTask(`${server.origin}/late`), taskContext())).toMatchObject({
        $case: 'error',
        value: { code: 'CANCELLED' },
      });
    } finally {
      await executor.close();
      await server.close();
      await fs.rm(dataRoot, { recursive: true, force: true });
    }
  });
});
