import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatsResult } from '@spindle/sdk';
import { expectStats, makeContext, makeDataRoot, pathTask, seededRandom, statsWorker } from './helpers';

// The compiled modules, as the pool runs them; the thread function is called in-process here
// so that the test can count how often a range had to be parsed again.
const nodeRequire = createRequire(__filename);
const split = nodeRequire('../dist/split/split.js') as typeof import('../src/split/split');
const threadModule = nodeRequire('../dist/threads/stats-thread.js') as typeof import('../src/threads/stats-thread');
const limitsModule = nodeRequire('../dist/stats/limits.js') as typeof import('../src/stats/limits');

let root: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ root, cleanup } = await makeDataRoot());
});
afterAll(async () => {
  await cleanup?.();
});

/**
 * Rows whose quoted text fields hold line breaks (LF and CRLF), doubled quotes and whole lines
 * that look like records of the file ("7,x,8"), so a split point inside one is easy to misread.
 */
function trickyCsv(rows: number, seed: number): string {
  const random = seededRandom(seed);
  const lines = ['id,text,v'];
  for (let i = 0; i < rows; i++) {
    const r = random();
    let text: string;
    // Twelve lines that parse as good records: more than a range start's probe looks at.
    if (r < 0.25) text = `"note ${i}\n${Array.from({ length: 12 }, (_, k) => `${k},fake,${k * 2}`).join('\n')}\nend ""q"""`;
    else if (r < 0.4) text = `"crlf\r\ninside ${i}\r\n"`;
    else if (r < 0.5) text = `"a, b ""c"" d"`;
    else text = `plain${i % 9}`;
    lines.push(`${i},${text},${(random() * 1000 - 500).toFixed(3)}`);
  }
  return lines.join(random() < 2 ? '\n' : '\r\n') + '\n';
}

function expectSameStats(actual: StatsResult | import('../src/stats/engine').FileStats, expected: typeof actual): void {
  expect(actual.rows).toBe(expected.rows);
  expect(actual.bytes).toBe(expected.bytes);
  expect(actual.raggedRows).toBe(expected.raggedRows);
  actual.columnStats.forEach((c, i) => {
    const e = expected.columnStats[i]!;
    expect({ ...c, mean: 0, std: 0, sum: 0 }).toEqual({ ...e, mean: 0, std: 0, sum: 0 });
    for (const key of ['mean', 'std', 'sum'] as const) {
      expect(Math.abs(c[key] - e[key]), `${c.name}.${key}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(e[key])));
    }
  });
}

describe('splitting one file into byte ranges', () => {
  it('gives the single-pass result for every range size, re-parsing ranges whose start was misread', async () => {
    const text = trickyCsv(600, 42);
    const file = path.join(root, 'tricky.csv');
    await fs.writeFile(file, text);
    const stat = await fs.stat(file, { bigint: true });
    const limits = limitsModule.DEFAULT_ENGINE_LIMITS;
    const dataStart = text.indexOf('\n') + 1;
    const columns = ['id', 'text', 'v'];
    const run = async (range: import('../src/split/split').RangeSpec) => {
      const { port1, port2 } = new MessageChannel();
      try {
        const moved = await threadModule.default({
          type: 'stats-range',
          source: 'tricky.csv',
          path: file,
          dev: stat.dev.toString(),
          ino: stat.ino.toString(),
          range,
          columns,
          delimiter: 0x2c,
          maxLineBytes: 1 << 20,
          chunkBytes: 4096,
          limits,
          progressPort: port2,
        });
        // The thread marks its answer for transfer (Piscina.move); in-process, unwrap it.
        const response = ((moved as unknown as Record<symbol, unknown>)[Piscina.valueSymbol] ?? moved) as typeof moved;
        if (response.type !== 'range') throw new Error('expected a range response');
        return response;
      } finally {
        port1.close();
      }
    };
    const base = { rows: 0, raggedRows: 0, bytes: dataStart, columns: null };
    const single = await split.runRanges(split.planRanges(dataStart, text.length, 1, 1 << 30, 1 << 30), base, limits, run);
    expect(single.reparsed).toBe(0);
    const reference = single.stats;
    expect(reference.rows).toBe(600);
    let reparsed = 0;
    for (const rangeBytes of [61, 97, 256, 1000, 4093]) {
      const ranges = split.planRanges(dataStart, text.length, 4, rangeBytes, 16);
      expect(ranges.length).toBeGreaterThan(4);
      const result = await split.runRanges(ranges, base, limits, run);
      expectSameStats(result.stats, reference);
      reparsed += result.reparsed;
    }
    // The lookalike lines must have fooled some guesses, and the check must have caught them.
    expect(reparsed).toBeGreaterThan(0);
  }, 60_000);

  it('runs on the real pool: 2 threads with small ranges equal 1 thread without splitting', async () => {
    const random = seededRandom(5);
    const rows = ['a,b,label,when'];
    for (let i = 0; i < 20_000; i++) {
      const label = i % 7 === 0 ? `"multi\nline ${i % 5}"` : `cat${i % 11}`;
      rows.push(`${i},${(random() * 2e6 - 1e6).toFixed(4)},${label},2024-02-${String((i % 28) + 1).padStart(2, '0')}`);
    }
    await fs.writeFile(path.join(root, 'pool.csv'), rows.join('\r\n') + '\r\n');
    const one = statsWorker.createStatsExecutor({ dataRoot: root, threads: 1 });
    const two = statsWorker.createStatsExecutor({ dataRoot: root, threads: 2, rangeBytes: 16 * 1024, minRangeBytes: 4096 });
    try {
      const a = expectStats(await one.run(pathTask('pool.csv'), makeContext().ctx));
      const { ctx, progress } = makeContext();
      const b = expectStats(await two.run(pathTask('pool.csv'), ctx));
      expectSameStats(b, a);
      expect(a.columnStats.map((c) => c.type)).toEqual([1, 2, 3, 5]);
      expect(progress.at(-1)).toEqual({ bytesDone: a.bytes, bytesTotal: a.bytes, rowsDone: 20_000 });
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  }, 60_000);

  it('fails a split file with the error of the range that holds it, once that range is confirmed', async () => {
    const lines = ['a,b'];
    for (let i = 0; i < 5000; i++) lines.push(`${i},${i}`);
    lines.splice(4000, 0, '7,"unterminated');
    await fs.writeFile(path.join(root, 'bad-late.csv'), lines.join('\n') + '\n');
    const executor = statsWorker.createStatsExecutor({ dataRoot: root, threads: 2, rangeBytes: 4096, minRangeBytes: 1024 });
    try {
      const outcome = await executor.run(pathTask('bad-late.csv'), makeContext().ctx);
      expect(outcome).toMatchObject({ $case: 'error', value: { code: 'CSV_MALFORMED' } });
      expect(outcome.$case === 'error' && outcome.value.message).toMatch(/^bad-late\.csv: unterminated quoted field/);
    } finally {
      await executor.close();
    }
  }, 30_000);
});
