import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fetchTask, listDir, startServer, taskContext, useExecutor } from './helpers';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('fetch executor: successful downloads', () => {
  const fx = useExecutor({ threads: 2, slots: 8, allowLoopback: true });

  it('downloads many files concurrently, byte-exact, with the right SHA-256', async () => {
    // Sizes cover: empty, tiny, in-memory path, spill-to-disk path, and backpressure (> 1 MiB).
    const sizes = [0, 1, 1000, 64 * 1024, 300 * 1024, 3 * 1024 * 1024 + 17];
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 24; i++) files.set(`/f${i}.bin`, randomBytes(sizes[i % sizes.length] ?? 1));
    fx.server = await startServer((req, res) => {
      const body = files.get(req.url ?? '');
      if (body === undefined) return void res.writeHead(404).end();
      // Alternate Content-Length and chunked responses.
      if (req.url?.endsWith('1.bin') || req.url?.endsWith('3.bin')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        for (let o = 0; o < body.length; o += 50_000) res.write(body.subarray(o, o + 50_000));
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
        res.end(body);
      }
    });
    const origin = fx.server.origin;
    const outcomes = await Promise.all(
      [...files.keys()].map((p) => fx.executor.run(fetchTask(`${origin}${p}`, { outputDir: 'many' }), taskContext())),
    );
    for (const [i, [p, body]] of [...files].entries()) {
      const outcome = outcomes[i];
      expect(outcome?.$case, p).toBe('fetch');
      if (outcome?.$case !== 'fetch') continue;
      const name = p.slice(1);
      expect(outcome.value).toMatchObject({
        url: `${origin}${p}`,
        path: `many/${name}`,
        bytes: body.length,
        sha256: sha256(body),
        httpStatus: 200,
        contentType: 'application/octet-stream',
      });
      const onDisk = await fs.readFile(path.join(fx.dataRoot, 'many', name));
      expect(onDisk.equals(body), `${p} content`).toBe(true);
    }
    // No temporary file survives.
    expect(await listDir(path.join(fx.dataRoot, 'many'))).toEqual([...files.keys()].map((p) => p.slice(1)).sort());
  });

  it('writes and hashes bodies that arrive in pieces byte-exact (a few, many tiny ones, at the in-memory limit)', async () => {
    const bodies = new Map<string, { body: Buffer; piece: number }>([
      ['/few.bin', { body: randomBytes(64 * 1024 + 300), piece: 20_000 }],
      ['/many.bin', { body: randomBytes(5000), piece: 7 }],
      // Up to 256 KiB a body stays in memory and is hashed at the end; one byte more spills.
      ['/limit.bin', { body: randomBytes(256 * 1024), piece: 30_000 }],
      ['/over.bin', { body: randomBytes(256 * 1024 + 1), piece: 30_000 }],
    ]);
    fx.server = await startServer((req, res) => {
      const entry = bodies.get(req.url ?? '');
      if (entry === undefined) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': entry.body.length });
      // Pieces in separate turns, so that they reach the worker as separate chunks.
      let o = 0;
      const next = (): void => {
        if (o >= entry.body.length) return void res.end();
        res.write(entry.body.subarray(o, o + entry.piece));
        o += entry.piece;
        setImmediate(next);
      };
      next();
    });
    for (const [p, { body }] of bodies) {
      const outcome = await fx.executor.run(fetchTask(`${fx.server.origin}${p}`, { outputDir: 'pieces' }), taskContext());
      expect(outcome).toMatchObject({ $case: 'fetch', value: { bytes: body.length, sha256: sha256(body) } });
      expect((await fs.readFile(path.join(fx.dataRoot, 'pieces', p.slice(1)))).equals(body), p).toBe(true);
    }
    expect(await listDir(path.join(fx.dataRoot, 'pieces'))).toEqual(['few.bin', 'limit.bin', 'many.bin', 'over.bin']);
  });

  it('accepts a matching expected SHA-256 (any case) and expected size', async () => {
    const body = randomBytes(5000);
    fx.server = await startServer((_req, res) => res.end(body));
    const outcome = await fx.executor.run(
      fetchTask(`${fx.server.origin}/checked.bin`, {
        sha256: sha256(body).toUpperCase(),
        expectedSize: body.length,
      }),
      taskContext(),
    );
    expect(outcome).toMatchObject({ $case: 'fetch', value: { bytes: 5000, sha256: sha256(body) } });
  });

  it('follows a redirect chain and saves the final body under the requested name', async () => {
    const body = Buffer.from('final body');
    fx.server = await startServer((req, res) => {
      if (req.url === '/start.txt') return void res.writeHead(301, { location: '/middle' }).end('moved');
      if (req.url === '/middle') return void res.writeHead(307, { location: `${origin}/end?x=1` }).end();
      if (req.url === '/end?x=1') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
      res.writeHead(404).end();
    });
    const origin = fx.server.origin;
    const outcome = await fx.executor.run(fetchTask(`${origin}/start.txt`), taskContext());
    expect(outcome).toMatchObject({
      $case: 'fetch',
      value: { url: `${origin}/start.txt`, path: 'out/start.txt', bytes: body.length, httpStatus: 200 },
    });
    expect(await fs.readFile(path.join(fx.dataRoot, 'out', 'start.txt'), 'utf8')).toBe('final body');
    expect(fx.server.requests).toEqual(['GET /start.txt', 'GET /middle', 'GET /end?x=1']);
  });

  it('keeps file names inside the output folder whatever the task says', async () => {
    fx.server = await startServer((_req, res) => res.end('x'));
    const cases: Array<[string, string]> = [
      ['../../etc/passwd', 'passwd'],
      ['/abs', 'abs'],
      ['a/b', 'b'],
      ['..', 'download'],
      ['.hidden', '_.hidden'],
      ['C:\\Windows\\con.txt', '_con.txt'],
    ];
    for (const [fileName, expected] of cases) {
      const outcome = await fx.executor.run(
        fetchTask(`${fx.server.origin}/x`, { outputDir: 'names', fileName }),
        taskContext(),
      );
      expect(outcome, fileName).toMatchObject({ $case: 'fetch', value: { path: `names/${expected}` } });
    }
    expect(await listDir(path.join(fx.dataRoot, 'names'))).toEqual(cases.map(([, e]) => e).sort());
    // Nothing was written next to the output folder or above the data root.
    expect(await listDir(path.join(fx.dataRoot, 'etc'))).toEqual([]);
  });

  it('derives the file name from the decoded last URL segment, with a fallback', async () => {
    fx.server = await startServer((_req, res) => res.end('y'));
    const a = await fx.executor.run(fetchTask(`${fx.server.origin}/dir/na%C3%AFve%20report.csv?q=1`), taskContext());
    expect(a).toMatchObject({ $case: 'fetch', value: { path: 'out/naïve report.csv' } });
    const b = await fx.executor.run(fetchTask(`${fx.server.origin}/dir/`, { outputDir: 'fallback' }), taskContext());
    expect(b).toMatchObject({ $case: 'fetch', value: { path: 'fallback/download' } });
  });

  it('writes under jobs/<job id> when the task has no output folder', async () => {
    fx.server = await startServer((_req, res) => res.end('z'));
    const outcome = await fx.executor.run(fetchTask(`${fx.server.origin}/z.txt`, { outputDir: '' }), taskContext());
    expect(outcome).toMatchObject({ $case: 'fetch', value: { path: 'jobs/job-1/z.txt' } });
    expect(await fs.readFile(path.join(fx.dataRoot, 'jobs', 'job-1', 'z.txt'), 'utf8')).toBe('z');
  });

  it('replaces an existing file atomically on a repeated attempt', async () => {
    let n = 0;
    fx.server = await startServer((_req, res) => res.end(`version ${++n}`));
    const first = await fx.executor.run(fetchTask(`${fx.server.origin}/same.txt`), taskContext());
    const again = await fx.executor.run(fetchTask(`${fx.server.origin}/same.txt`), { ...taskContext(), attempt: 2 });
    expect(first.$case).toBe('fetch');
    expect(again.$case).toBe('fetch');
    expect(await fs.readFile(path.join(fx.dataRoot, 'out', 'same.txt'), 'utf8')).toBe('version 2');
  });

  it('reuses keep-alive connections across downloads, including after error responses', async () => {
    fx.server = await startServer((req, res) => {
      if (req.url?.startsWith('/missing')) return void res.writeHead(404).end('not here');
      res.end('ok');
    });
    for (let i = 0; i < 12; i++) {
      const url = i % 3 === 0 ? `${fx.server.origin}/missing${i}` : `${fx.server.origin}/k${i}`;
      await fx.executor.run(fetchTask(url, { outputDir: 'keepalive' }), taskContext());
    }
    expect(fx.server.requests).toHaveLength(12);
    // One connection per thread at most: sequential requests never need more.
    expect(fx.server.connections()).toBeLessThanOrEqual(2);
  });
});
