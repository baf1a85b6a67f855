import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ColumnStats } from '@spindle/sdk';
import { expectStats, makeContext, makeDataRoot, pathTask, seededRandom, statsWorker } from './helpers';

// A messy file in the benchmark's spirit (BOM, CRLF, empty cells, quoted numbers, quoted text
// with commas, LF, CRLF and doubled quotes, non-numbers in a numeric column, a ragged row),
// whose expected statistics are computed here from the values it was generated from.
const ROWS = 200;
let root: string;
let cleanup: () => Promise<void>;
let text = '';
const x: Array<number | null> = [];
const z: Array<number | string> = [];
const labels: string[] = [];
const flags: boolean[] = [];

beforeAll(async () => {
  ({ root, cleanup } = await makeDataRoot());
  const random = seededRandom(6006);
  const lines = ['id,x,z,label,flag,day'];
  for (let i = 0; i < ROWS; i++) {
    const xv = i % 37 === 5 ? null : Math.round(random() * 1e6) / 1e4;
    x.push(xv);
    const xCell = xv === null ? '' : i % 41 === 3 ? `"${xv}"` : String(xv);
    const zv: number | string = i === 100 ? 'abc' : i === 133 ? '12x' : i % 97 === 11 ? 'n/a' : Math.floor(random() * 1001);
    z.push(zv);
    let label = `cat${i % 10}`;
    let labelCell = label;
    if (i % 29 === 0) [label, labelCell] = [`cat${i % 10}, with comma`, `"cat${i % 10}, with comma"`];
    else if (i % 31 === 0) [label, labelCell] = [`multi\nline ${i}`, `"multi\nline ${i}"`];
    else if (i % 43 === 0) [label, labelCell] = [`crlf\r\ninside ${i}`, `"crlf\r\ninside ${i}"`];
    else if (i % 47 === 0) [label, labelCell] = ['she said "hi"', '"she said ""hi"""'];
    labels.push(label);
    const flag = random() < 0.3;
    flags.push(flag);
    const day = i === 7 ? '2024-02-29T12:30:00Z' : `2024-01-${String((i % 28) + 1).padStart(2, '0')}`;
    lines.push([i, xCell, zv, labelCell, flag ? 'true' : 'False', day].join(','));
  }
  lines.push('200,1.5'); // ragged: four cells missing
  text = '\uFEFF' + lines.join('\r\n') + '\r\n';
  await fs.writeFile(path.join(root, 'messy.csv'), text);
});

afterAll(async () => {
  await cleanup?.();
});

describe('a messy file, against values computed from its generator', () => {
  it.each([
    ['1 thread, whole file', 1, 1 << 30],
    ['2 threads, 1 KiB ranges (split points inside quoted fields)', 2, 1024],
  ])('%s', async (_, threads, rangeBytes) => {
    const executor = statsWorker.createStatsExecutor({ dataRoot: root, threads, rangeBytes, minRangeBytes: 512 });
    try {
      const stats = expectStats(await executor.run(pathTask('messy.csv'), makeContext().ctx));
      expect(stats).toMatchObject({ rows: ROWS + 1, columns: 6, raggedRows: 1, bytes: Buffer.byteLength(text), delimiter: ',' });
      const col = (name: string): ColumnStats => stats.columnStats.find((c) => c.name === name)!;

      const xs = [...x.filter((v): v is number => v !== null), 1.5];
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
      const sorted = [...xs].sort((a, b) => a - b);
      const h = (sorted.length - 1) / 2;
      const median = sorted[Math.floor(h)]! + (h - Math.floor(h)) * (sorted[Math.ceil(h)]! - sorted[Math.floor(h)]!);
      expect(col('x')).toMatchObject({ type: 2, count: xs.length, nulls: ROWS - xs.length + 1, invalid: 0, quantilesExact: true });
      expect(col('x').mean).toBeCloseTo(mean, 9);
      expect(col('x').std).toBeCloseTo(Math.sqrt(variance), 9);
      expect(col('x').median).toBeCloseTo(median, 12);
      expect(col('x').distinct).toBe(new Set(xs).size);

      const zs = z.filter((v): v is number => typeof v === 'number');
      // 4 of 200 cells are not numbers (2 %): the column stays INTEGER and counts them.
      expect(col('z')).toMatchObject({ type: 1, count: zs.length, invalid: ROWS - zs.length, nulls: 1, numeric: true });
      expect(col('z')).toMatchObject({ min: Math.min(...zs), max: Math.max(...zs), sum: zs.reduce((a, b) => a + b, 0) });

      const chars = labels.map((l) => [...l].length);
      expect(col('label')).toMatchObject({
        type: 3,
        count: ROWS,
        nulls: 1,
        distinct: new Set(labels).size,
        distinctExact: true,
        minLength: Math.min(...chars),
        maxLength: Math.max(...chars),
      });

      const trues = flags.filter(Boolean).length;
      expect(col('flag')).toMatchObject({ type: 4, count: ROWS, sum: trues, min: 0, max: 1, distinct: 2 });
      expect(col('flag').mean).toBeCloseTo(trues / ROWS, 12);

      expect(col('day')).toMatchObject({ type: 6, count: ROWS, minText: '2024-01-01', maxText: '2024-02-29T12:30:00Z' });
    } finally {
      await executor.close();
    }
  }, 30_000);
});
