import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultCodeCacheFile } from '../src/code-cache';
import { DEMO_DATA, isListening, parseCsv, runSpindle } from './helpers';

/** What is left in a temp folder, less the CLI's code cache (kept there on purpose). */
function leftovers(tmpdir: string): string[] {
  const codeCacheDir = path.basename(path.dirname(defaultCodeCacheFile()));
  return readdirSync(tmpdir).filter((name) => name !== codeCacheDir);
}

interface ColumnExpectation {
  mean: number;
  min: number;
  max: number;
}

/** Statistics of one demo file, computed here without any Spindle code. */
function expectedStats(file: string): { rows: number; columns: number; numeric: Map<string, ColumnExpectation> } {
  const [header = [], ...rows] = parseCsv(readFileSync(file, 'utf8'));
  const numeric = new Map<string, ColumnExpectation>();
  header.forEach((name, i) => {
    const cells = rows.map((r) => r[i] ?? '').filter((c) => c !== '');
    if (cells.length === 0 || !cells.every((c) => /^-?\d+(\.\d+)?$/.test(c))) return;
    const values = cells.map(Number);
    numeric.set(name, {
      mean: values.reduce((a, b) => a + b, 0) / values.length,
      min: Math.min(...values),
      max: Math.max(...values),
    });
  });
  return { rows: rows.length, columns: header.length, numeric };
}

function close(actual: number, expected: number): boolean {
  return Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));
}

describe('spindle demo', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'spindle-cli-demo-'));
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('runs the whole pipeline locally, writes results.csv, and leaves nothing behind', async () => {
    // A private TMPDIR shows that every temp folder the demo made is gone afterwards.
    const tmpdir = mkdtempSync(path.join(os.tmpdir(), 'spindle-cli-demo-tmp-'));
    const r = await runSpindle(['demo'], { cwd, timeoutMs: 120_000, env: { TMPDIR: tmpdir } });
    expect(leftovers(tmpdir)).toEqual([]);
    rmSync(tmpdir, { recursive: true, force: true });
    expect(r.code, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);

    const demoFiles = readdirSync(DEMO_DATA).filter((f) => f.endsWith('.csv')).sort();
    expect(demoFiles.length).toBe(8);

    // results.csv: one row per file with rows, columns and <column>_mean/_min/_max.
    const [header = [], ...rows] = parseCsv(readFileSync(path.join(cwd, 'results.csv'), 'utf8'));
    const col = (name: string): number => header.indexOf(name);
    expect(col('file')).toBeGreaterThanOrEqual(0);
    expect(rows.map((row) => path.basename(row[col('file')] ?? '')).sort()).toEqual(demoFiles);
    for (const row of rows) {
      const name = path.basename(row[col('file')] ?? '');
      const want = expectedStats(path.join(DEMO_DATA, name));
      expect(Number(row[col('rows')]), `${name} rows`).toBe(want.rows);
      expect(Number(row[col('columns')]), `${name} columns`).toBe(want.columns);
      expect(row[col('error')] ?? '', `${name} error`).toBe('');
      for (const [column, stats] of want.numeric) {
        for (const key of ['mean', 'min', 'max'] as const) {
          const i = col(`${column}_${key}`);
          expect(i, `${name}: results.csv has ${column}_${key}`).toBeGreaterThanOrEqual(0);
          const actual = Number(row[i]);
          expect(close(actual, stats[key]), `${name} ${column}_${key}: ${actual} vs ${stats[key]}`).toBe(true);
        }
      }
    }

    // The summary names every file and ends with the job's outcome.
    for (const f of demoFiles) expect(r.stdout).toContain(f);
    expect(r.stdout).toMatch(/job \S+ succeeded: 8\/8 downloads ok .*, 8\/8 files analysed ok/);
    expect(r.stdout).toContain(`results table written to ${path.join(cwd, 'results.csv')}`);

    // The coordinator is gone.
    const address = /coordinator (\d+\.\d+\.\d+\.\d+:\d+)/.exec(r.stdout)?.[1];
    expect(address).toBeDefined();
    expect(await isListening(address!)).toBe(false);
  });

  it('fails cleanly when a service cannot start: exit 1, its last log lines, nothing left behind', async () => {
    const tmpdir = mkdtempSync(path.join(os.tmpdir(), 'spindle-cli-demo-tmp-'));
    const failCwd = mkdtempSync(path.join(os.tmpdir(), 'spindle-cli-demo-fail-'));
    // An invalid worker setting the services inherit: both workers refuse to start.
    const r = await runSpindle(['demo'], {
      cwd: failCwd,
      timeoutMs: 120_000,
      env: { TMPDIR: tmpdir, SPINDLE_DRAIN_GRACE_MS: 'soon' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: the local stack did not start: (fetch|stats)-worker exited with code 1/);
    expect(r.stderr).toMatch(/--- (fetch|stats)-worker \(pid \d+, exited with code 1\), last lines:\n.*SPINDLE_DRAIN_GRACE_MS/s);
    expect(leftovers(tmpdir)).toEqual([]);
    expect(existsSync(path.join(failCwd, 'results.csv'))).toBe(false);
    rmSync(failCwd, { recursive: true, force: true });
    rmSync(tmpdir, { recursive: true, force: true });
  });
});
