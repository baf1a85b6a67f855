import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const GOVERNOR = path.join(__dirname, '../dist/heap-governor.js');

/**
 * A fresh node process (V8 flags are process-wide): optionally pins the young
 * generation, starts a worker thread (which resets V8's flags) and calls
 * restoreHeapFlags as the fetch pool does, then allocates objects that live
 * long enough to make V8 grow the young generation. Prints its size in MiB.
 */
async function youngGenerationAfterChurn(pin: boolean): Promise<number> {
  const script = `
    const v8 = require('node:v8');
    const { Worker } = require('node:worker_threads');
    const { pinYoungGeneration, restoreHeapFlags, serialScavenges } = require(${JSON.stringify(GOVERNOR)});
    // As startup.ts does: restoreHeapFlags must set every flag again, not only the last.
    if (${pin}) {
      pinYoungGeneration();
      serialScavenges();
    }
    const worker = new Worker('setTimeout(() => {}, 50)', { eval: true });
    worker.once('online', restoreHeapFlags);
    worker.once('exit', () => {
      const keep = [];
      for (let i = 0; i < 2e6; i++) {
        keep.push({ i, s: 'x' + i });
        if (keep.length > 20000) keep.splice(0, 10000);
      }
      const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
      process.stdout.write(String(space.space_size / 1048576));
    });
  `;
  const { stdout } = await run(process.execPath, ['-e', script], { timeout: 30_000 });
  return Number(stdout);
}

describe('pinYoungGeneration', () => {
  it('keeps the young generation at its start-up size, also after a worker thread started', async () => {
    const [free, pinned] = await Promise.all([youngGenerationAfterChurn(false), youngGenerationAfterChurn(true)]);
    // Unpinned, V8 grows it under this load (to 16 MiB semi-spaces by default)…
    expect(free).toBeGreaterThanOrEqual(8);
    // …pinned, it stays at 1 MiB semi-spaces.
    expect(pinned).toBeGreaterThan(0);
    expect(pinned).toBeLessThanOrEqual(2);
  }, 60_000);
});
