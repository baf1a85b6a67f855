import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { FetchTask } from '@spindle/sdk';
import { createFetchExecutor } from '@spindle/fetch-worker';
import { fetchTask, largestFile, listDir, makeDataRoot, rangeHandler, startServer, taskContext, type RangeServerOptions, useExecutor } from './helpers';

// Files are compared by digest: a deep toEqual over MiBs of bytes takes seconds.
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const BODY = randomBytes(3 * 1024 * 1024 + 123);
const CUT = 1024 * 1024 + 7;

describe('fetch executor: resuming a retried download', () => {
  const fx = useExecutor({ threads: 1, slots: 4, allowLoopback: true });

  let reset: () => void = () => {};

  async function serve(options: RangeServerOptions) {
    const r = rangeHandler(options);
    reset = r.reset;
    fx.server = await startServer(r.handler);
    return r.seen;
  }

  /**
   * Runs attempts 1..n of one task (same task id), as the coordinator's retries
   * would. A held response is reset once the download has written `CUT` bytes
   * to its temporary file, so the amount received is known, not a race.
   */
  async function attempts(dir: string, n: number, fields: Partial<FetchTask> = {}) {
    const taskId = `job-r/f/${dir}`;
    const task = fetchTask(`${fx.server!.origin}/data.bin`, { outputDir: dir, maxAttempts: 3, ...fields });
    const outcomes = [];
    for (let attempt = 1; attempt <= n; attempt++) {
      const running = fx.executor.run(task, taskContext({ taskId, attempt }));
      if (attempt === 1) await resetWhenWritten(path.join(fx.dataRoot, dir), running);
      outcomes.push(await running);
    }
    return outcomes;
  }

  /** Resets held connections once `dir` holds CUT bytes (or the download ended on its own). */
  async function resetWhenWritten(dir: string, running: Promise<unknown>): Promise<void> {
    let ended = false;
    void running.then(() => (ended = true));
    await vi.waitFor(async () => expect(ended || (await largestFile(dir)) >= CUT).toBe(true), {
      timeout: 10_000,
      interval: 10,
    });
    reset();
  }

  it('continues with Range + If-Range after a connection reset; the file is byte-identical', async () => {
    const seen = await serve({ body: BODY, etag: '"v1"', holdAfter: { 0: CUT } });
    const [first, second] = await attempts('resume', 2);
    expect(first).toMatchObject({ $case: 'error', value: { code: 'TRUNCATED', retryable: true } });
    expect(second).toMatchObject({
      $case: 'fetch',
      value: { bytes: BODY.length, sha256: sha256(BODY), resumedBytes: expect.any(Number), path: 'resume/data.bin' },
    });
    const resumed = second?.$case === 'fetch' ? second.value.resumedBytes : 0;
    expect(resumed).toBe(CUT);
    expect(seen[1]).toEqual({ range: `bytes=${resumed}-`, ifRange: '"v1"' });
    expect(sha256(await fs.readFile(path.join(fx.dataRoot, 'resume', 'data.bin')))).toBe(sha256(BODY));
    expect(await listDir(path.join(fx.dataRoot, 'resume'))).toEqual(['data.bin']);
  });

  it('keeps the partial body between attempts as a hidden resume file, and nothing at the final name', async () => {
    await serve({ body: BODY, etag: '"v1"', holdAfter: { 0: CUT } });
    await attempts('between', 1);
    const files = await listDir(path.join(fx.dataRoot, 'between'));
    expect(files).toHaveLength(2);
    expect(files.every((f) => f.startsWith('.data.bin.') && /\.resume(\.json)?$/.test(f))).toBe(true);
  });

  it('uses Last-Modified as the validator when there is no strong ETag', async () => {
    const lastModified = 'Wed, 25 Nov 2026 10:00:00 GMT';
    const r = rangeHandler({ body: BODY, etag: 'W/"weak"', holdAfter: { 0: CUT } });
    reset = r.reset;
    fx.server = await startServer((req, res) => {
      res.setHeader('last-modified', lastModified);
      // If-Range with a date: honour it as the handler honours ETags.
      if (req.headers['if-range'] === lastModified) req.headers['if-range'] = 'W/"weak"';
      r.handler(req, res);
    });
    const [, second] = await attempts('lastmod', 2);
    expect(second).toMatchObject({ $case: 'fetch', value: { sha256: sha256(BODY) } });
    expect(r.seen[1]?.range).toMatch(/^bytes=\d+-$/);
    expect(sha256(await fs.readFile(path.join(fx.dataRoot, 'lastmod', 'data.bin')))).toBe(sha256(BODY));
  });

  it('restarts cleanly when the server does not support ranges: no partial kept, full body again', async () => {
    const seen = await serve({ body: BODY, etag: '"v1"', ranges: false, holdAfter: { 0: CUT } });
    const [first, second] = await attempts('norange', 2);
    expect(first).toMatchObject({ $case: 'error', value: { code: 'TRUNCATED' } });
    expect(await listDir(path.join(fx.dataRoot, 'norange'))).toEqual(['data.bin']);
    expect(second).toMatchObject({ $case: 'fetch', value: { bytes: BODY.length, resumedBytes: 0 } });
    expect(seen[1]?.range).toBeUndefined();
    expect(sha256(await fs.readFile(path.join(fx.dataRoot, 'norange', 'data.bin')))).toBe(sha256(BODY));
  });

  it('restarts cleanly when the server ignores the range on the retry (200 instead of 206)', async () => {
    const r = rangeHandler({ body: BODY, etag: '"v1"', holdAfter: { 0: CUT } });
    reset = r.reset;
    let n = 0;
    fx.server = await startServer((req, res) => {
      if (n++ === 1) delete req.headers.range; // the second request: pretend Range was not understood
      r.handler(req, res);
    });
    const [, second] = await attempts('ignored', 2);
    expect(second).toMatchObject({ $case: 'fetch', value: { bytes: BODY.length, resumedBytes: 0, sha256: sha256(BODY) } });
    expect(sha256(await fs.readFile(path.join(fx.dataRoot, 'ignored', 'data.bin')))).toBe(sha256(BODY));
    expect(await listDir(path.join(fx.dataRoot, 'ignored'))).toEqual(['data.bin']);
  });

  it('downloads the new version when the resource changed (If-Range does not match)', async () => {
    const next = randomBytes(2 * 1024 * 1024);
    let version = 1;
    const seen = await serve({
      body: () => (version === 1 ? BODY : next),
      etag: () => `"v${version}"`,
      holdAfter: { 0: CUT },
    });
    const [first] = await attempts('changed', 1);
    expect(first).toMatchObject({ $case: 'error', value: { code: 'TRUNCATED' } });
    version = 2;
    const second = await fx.executor.run(
      fetchTask(`${fx.server!.origin}/data.bin`, { outputDir: 'changed', maxAttempts: 3 }),
      taskContext({ taskId: 'job-r/f/changed', attempt: 2 }),
    );
    expect(seen[1]?.ifRange).toBe('"v1"');
    expect(second).toMatchObject({ $case: 'fetch', value: { bytes: next.length, sha256: sha256(next), resumedBytes: 0 } });
    expect(sha256(await fs.readFile(path.join(fx.dataRoot, 'changed', 'data.bin')))).toBe(sha256(next));
    expect(await listDir(path.join(fx.dataRoot, 'changed'))).toEqual(['data.bin']);
  });

  it('starts over when the 206 stops before the end of the file (a server capping ranges): never a short file', async () => {
    const seen = await serve({ body: BODY, etag: '"v1"', holdAfter: { 0: CUT }, maxRangeBytes: 100_000 });
    const [first, second] = await attempts('capped', 2);
    expect(first).toMatchObject({ $case: 'error', value: { code: 'TRUNCATED' } });
    expect(seen.map((s) => s.range)).toEqual([undefined, `bytes=${CUT}-`, undefined]);
    expect(second).toMatchObject({ $case: 'fetch', value: { bytes: BODY.length, sha256: sha256(BODY), resumedBytes: 0 } });
    expect(sha256(await fs.readFile(path.join(fx.dataRoot, 'capped', 'data.bin')))).toBe(sha256(BODY));
    expect(await listDir(path.join(fx.dataRoot, 'capped'))).toEqual(['data.bin']);
  });

  it('starts over when a server ignoring If-Range sends another version as 206: no spliced file', async () => {
    const next = randomBytes(BODY.length);
    let version = 1;
    const seen = await serve({
      body: () => (version === 1 ? BODY : next),
      etag: () => `"v${version}"`,
      holdAfter: { 0: CUT },
      ignoreIfRange: true,
    });
    await attempts('spliced', 1);
    version = 2;
    const second = await fx.executor.run(
      fetchTask(`${fx.server!.origin}/data.bin`, { outputDir: 'spliced', maxAttempts: 3 }),
      taskContext({ taskId: 'job-r/f/spliced', attempt: 2 }),
    );
    expect(seen.map((s) => s.ifRange)).toEqual([undefined, '"v1"', undefined]);
    expect(second).toMatchObject({ $case: 'fetch', value: { bytes: next.length, sha256: sha256(next), resumedBytes: 0 } });
    expect(sha256(await fs.readFile(path.join(fx.dataRoot, 'spliced', 'data.bin')))).toBe(sha256(next));
  });

  it('a 206 covering the whole resource answers a request without Range: the file is complete', async () => {
    fx.server = await startServer((_req, res) => {
      res.writeHead(206, { 'content-range': `bytes 0-${BODY.length - 1}/${BODY.length}`, 'content-length': BODY.length });
      res.end(BODY);
    });
    const [whole] = await attempts('whole206', 1);
    expect(whole).toMatchObject({ $case: 'fetch', value: { bytes: BODY.length, sha256: sha256(BODY), httpStatus: 206 } });
  });

  it('a part of the resource sent as 206 to a request without Range fails at once as PROTOCOL (no request loop)', async () => {
    let requests = 0;
    fx.server = await startServer((_req, res) => {
      requests++;
      res.writeHead(206, { 'content-range': `bytes 0-9/${BODY.length}`, 'content-length': 10 });
      res.end(BODY.subarray(0, 10));
    });
    const [part] = await attempts('part206', 1);
    expect(part).toMatchObject({ $case: 'error', value: { code: 'PROTOCOL', retryable: false, httpStatus: 206 } });
    expect(part?.$case === 'error' ? part.value.message : '').toContain(`bytes 0-9/${BODY.length}`);
    expect(requests).toBe(1);
    expect(await listDir(path.join(fx.dataRoot, 'part206'))).toEqual([]);
  });

  it('starts over after 416 (the kept prefix no longer fits the resource)', async () => {
    const short = randomBytes(CUT - 100);
    let shrink = false;
    const seen = await serve({ body: () => (shrink ? short : BODY), etag: '"v1"', holdAfter: { 0: CUT } });
    await attempts('416', 1);
    shrink = true;
    const second = await fx.executor.run(
      fetchTask(`${fx.server!.origin}/data.bin`, { outputDir: '416', maxAttempts: 3 }),
      taskContext({ taskId: 'job-r/f/416', attempt: 2 }),
    );
    expect(seen.map((s) => s.range === undefined)).toEqual([true, false, true]);
    expect(second).toMatchObject({ $case: 'fetch', value: { bytes: short.length, sha256: sha256(short) } });
    expect(await listDir(path.join(fx.dataRoot, '416'))).toEqual(['data.bin']);
  });

  it('keeps nothing when the failed attempt was the last one', async () => {
    await serve({ body: BODY, etag: '"v1"', holdAfter: { 0: CUT } });
    const [last] = await attempts('last', 1, { maxAttempts: 1 });
    expect(last).toMatchObject({ $case: 'error', value: { code: 'TRUNCATED', retryable: true } });
    expect(await listDir(path.join(fx.dataRoot, 'last'))).toEqual([]);
  });

  it('keeps nothing for an error that is not retryable (checksum mismatch)', async () => {
    await serve({ body: BODY, etag: '"v1"' });
    const [bad] = await attempts('notretry', 1, { sha256: 'b'.repeat(64) });
    expect(bad).toMatchObject({ $case: 'error', value: { code: 'CHECKSUM_MISMATCH', retryable: false } });
    expect(await listDir(path.join(fx.dataRoot, 'notretry'))).toEqual([]);
  });

  it('a resumed download is still checked against the expected SHA-256 over the whole file', async () => {
    await serve({ body: BODY, etag: '"v1"', holdAfter: { 0: CUT } });
    const [, ok] = await attempts('sumok', 2, { sha256: sha256(BODY) });
    expect(ok).toMatchObject({ $case: 'fetch', value: { sha256: sha256(BODY) } });
    await fx.server?.close();
    await serve({ body: BODY, etag: '"v1"', holdAfter: { 0: CUT } });
    const [, bad] = await attempts('sumbad', 2, { sha256: 'c'.repeat(64) });
    expect(bad).toMatchObject({ $case: 'error', value: { code: 'CHECKSUM_MISMATCH' } });
    expect(await listDir(path.join(fx.dataRoot, 'sumbad'))).toEqual([]);
  });

  it('cancelling a resumable download keeps nothing', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    fx.server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': BODY.length, etag: '"v1"', 'accept-ranges': 'bytes' });
      res.write(BODY.subarray(0, CUT));
      void gate.then(() => res.destroy());
    });
    const ctx = taskContext({ taskId: 'job-r/f/cancel', attempt: 1 });
    const running = fx.executor.run(fetchTask(`${fx.server.origin}/data.bin`, { outputDir: 'cancel', maxAttempts: 3 }), ctx);
    await vi.waitFor(async () => expect((await listDir(path.join(fx.dataRoot, 'cancel'))).length).toBeGreaterThan(0), {
      timeout: 10_000,
      interval: 20,
    });
    ctx.controller.abort(new Error('job cancelled'));
    expect(await running).toMatchObject({ $case: 'error', value: { code: 'CANCELLED' } });
    release();
    expect(await listDir(path.join(fx.dataRoot, 'cancel'))).toEqual([]);
  });

  it('removes what a killed worker left in a folder (stale .part and .resume files) when it first writes there', async () => {
    const dir = path.join(fx.dataRoot, 'leftovers');
    await fs.mkdir(dir, { recursive: true });
    const left = ['.data.bin.job-old-f-0.2.part', '.data.bin.job-old-f-0.resume', '.data.bin.job-old-f-0.resume.json'];
    const day = new Date(Date.now() - 24 * 3600_000);
    for (const name of left) {
      await fs.writeFile(path.join(dir, name), 'left by a worker that was killed');
      await fs.utimes(path.join(dir, name), day, day);
    }
    await serve({ body: BODY, etag: '"v1"' });
    const [ok] = await attempts('leftovers', 1);
    expect(ok).toMatchObject({ $case: 'fetch' });
    await vi.waitFor(async () => expect(await listDir(dir)).toEqual(['data.bin']), { timeout: 5000, interval: 10 });
  });

  it('forget() removes the partial body kept for a task that will not run again (its job was cancelled)', async () => {
    await serve({ body: BODY, etag: '"v1"', holdAfter: { 0: CUT } });
    await attempts('forget', 1);
    const dir = path.join(fx.dataRoot, 'forget');
    expect(await listDir(dir)).toHaveLength(2);
    fx.executor.forget?.('job-r/f/unknown'); // nothing kept for it: nothing happens
    fx.executor.forget?.('job-r/f/forget');
    await vi.waitFor(async () => expect(await listDir(dir)).toEqual([]), { timeout: 5000, interval: 10 });
  });
});

