import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskExecutor } from '@spindle/runtime';
import type { StatsTask } from '@spindle/sdk';
import {
  defer,
  expectError,
  expectStats,
  makeContext,
  makeDataRoot,
  pathTask,
  statsWorker,
} from './helpers';

const { createStatsExecutor } = statsWorker;
// ColumnType values (the SDK enum), spelled out to keep the expectations readable.
const INTEGER = 1;
const FLOAT = 2;
const STRING = 3;

let root: string;
let cleanup: () => Promise<void>;
let outside: { root: string; cleanup: () => Promise<void> };
let executor: TaskExecutor<StatsTask>;

async function write(name: string, content: string | Buffer): Promise<string> {
  const file = path.join(root, name);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, content);
  return name;
}

/** Writes a CSV of about `mib` MiB of complete rows. */
async function writeBigFile(name: string, mib: number): Promise<string> {
  const rows: string[] = [];
  for (let i = 0; i < 20_000; i++) rows.push(`${i},${(i * 0.731).toFixed(3)},label${i % 10}\n`);
  const block = Buffer.from(rows.join(''));
  const handle = await fs.open(path.join(root, name), 'w');
  try {
    await handle.write('id,v,label\n');
    for (let written = 0; written < mib * 1024 * 1024; written += block.length) await handle.write(block);
  } finally {
    await handle.close();
  }
  return name;
}

beforeAll(async () => {
  ({ root, cleanup } = await makeDataRoot());
  outside = await makeDataRoot();
  await fs.mkdir(path.join(root, 'a-directory'));
  executor = createStatsExecutor({ dataRoot: root, threads: 2 });
});

afterAll(async () => {
  await executor?.close();
  await cleanup?.();
  await outside?.cleanup();
});

