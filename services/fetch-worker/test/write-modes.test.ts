import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TaskExecutor } from '@spindle/runtime';
import type { FetchTask } from '@spindle/sdk';
import { createFetchExecutor } from '@spindle/fetch-worker';
import { fetchTask, listDir, makeDataRoot, startServer, taskContext, type TestServer } from './helpers';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * Mounts a 1 MiB tmpfs at `dir` (root only), so that writes fail with ENOSPC.
 * Returns false where that is not possible, unless the environment requires it
 * (CI runs as root and sets SPINDLE_REQUIRE_MOUNT=1, so this cannot skip there).
 */
function mountTinyFs(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch (err) {
    if (process.env.SPINDLE_REQUIRE_MOUNT === '1') throw new Error(`cannot mount a tmpfs: ${String(err)}`);
    return false;
  }
}

// Streamed bodies (over the 256 KiB kept in memory) are written synchronously by
// the fetch thread by default and through libuv's thread pool with a limit of 0;
// both must give the same files and fail the same way.
describe.each([
  ['synchronous writes (default)', 20],
  ['thread pool writes', 0],
])('fetch executor, %s', (_name, syncWriteLimitMs) => {
  let dataRoot: string;
  let executor: TaskExecutor<FetchTask>;
  let server: TestServer;
  const bodies = new Map<string, Buffer>([
    ['/spill.bin', randomBytes(300 * 1024)],
    ['/large.bin', randomBytes(3 * 1024 * 1024 + 17)],
  ]);
  const stallBody = randomBytes(500 * 1024);
  let stall: { more(): void; end(): void } | null = null;

  beforeAll(async () => {
    dataRoot = await makeDataRoot();
    executor = createFetchExecutor({ dataRoot, threads: 1, slots: 4, allowLoopback: true, syncWriteLimitMs });
    server = await startServer((req, res) => {
      if (req.url === '/stall.bin') {
        // 300 KiB of 500, 100 KiB more and the rest when the test says so.
        res.writeHead(200, { 'content-length': stallBody.length });
        res.write(stallBody.subarray(0, 300 * 1024));
        stall = {
          more: () => res.write(stallBody.subarray(300 * 1024, 400 * 1024)),
          end: () => res.end(stallBody.subarray(400 * 1024)),
        };
        return;
      }
      const body = bodies.get(req.url ?? '');
      if (body === undefined) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': body.length });
      // In pieces over several turns: many writes per file.
      let o = 0;
      const next = (): void => {
        if (o >= body.length) return void res.end();
        res.write(body.subarray(o, o + 100_000));
        o += 100_000;
        setImmediate(next);
      };
      next();
    });
  });
  afterAll(async () => {
    await executor.close();
    await server.close();
    await fs.rm(dataRoot, { recursive: true, force: true });
  });

  it('writes streamed bodies byte-exact, with the right SHA-256 and no temporary file left', async () => {
    const outcomes = await Promise.all(
      [...bodies.keys()].map((p) => executor.run(fetchTask(`${server.origin}${p}`, { outputDir: 'ok' }), taskContext())),
    );
    for (const [i, [p, body]] of [...bodies].entries()) {
      expect(outcomes[i]).toMatchObject({ $case: 'fetch', value: { bytes: body.length, sha256: sha256(body) } });
      expect((await fs.readFile(path.join(dataRoot, 'ok', p.slice(1)))).equals(body), p).toBe(true);
    }
    expect(await listDir(path.join(dataRoot, 'ok'))).toEqual(['large.bin', 'spill.bin']);
  });

  it('puts every byte received of a streamed body on disk while the rest is still to come', async () => {
    const dir = path.join(dataRoot, 'stall');
    const running = executor.run(fetchTask(`${server.origin}/stall.bin`, { outputDir: 'stall' }), taskContext());
    // The temporary file (the only entry) holds what was sent, though no more comes yet.
    const onDisk = (bytes: number): Promise<void> =>
      vi.waitFor(
        async () => {
          const [temp] = await listDir(dir);
          expect((await fs.stat(path.join(dir, temp ?? 'none'))).size).toBe(bytes);
        },
        { timeout: 10_000, interval: 20 },
      );
    await onDisk(300 * 1024);
    // Chunks that come to an open, idle file: less than a write's worth, written all the same.
    stall?.more();
    await onDisk(400 * 1024);
    stall?.end();
    expect(await running).toMatchObject({ $case: 'fetch', value: { bytes: stallBody.length, sha256: sha256(stallBody) } });
    expect(await listDir(dir)).toEqual(['stall.bin']);
  });

  it('fails a download whose writes fail (file system full) with the error, and leaves nothing behind', async (ctx) => {
    const dir = path.join(dataRoot, 'full');
    await fs.mkdir(dir);
    if (!mountTinyFs(dir)) return ctx.skip();
    try {
      const large = await executor.run(fetchTask(`${server.origin}/large.bin`, { outputDir: 'full' }), taskContext());
      expect(large).toMatchObject({ $case: 'error', value: { code: 'INTERNAL', retryable: true } });
      expect(large.$case === 'error' && large.value.message).toMatch(/cannot write full\/large\.bin \(ENOSPC\)/);
      expect(await listDir(dir)).toEqual([]);
      // The thread goes on: a body that fits is written afterwards.
      const small = await executor.run(fetchTask(`${server.origin}/spill.bin`, { outputDir: 'full' }), taskContext());
      expect(small).toMatchObject({ $case: 'fetch', value: { sha256: sha256(bodies.get('/spill.bin')!) } });
      expect(await listDir(dir)).toEqual(['spill.bin']);
    } finally {
      execFileSync('umount', [dir]);
    }
  });
});