describe('fetch executor: kept partial bodies and shutdown', () => {
  it('close() removes partial bodies kept for a retry that never came', async () => {
    const dataRoot = await makeDataRoot();
    const r = rangeHandler({ body: BODY, etag: '"v1"', holdAfter: { 0: CUT } });
    const server = await startServer(r.handler);
    const executor = createFetchExecutor({ dataRoot, threads: 1, slots: 2, allowLoopback: true });
    try {
      const running = executor.run(
        fetchTask(`${server.origin}/data.bin`, { outputDir: 'kept', maxAttempts: 3 }),
        taskContext({ taskId: 'job-k/f/0', attempt: 1 }),
      );
      await vi.waitFor(async () => expect(await largestFile(path.join(dataRoot, 'kept'))).toBe(CUT), { timeout: 10_000, interval: 10 });
      r.reset();
      const outcome = await running;
      expect(outcome).toMatchObject({ $case: 'error', value: { code: 'TRUNCATED' } });
      expect(await listDir(path.join(dataRoot, 'kept'))).toHaveLength(2);
      await executor.close();
      expect(await listDir(path.join(dataRoot, 'kept'))).toEqual([]);
    } finally {
      await executor.close();
      await server.close();
      await fs.rm(dataRoot, { recursive: true, force: true });
    }
  });

  it('removes an unclaimed partial body after its time-to-live', async () => {
    const dataRoot = await makeDataRoot();
    const r = rangeHandler({ body: BODY, etag: '"v1"', holdAfter: { 0: CUT } });
    const server = await startServer(r.handler);
    const executor = createFetchExecutor({ dataRoot, threads: 1, slots: 2, allowLoopback: true, resumeTtlMs: 300 });
    try {
      const running = executor.run(
        fetchTask(`${server.origin}/data.bin`, { outputDir: 'ttl', maxAttempts: 3 }),
        taskContext({ taskId: 'job-t/f/0', attempt: 1 }),
      );
      await vi.waitFor(async () => expect(await largestFile(path.join(dataRoot, 'ttl'))).toBe(CUT), { timeout: 10_000, interval: 10 });
      r.reset();
      expect(await running).toMatchObject({ $case: 'error', value: { code: 'TRUNCATED' } });
      expect(await listDir(path.join(dataRoot, 'ttl'))).toHaveLength(2);
      await vi.waitFor(async () => expect(await listDir(path.join(dataRoot, 'ttl'))).toEqual([]), {
        timeout: 10_000,
        interval: 100,
      });
    } finally {
      await executor.close();
      await server.close();
      await fs.rm(dataRoot, { recursive: true, force: true });
    }
  });
});
