import { getEventListeners } from 'node:events';
import * as fs from 'node:fs/promises';
import type * as http from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TaskExecutor, TaskOutcome } from '@spindle/runtime';
import type { FetchTask } from '@spindle/sdk';
import { createFetchExecutor } from '@spindle/fetch-worker';
import { fetchOptions, fetchTask, makeDataRoot, startServer, taskContext, type TestServer } from './helpers';

/** A server that holds every response until `release()`, counting requests in flight. */
async function gatedServer(): Promise<
  TestServer & { inFlight(): number; maxInFlight(): number; held(): number; releaseOne(): void; release(): void }
> {
  let inFlight = 0;
  let max = 0;
  const waiting: http.ServerResponse[] = [];
  let open = false;
  const server = await startServer((_req, res) => {
    inFlight++;
    max = Math.max(max, inFlight);
    res.on('finish', () => inFlight--);
    if (open) res.end('ok');
    else waiting.push(res);
  });
  return Object.assign(server, {
    inFlight: () => inFlight,
    maxInFlight: () => max,
    held: () => waiting.length,
    /** Answers the oldest held request. */
    releaseOne() {
      waiting.shift()?.end('ok');
    },
    release() {
      open = true;
      for (const res of waiting.splice(0)) res.end('ok');
    },
  });
}

describe('fetch executor: concurrency limits', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function setup(options: {
    slots: number;
    prefetch: number;
    threads?: number;
    perHostConcurrency?: number;
  }): Promise<TaskExecutor<FetchTask>> {
    const dataRoot = await makeDataRoot();
    const executor = createFetchExecutor({ dataRoot, threads: 2, allowLoopback: true, ...options });
    cleanup.push(() => fs.rm(dataRoot, { recursive: true, force: true }), () => executor.close());
    return executor;
  }

  it('runs at most `slots` downloads at once and queues the prefetched rest', async () => {
    const executor = await setup({ slots: 4, prefetch: 8 });
    expect(executor.slots).toBe(12); // credits granted: slots + prefetch
    const server = await gatedServer();
    cleanup.push(() => server.close());
    const runs = Array.from({ length: 12 }, (_, i) => executor.run(fetchTask(`${server.origin}/f${i}`), taskContext()));
    await vi.waitFor(() => expect(server.inFlight()).toBe(4), { timeout: 10_000, interval: 10 });
    server.release();
    const outcomes = await Promise.all(runs);
    expect(outcomes.every((o) => o.$case === 'fetch')).toBe(true);
    expect(server.maxInFlight()).toBe(4);
  });

  // Each thread runs its share of the slots; shares of ceil(slots / threads) ran 4 at once
  // for 3 slots over 2 threads, 6 for 5, and 2 for 1.
  it.each([
    { slots: 3, threads: 2 },
    { slots: 5, threads: 2 },
    { slots: 1, threads: 2 },
  ])('runs exactly $slots downloads at once over $threads threads', async ({ slots, threads }) => {
    const executor = await setup({ slots, threads, prefetch: 0 });
    // Every thread is up once each has run a download (each gets one of the first `slots`);
    // otherwise a thread that starts late might find the others' queues drained already.
    const warm = await startServer((_req, res) => res.end('ok'));
    cleanup.push(() => warm.close());
    const warmUp = Array.from({ length: slots * 2 }, (_, i) => executor.run(fetchTask(`${warm.origin}/w${i}`), taskContext()));
    expect((await Promise.all(warmUp)).every((o) => o.$case === 'fetch')).toBe(true);
    const server = await gatedServer();
    cleanup.push(() => server.close());
    // Enough for every thread to have a queue, whatever its share.
    const total = slots * 4;
    const runs = Array.from({ length: total }, (_, i) => executor.run(fetchTask(`${server.origin}/f${i}`), taskContext()));
    await vi.waitFor(() => expect(server.inFlight()).toBeGreaterThanOrEqual(slots), { timeout: 10_000, interval: 10 });
    // One answer at a time: each frees one slot, which its thread fills from its queue.
    for (let i = 0; i < total; i++) {
      await vi.waitFor(() => expect(server.held()).toBeGreaterThan(0), { timeout: 10_000, interval: 5 });
      server.releaseOne();
    }
    const outcomes = await Promise.all(runs);
    expect(outcomes.every((o) => o.$case === 'fetch')).toBe(true);
    expect(server.requests).toHaveLength(total);
    expect(server.maxInFlight()).toBe(slots);
  });

  it('limits downloads per host, and another host is not held up behind it', async () => {
    const executor = await setup({ slots: 8, prefetch: 8 });
    const a = await gatedServer();
    const b = await gatedServer();
    cleanup.push(() => a.close(), () => b.close());
    const options = fetchOptions({ perHostConcurrency: 2 });
    const fromA = Array.from({ length: 8 }, (_, i) => executor.run(fetchTask(`${a.origin}/a${i}`, { options }), taskContext()));
    const fromB = Array.from({ length: 3 }, (_, i) => executor.run(fetchTask(`${b.origin}/b${i}`, { options }), taskContext()));
    await vi.waitFor(
      () => {
        expect(a.inFlight()).toBe(2);
        expect(b.inFlight()).toBe(2);
      },
      { timeout: 10_000, interval: 10 },
    );
    b.release();
    const outcomesB: TaskOutcome[] = await Promise.all(fromB);
    expect(outcomesB.every((o) => o.$case === 'fetch')).toBe(true);
    expect(a.inFlight()).toBe(2); // A's downloads were still held while B's finished
    a.release();
    expect((await Promise.all(fromA)).every((o) => o.$case === 'fetch')).toBe(true);
    expect(a.maxInFlight()).toBe(2);
    expect(b.maxInFlight()).toBe(2);
  });

  it("uses the worker's default per-host limit when the job sets none", async () => {
    const executor = await setup({ slots: 8, prefetch: 0, perHostConcurrency: 3 });
    const server = await gatedServer();
    cleanup.push(() => server.close());
    const runs = Array.from({ length: 6 }, (_, i) => executor.run(fetchTask(`${server.origin}/f${i}`), taskContext()));
    await vi.waitFor(() => expect(server.inFlight()).toBe(3), { timeout: 10_000, interval: 10 });
    server.release();
    await Promise.all(runs);
    expect(server.maxInFlight()).toBe(3);
  });

  it('cancels a task still waiting for its host without touching the running ones', async () => {
    const executor = await setup({ slots: 4, prefetch: 4, perHostConcurrency: 1 });
    const server = await gatedServer();
    cleanup.push(() => server.close());
    const first = executor.run(fetchTask(`${server.origin}/first`), taskContext());
    const ctx = taskContext();
    const second = executor.run(fetchTask(`${server.origin}/second`), ctx);
    await vi.waitFor(() => expect(server.inFlight()).toBe(1), { timeout: 10_000, interval: 10 });
    ctx.controller.abort(new Error('job cancelled'));
    expect(await second).toMatchObject({ $case: 'error', value: { code: 'CANCELLED' } });
    expect(getEventListeners(ctx.signal, 'abort')).toHaveLength(0);
    server.release();
    expect(await first).toMatchObject({ $case: 'fetch' });
    expect(server.requests).toEqual(['GET /first']);
  });
});

