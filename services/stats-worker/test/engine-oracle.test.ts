import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskExecutor } from '@spindle/runtime';
import type { StatsResult, StatsTask } from '@spindle/sdk';
import { expectStats, makeContext, makeDataRoot, pathTask, seededRandom, statsWorker } from './helpers';

// danfojs-node is the independent oracle: its own CSV parser (papaparse) and Series statistics,
// on a file small enough for it. It is slow to load, hence the generous hook timeout.
type Danfo = typeof import('danfojs-node');
const danfo = createRequire(__filename)('danfojs-node') as Danfo;

const ROWS = 4000;
// Exact budgets large enough for every column of these files, so the oracle can check exact values.
const LIMITS = { exactQuantileValues: 8 * ROWS, exactDistinctValues: 8 * ROWS, maxColumns: 64 };
const NUMERIC = ['id', 'gauss', 'ints', 'sci', 'big', 'tiny', 'quoted'] as const;

let root: string;
let cleanup: () => Promise<void>;
const executors: Array<TaskExecutor<StatsTask>> = [];

/** A CSV with random numeric columns of several shapes and one text column. */
function generateCsv(seed: number, lineEnd: string): string {
  const random = seededRandom(seed);
  const gauss = (): number => {
    // Box-Muller, from two uniforms in (0, 1].
    const u = 1 - random();
    const v = random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const lines = [`${NUMERIC.join(',')},label`];
  for (let i = 0; i < ROWS; i++) {
    lines.push(
      [
        i,
        gauss().toFixed(6),
        Math.floor(random() * 2_000_001) - 1_000_000,
        (random() * 1e-3 - 5e-4).toExponential(4),
        (random() * 1e9 - 2e8).toFixed(3),
        (random() * 1e-6).toPrecision(17),
        `"${(random() * 100).toFixed(2)}"`,
        random() < 0.1 ? `"cat, ${i % 7}"` : `cat${i % 7}`,
      ].join(','),
    );
  }
  return lines.join(lineEnd) + lineEnd;
}

function relativeError(actual: number, expected: number): number {
  if (actual === expected) return 0;
  return Math.abs(actual - expected) / Math.max(Math.abs(expected), Number.MIN_VALUE);
}

async function danfoStats(file: string): Promise<Map<string, Record<string, number>>> {
  const df = await danfo.readCSV(file);
  const out = new Map<string, Record<string, number>>();
  for (const name of NUMERIC) {
    // danfo's typings give column() no precise return type; it is a Series here.
    const series = df.column(name);
    out.set(name, {
      count: series.values.length,
      sum: Number(series.sum()),
      mean: Number(series.mean()),
      std: Number(series.std()),
      min: Number(series.min()),
      max: Number(series.max()),
      median: Number(series.median()),
      distinct: Number(series.nUnique()),
    });
  }
  return out;
}

function compare(result: StatsResult, oracle: Map<string, Record<string, number>>): void {
  expect(result.rows).toBe(ROWS);
  expect(result.columns).toBe(NUMERIC.length + 1);
  for (const name of NUMERIC) {
    const column = result.columnStats.find((c) => c.name === name);
    const expected = oracle.get(name)!;
    expect(column?.numeric, name).toBe(true);
    expect(column!.count, name).toBe(expected.count);
    expect(column!.nulls, name).toBe(0);
    // 4000 rows: under the exact budget, so medians are exact and distinct counts too.
    expect(column!.quantilesExact, name).toBe(true);
    expect(column!.distinctExact, name).toBe(true);
    expect(column!.distinct, `${name}.distinct`).toBe(expected.distinct);
    for (const key of ['mean', 'std', 'min', 'max', 'median'] as const) {
      const message = `${name}.${key}: ${column![key]} vs ${expected[key]}`;
      expect(relativeError(column![key], expected[key]!), message).toBeLessThan(1e-9);
    }
    // danfo's sum is a plain running sum; ours is compensated, so allow the naive sum's error.
    const magnitude = Math.max(Math.abs(column!.min), Math.abs(column!.max));
    const sumTolerance = Math.max(1e-9 * Math.abs(expected.sum!), 1e-9 * ROWS * magnitude);
    expect(Math.abs(column!.sum - expected.sum!), `${name}.sum`).toBeLessThanOrEqual(sumTolerance);
  }
  const label = result.columnStats.find((c) => c.name === 'label');
  // By hand: cat0..cat6 and "cat, 0".."cat, 6" → 14 values of 4 and 6 characters.
  expect(label).toMatchObject({ numeric: false, count: ROWS, distinct: 14, distinctExact: true, minLength: 4, maxLength: 6 });
}

beforeAll(async () => {
  ({ root, cleanup } = await makeDataRoot());
}, 30_000);

afterAll(async () => {
  await Promise.all(executors.map((e) => e.close()));
  await cleanup?.();
});

describe('engine against danfojs-node as an oracle', () => {
  it.each([
    ['LF, default 1 MiB reads', 1, '\n', 1024 * 1024],
    ['CRLF, 4 KiB reads (many chunk boundaries)', 2, '\r\n', 4096],
    ['LF, 777-byte reads', 3, '\n', 777],
  ])('matches danfo per-column count/mean/std/min/max/sum (%s)', async (_, seed, lineEnd, readChunkBytes) => {
    const name = `oracle-${seed}.csv`;
    await fs.writeFile(path.join(root, name), generateCsv(seed, lineEnd));
    const executor = statsWorker.createStatsExecutor({ dataRoot: root, threads: 1, readChunkBytes, limits: LIMITS });
    executors.push(executor);
    const result = expectStats(await executor.run(pathTask(name), makeContext().ctx));
    compare(result, await danfoStats(path.join(root, name)));
  }, 30_000);
});