describe('stats executor (real piscina pool)', () => {
  it('has as many slots as threads', () => {
    expect(executor.slots).toBe(2);
    const other = createStatsExecutor({ dataRoot: root });
    expect(other.slots).toBe(2);
    return other.close();
  });

  it('computes a three-row file matching hand-computed statistics', async () => {
    // a: 1, 2, 4 → sum 7, mean 7/3, M2 = (4/3)² + (1/3)² + (5/3)² = 42/9, variance 7/3.
    // b: 0.5, 1.5, 4 → sum 6, mean 2, M2 = 2.25 + 0.25 + 4 = 6.5, variance 3.25.
    const text = 'a,b,c\n1,0.5,x\n2,1.5,y\n4,4,z\n';
    const name = await write('three.csv', text);
    const { ctx, progress } = makeContext();
    const stats = expectStats(await executor.run(pathTask(name), ctx));
    expect(stats).toMatchObject({ source: name, rows: 3, columns: 3, bytes: text.length, raggedRows: 0 });
    expect(stats.durationMs).toBeGreaterThanOrEqual(0);
    const [a, b, c] = stats.columnStats;
    expect(a).toMatchObject({ name: 'a', type: INTEGER, count: 3, nulls: 0, sum: 7, min: 1, max: 4, numeric: true });
    expect(a!.mean).toBeCloseTo(7 / 3, 12);
    expect(a!.std).toBeCloseTo(Math.sqrt(7 / 3), 12);
    expect(b).toMatchObject({ name: 'b', type: FLOAT, count: 3, sum: 6, mean: 2, min: 0.5, max: 4 });
    expect(b!.std).toBeCloseTo(Math.sqrt(3.25), 12);
    expect(c).toMatchObject({ name: 'c', type: STRING, count: 3, nulls: 0, sum: 0, mean: 0, std: 0, min: 0, max: 0, numeric: false });
    expect(progress.at(-1)).toEqual({ bytesDone: text.length, bytesTotal: text.length, rowsDone: 3 });
  }, 15_000);

  it('accepts an absolute path inside the data root', async () => {
    const name = await write('abs/one.csv', 'v\n5\n');
    const stats = expectStats(await executor.run(pathTask(path.join(root, name)), makeContext().ctx));
    expect(stats.source).toBe(path.join(root, name));
    expect(stats.columnStats[0]).toMatchObject({ count: 1, mean: 5 });
  }, 15_000);

  it('parses quoted fields with commas, newlines and doubled quotes, CRLF and a BOM', async () => {
    const text = '\uFEFFid,"price, EUR",note\r\n1,"1,5",plain\r\n2,"2.5","two\r\nlines"\r\n3,3.5,"say ""hi"""\r\n';
    const name = await write('quoted.csv', text);
    const stats = expectStats(await executor.run(pathTask(name), makeContext().ctx));
    expect(stats.rows).toBe(3);
    expect(stats.bytes).toBe(Buffer.byteLength(text));
    expect(stats.columnStats.map((c) => c.name)).toEqual(['id', 'price, EUR', 'note']);
    // "1,5" is not a number (decimal comma), so the column is text.
    expect(stats.columnStats[1]).toMatchObject({ type: STRING, count: 3, numeric: false });
    expect(stats.columnStats[2]).toMatchObject({ type: STRING, count: 3 });
    expect(stats.columnStats[0]).toMatchObject({ type: INTEGER, sum: 6 });
  }, 15_000);

  it('counts ragged rows without failing the file', async () => {
    const name = await write('ragged.csv', 'a,b,c\n1,2,3\n4,5\n6,7,8,9\n');
    const stats = expectStats(await executor.run(pathTask(name), makeContext().ctx));
    expect(stats).toMatchObject({ rows: 3, columns: 3, raggedRows: 2 });
    expect(stats.columnStats[2]).toMatchObject({ count: 2, nulls: 1, sum: 11 });
  }, 15_000);

  it('applies the dialect: delimiter and no_header', async () => {
    const name = await write('semi.csv', '1;2,5\n3;4,5\n');
    const stats = expectStats(await executor.run(pathTask(name, { delimiter: ';', noHeader: true }), makeContext().ctx));
    expect(stats.rows).toBe(2);
    expect(stats.columnStats.map((c) => [c.name, c.type])).toEqual([
      ['column_1', INTEGER],
      ['column_2', STRING],
    ]);
  }, 15_000);

  it('reads a file much larger than one read chunk', async () => {
    const name = await writeBigFile('big-3.csv', 3);
    const size = (await fs.stat(path.join(root, name))).size;
    const { ctx, progress } = makeContext();
    const stats = expectStats(await executor.run(pathTask(name), ctx));
    expect(stats.bytes).toBe(size);
    expect(stats.columnStats[0]).toMatchObject({ type: INTEGER, min: 0, max: 19_999 });
    const fromThread = progress.filter((p) => (p.bytesDone ?? 0) > 0);
    expect(fromThread.length).toBeGreaterThan(1);
    expect(fromThread.at(-1)).toEqual({ bytesDone: size, bytesTotal: size, rowsDone: stats.rows });
  }, 20_000);

  it('runs several files at once on its threads, each result for its own file', async () => {
    const names = await Promise.all(
      Array.from({ length: 6 }, (_, i) => write(`many/f${i}.csv`, `v\n${i}\n${i * 10}\n`)),
    );
    const outcomes = await Promise.all(names.map((n) => executor.run(pathTask(n), makeContext().ctx)));
    outcomes.forEach((outcome, i) => {
      const stats = expectStats(outcome);
      expect(stats.source).toBe(names[i]);
      expect(stats.columnStats[0]).toMatchObject({ sum: i * 11, max: i * 10 });
    });
  }, 20_000);

  describe('errors', () => {
    it('an unterminated quote is CSV_MALFORMED naming the file and byte offset', async () => {
      const name = await write('unterminated.csv', 'a,b\n1,2\n3,"oops\n4,5\n');
      const error = expectError(await executor.run(pathTask(name), makeContext().ctx));
      expect(error).toMatchObject({ code: 'CSV_MALFORMED', retryable: false });
      expect(error.message).toMatch(/^unterminated\.csv: unterminated quoted field \(byte offset 10\)/);
    }, 15_000);

    it('a binary file is CSV_MALFORMED saying it is binary', async () => {
      const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 31) % 256));
      const name = await write('image.png', bytes);
      const error = expectError(await executor.run(pathTask(name), makeContext().ctx));
      expect(error.code).toBe('CSV_MALFORMED');
      expect(error.message).toMatch(/^image\.png: binary file, not CSV text/);
    }, 15_000);

    it('a Latin-1 file is CSV_MALFORMED saying it is not UTF-8', async () => {
      const name = await write('latin1.csv', Buffer.from('name,v\ncaf\xe9,1\n', 'latin1'));
      const error = expectError(await executor.run(pathTask(name), makeContext().ctx));
      expect(error.code).toBe('CSV_MALFORMED');
      expect(error.message).toMatch(/not UTF-8 text/);
    }, 15_000);

    it('an endless line is CSV_MALFORMED once it passes maxLineBytes', async () => {
      const name = await write('endless.csv', Buffer.alloc(3 * 1024 * 1024, 0x61));
      const error = expectError(await executor.run(pathTask(name), makeContext().ctx));
      expect(error.code).toBe('CSV_MALFORMED');
      expect(error.message).toMatch(/longer than 1048576 bytes/);
    }, 15_000);

    it('a missing file is FILE_NOT_FOUND', async () => {
      const error = expectError(await executor.run(pathTask('nope/missing.csv'), makeContext().ctx));
      expect(error).toMatchObject({ code: 'FILE_NOT_FOUND', message: 'nope/missing.csv: no such file', retryable: false, httpStatus: 0 });
    }, 15_000);

    it('a ../ escape is PATH_FORBIDDEN', async () => {
      await fs.writeFile(path.join(outside.root, 'secret.csv'), 'x\n1\n');
      const relative = path.relative(root, path.join(outside.root, 'secret.csv'));
      expect(relative.startsWith('..')).toBe(true);
      const error = expectError(await executor.run(pathTask(relative), makeContext().ctx));
      expect(error.code).toBe('PATH_FORBIDDEN');
      const absolute = expectError(await executor.run(pathTask(path.join(outside.root, 'secret.csv')), makeContext().ctx));
      expect(absolute.code).toBe('PATH_FORBIDDEN');
    }, 15_000);

    it('a symlink pointing outside the data root is PATH_FORBIDDEN', async () => {
      await fs.writeFile(path.join(outside.root, 'target.csv'), 'x\n1\n');
      await fs.symlink(path.join(outside.root, 'target.csv'), path.join(root, 'link.csv'));
      const error = expectError(await executor.run(pathTask('link.csv'), makeContext().ctx));
      expect(error.code).toBe('PATH_FORBIDDEN');
      expect(error.message).toMatch(/link\.csv: resolves \(through a symlink\) outside the data root/);
    }, 15_000);

    it.each<[string, StatsTask, RegExp]>([
      ['a task without a source', {}, /no source/],
      [
        'a url source with another scheme',
        { source: { source: { $case: 'url', value: 'ftp://example.com/a.csv' } } },
        /only http and https/,
      ],
      ['a two-character delimiter', pathTask('three.csv', { delimiter: '::', noHeader: false }), /dialect\.delimiter/],
      ['a quote as delimiter', pathTask('three.csv', { delimiter: '"', noHeader: false }), /dialect\.delimiter/],
      ['a directory', pathTask('a-directory'), /is a directory/],
    ])('%s is INVALID_SPEC', async (_, task, message) => {
      const error = expectError(await executor.run(task, makeContext().ctx));
      expect(error.code).toBe('INVALID_SPEC');
      expect(error.message).toMatch(message);
    }, 15_000);
  });

  describe('cancellation', () => {
    it('cancelling a big file while it is being read gives CANCELLED, and the pool goes on working', async () => {
      const name = await writeBigFile('big-48.csv', 48);
      const cancelling = createStatsExecutor({ dataRoot: root, threads: 1, readChunkBytes: 64 * 1024 });
      try {
        const controller = new AbortController();
        const reading = defer();
        const { ctx } = makeContext(controller.signal);
        ctx.progress = (update) => {
          if ((update.bytesDone ?? 0) > 0) reading.resolve();
        };
        const outcome = cancelling.run(pathTask(name), ctx);
        await reading.promise;
        controller.abort(new Error('job cancelled by the user'));
        const error = expectError(await outcome);
        expect(error).toMatchObject({ code: 'CANCELLED', retryable: false });
        expect(error.message).toMatch(/job cancelled by the user/);

        // The terminated thread is replaced: the single-thread pool still serves tasks.
        const small = await write('after-cancel.csv', 'v\n1\n2\n');
        expect(expectStats(await cancelling.run(pathTask(small), makeContext().ctx)).rows).toBe(2);
      } finally {
        await cancelling.close();
      }
    }, 30_000);

    it('a task whose signal is already aborted is CANCELLED without running', async () => {
      const controller = new AbortController();
      controller.abort();
      const error = expectError(await executor.run(pathTask('three.csv'), makeContext(controller.signal).ctx));
      expect(error.code).toBe('CANCELLED');
    }, 15_000);

    it('close() ends running tasks as CANCELLED and refuses new ones', async () => {
      const name = await writeBigFile('big-close.csv', 24);
      const closing = createStatsExecutor({ dataRoot: root, threads: 1, readChunkBytes: 64 * 1024 });
      const reading = defer();
      const { ctx } = makeContext();
      ctx.progress = (update) => {
        if ((update.bytesDone ?? 0) > 0) reading.resolve();
      };
      const outcome = closing.run(pathTask(name), ctx);
      await reading.promise;
      await closing.close();
      expect(expectError(await outcome).code).toBe('CANCELLED');
      expect(expectError(await closing.run(pathTask('three.csv'), makeContext().ctx)).code).toBe('CANCELLED');
    }, 30_000);
  });

  it('a thread that fails unexpectedly gives a retryable INTERNAL error naming the file', async () => {
    await write('any.csv', 'v\n1\n');
    const crashing = createStatsExecutor({
      dataRoot: root,
      threads: 1,
      threadFilename: path.join(__dirname, 'fixtures', 'crashing-thread.js'),
    });
    try {
      const error = expectError(await crashing.run(pathTask('any.csv'), makeContext().ctx));
      expect(error).toMatchObject({ code: 'INTERNAL', retryable: true });
      expect(error.message).toMatch(/^any\.csv: stats thread failed: simulated thread crash/);
    } finally {
      await crashing.close();
    }
  }, 15_000);

  it('rejects invalid options', () => {
    expect(() => createStatsExecutor({ dataRoot: 'relative/path' })).toThrow(/dataRoot must be an absolute path/);
    expect(() => createStatsExecutor({ dataRoot: root, threads: 0 })).toThrow(/threads/);
    expect(() => createStatsExecutor({ dataRoot: root, maxLineBytes: -1 })).toThrow(/maxLineBytes/);
    expect(() => createStatsExecutor({ dataRoot: path.join(root, 'does-not-exist') })).toThrow(/cannot be resolved/);
  });
});