describe('fetch executor: progress', () => {
  it('reports running totals with the announced size, at most about four times a second', async () => {
    const dataRoot = await makeDataRoot();
    const total = 64 * 1024 * 20;
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': total });
      let sent = 0;
      const timer = setInterval(() => {
        res.write(Buffer.alloc(64 * 1024, 1));
        sent += 64 * 1024;
        if (sent >= total) {
          clearInterval(timer);
          res.end();
        }
      }, 50);
      res.on('close', () => clearInterval(timer));
    });
    const executor = createFetchExecutor({ dataRoot, threads: 1, slots: 2, allowLoopback: true });
    try {
      const ctx = taskContext();
      const started = Date.now();
      const outcome = await executor.run(fetchTask(`${server.origin}/slow.bin`), ctx);
      const elapsed = Date.now() - started;
      expect(outcome).toMatchObject({ $case: 'fetch', value: { bytes: total } });
      expect(ctx.updates.length).toBeGreaterThan(0);
      expect(ctx.updates.every((u) => u.bytesTotal === total)).toBe(true);
      const done = ctx.updates.map((u) => u.bytesDone ?? 0);
      expect(done).toEqual([...done].sort((x, y) => x - y));
      // One report per 250 ms at most (plus the first): the rate is bounded by time, not by chunks.
      expect(ctx.updates.length).toBeLessThanOrEqual(Math.floor(elapsed / 250) + 1);
    } finally {
      await executor.close();
      await server.close();
      await fs.rm(dataRoot, { recursive: true, force: true });
    }
  });

  it('sends no report for a download whose result goes to the main thread in the same message', async () => {
    // A small body ends in the turn of its first report; the report would arrive with the
    // result, when the worker connection no longer forwards progress of that task.
    const dataRoot = await makeDataRoot();
    const server = await startServer((_req, res) => res.end('x'));
    const executor = createFetchExecutor({ dataRoot, threads: 1, slots: 2, allowLoopback: true });
    try {
      const contexts = [taskContext(), taskContext(), taskContext()];
      const outcomes = await Promise.all(contexts.map((ctx, i) => executor.run(fetchTask(`${server.origin}/t${i}`), ctx)));
      expect(outcomes.every((o) => o.$case === 'fetch' && o.value.bytes === 1)).toBe(true);
      expect(contexts.map((ctx) => ctx.updates)).toEqual([[], [], []]);
    } finally {
      await executor.close();
      await server.close();
      await fs.rm(dataRoot, { recursive: true, force: true });
    }
  });
});
