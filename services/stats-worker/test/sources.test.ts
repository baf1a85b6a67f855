import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskExecutor } from '@spindle/runtime';
import type { StatsTask } from '@spindle/sdk';
import { expectError, expectStats, makeContext, makeDataRoot, pathTask, statsWorker } from './helpers';

const CSV = 'id;v;label\r\n1;2.5;a\r\n2;3.5;"b;c"\r\n3;;d\r\n';

let root: string;
let cleanup: () => Promise<void>;
let server: http.Server;
let base: string;
let strict: TaskExecutor<StatsTask>;
let lenient: TaskExecutor<StatsTask>;
/** Loopback and private addresses allowed: only the always-forbidden ranges are left. */
let permissive: TaskExecutor<StatsTask>;
/** Loopback allowed, and a URL source may take 300 ms in all. */
let hurried: TaskExecutor<StatsTask>;

const urlTask = (url: string): StatsTask => ({ source: { source: { $case: 'url', value: url } } });

beforeAll(async () => {
  ({ root, cleanup } = await makeDataRoot());
  server = http.createServer((req, res) => {
    switch (req.url) {
      case '/a.csv':
        res.end(CSV);
        return;
      case '/a.csv.gz':
        res.setHeader('content-type', 'application/gzip');
        res.end(gzipSync(CSV));
        return;
      case '/fake.csv.gz':
        res.end(CSV);
        return;
      case '/redirect':
        res.writeHead(302, { location: '/a.csv' }).end();
        return;
      case '/busy':
        res.writeHead(503).end('try later');
        return;
      case '/binary.csv':
        res.end(Buffer.from([0x61, 0x0a, 0x00, 0xff, 0x10]));
        return;
      case '/endless.csv': {
        // A row every 20 ms for as long as the client listens: never idle, never done.
        res.write('n,v\n');
        let n = 0;
        const timer = setInterval(() => res.write(`${n++},1\n`), 20);
        res.on('close', () => clearInterval(timer));
        return;
      }
      default:
        res.writeHead(404).end('no');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  strict = statsWorker.createStatsExecutor({ dataRoot: root, threads: 1 });
  lenient = statsWorker.createStatsExecutor({ dataRoot: root, threads: 1, egress: { allowLoopback: true } });
  permissive = statsWorker.createStatsExecutor({
    dataRoot: root,
    threads: 1,
    egress: { allowLoopback: true, allowPrivate: true },
  });
  hurried = statsWorker.createStatsExecutor({ dataRoot: root, threads: 1, egress: { allowLoopback: true, totalTimeoutMs: 300 } });
});

afterAll(async () => {
  await Promise.all([strict?.close(), lenient?.close(), permissive?.close(), hurried?.close()]);
  await new Promise((resolve) => server?.close(resolve));
  await cleanup?.();
});

function expectCsvStats(stats: ReturnType<typeof expectStats>): void {
  expect(stats).toMatchObject({ rows: 3, columns: 3, delimiter: ';', bytes: Buffer.byteLength(CSV) });
  expect(stats.columnStats[1]).toMatchObject({ count: 2, nulls: 1, sum: 6, mean: 3 });
  expect(stats.columnStats[2]).toMatchObject({ type: 3, distinct: 3 });
}

describe('URL sources (real HTTP server)', () => {
  it('streams a CSV over http and detects its delimiter', async () => {
    expectCsvStats(expectStats(await lenient.run(urlTask(`${base}/a.csv`), makeContext().ctx)));
  }, 15_000);

  it('decompresses a .csv.gz URL, and follows a redirect', async () => {
    expectCsvStats(expectStats(await lenient.run(urlTask(`${base}/a.csv.gz`), makeContext().ctx)));
    expectCsvStats(expectStats(await lenient.run(urlTask(`${base}/redirect`), makeContext().ctx)));
  }, 15_000);

  it('refuses loopback addresses unless allowed, and link-local always', async () => {
    const refused = expectError(await strict.run(urlTask(`${base}/a.csv`), makeContext().ctx));
    expect(refused).toMatchObject({ code: 'PATH_FORBIDDEN', retryable: false });
    expect(refused.message).toMatch(/loopback address \(set SPINDLE_STATS_ALLOW_LOOPBACK=true/);
    const byName = expectError(await strict.run(urlTask(base.replace('127.0.0.1', 'localhost') + '/a.csv'), makeContext().ctx));
    expect(byName.code).toBe('PATH_FORBIDDEN');
    const metadata = expectError(await lenient.run(urlTask('http://169.254.169.254/latest/meta-data'), makeContext().ctx));
    expect(metadata).toMatchObject({ code: 'PATH_FORBIDDEN' });
    expect(metadata.message).toMatch(/link-local/);
  }, 15_000);

  // The metadata address carried inside IPv6 spellings: IPv4-mapped, NAT64 (reaches it
  // on an IPv6-only cluster with a NAT64 gateway), 6to4 and the old "compatible" form,
  // and the metadata addresses outside link-local. Refused before any connection.
  it.each([
    'http://[::ffff:a9fe:a9fe]/latest/meta-data',
    'http://[64:ff9b::a9fe:a9fe]/latest/meta-data',
    'http://[64:ff9b::169.254.169.254]/latest/meta-data',
    'http://[2002:a9fe:a9fe::1]/latest/meta-data',
    'http://[::169.254.169.254]/latest/meta-data',
    'http://100.100.100.200/latest/meta-data',
    'http://[fd00:ec2::254]/latest/meta-data',
    'http://METADATA.google.internal./computeMetadata/v1/',
  ])('refuses %s even where loopback and private addresses are allowed', async (url) => {
    const refused = expectError(await permissive.run(urlTask(url), makeContext().ctx));
    expect(refused).toMatchObject({ code: 'PATH_FORBIDDEN', retryable: false });
    expect(refused.message).toMatch(/link-local, metadata or reserved|metadata service/);
  });

  it('ends a source that keeps sending past the total timeout with a retryable TIMEOUT', async () => {
    // Rows keep coming, so the idle timeout (30 s) never trips: the total one must.
    const err = expectError(await hurried.run(urlTask(`${base}/endless.csv`), makeContext().ctx));
    expect(err).toMatchObject({ code: 'TIMEOUT', retryable: true });
    expect(err.message).toMatch(/endless\.csv: not complete after 300 ms/);
    // A source that completes in time is not affected.
    expectCsvStats(expectStats(await hurried.run(urlTask(`${base}/a.csv`), makeContext().ctx)));
  }, 30_000);

  it('reports HTTP errors with their status; 5xx is retryable, 404 is not', async () => {
    expect(expectError(await lenient.run(urlTask(`${base}/missing.csv`), makeContext().ctx))).toMatchObject({
      code: 'HTTP_STATUS',
      httpStatus: 404,
      retryable: false,
    });
    expect(expectError(await lenient.run(urlTask(`${base}/busy`), makeContext().ctx))).toMatchObject({
      code: 'HTTP_STATUS',
      httpStatus: 503,
      retryable: true,
    });
  }, 15_000);

  it('fails a binary body and a .gz URL that is not gzip with CSV_MALFORMED', async () => {
    expect(expectError(await lenient.run(urlTask(`${base}/binary.csv`), makeContext().ctx)).message).toMatch(/binary file/);
    expect(expectError(await lenient.run(urlTask(`${base}/fake.csv.gz`), makeContext().ctx)).message).toMatch(
      /named \.gz but not gzip-compressed/,
    );
  }, 15_000);

  it('reports an unreachable host as a retryable NETWORK error', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(expectError(await lenient.run(urlTask(`http://127.0.0.1:${port}/a.csv`), makeContext().ctx))).toMatchObject({
      code: 'NETWORK',
      retryable: true,
    });
  }, 15_000);
});

describe('gzip files under the data root', () => {
  it('computes the statistics of a .csv.gz file like those of the plain file', async () => {
    await fs.writeFile(path.join(root, 'a.csv.gz'), gzipSync(CSV));
    const { ctx, progress } = makeContext();
    expectCsvStats(expectStats(await strict.run(pathTask('a.csv.gz'), ctx)));
    expect(progress.at(-1)?.bytesTotal).toBe((await fs.stat(path.join(root, 'a.csv.gz'))).size);
  }, 15_000);

  it('fails a truncated gzip file with CSV_MALFORMED', async () => {
    const gz = gzipSync(CSV.repeat(100));
    await fs.writeFile(path.join(root, 'cut.csv.gz'), gz.subarray(0, gz.length - 20));
    expect(expectError(await strict.run(pathTask('cut.csv.gz'), makeContext().ctx)).message).toMatch(/not a valid gzip stream/);
  }, 15_000);
});

describe('delimiter detection', () => {
  it.each([
    ['semicolon', 'a;b;c\n1;2,5;3\n4;5,5;6\n', ';'],
    ['tab', 'a\tb\n1\t2\n', '\t'],
    ['pipe', 'a|b|c\n1|2|3\n', '|'],
    ['comma when undecided (one column)', 'a\n1\n2\n', ','],
  ])('detects %s and reports it', async (_, text, delimiter) => {
    await fs.writeFile(path.join(root, 'detect.csv'), text);
    const stats = expectStats(await strict.run(pathTask('detect.csv'), makeContext().ctx));
    expect(stats.delimiter).toBe(delimiter);
    expect(stats.columns).toBe(text.split('\n')[0]!.split(delimiter).length);
  }, 15_000);
});
