import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TaskContext, TaskOutcome, TaskProgressUpdate } from '@spindle/runtime';
import type { StatsResult, StatsTask, TaskError } from '@spindle/sdk';

// The executor is loaded from the compiled package through Node's own require, exactly as a
// deployment runs it: piscina starts threads from dist/threads/stats-thread.js next to it.
// (Build first: `npx tsc -b services/stats-worker`.)
const nodeRequire = createRequire(__filename);
export const statsWorker = nodeRequire('../dist/index.js') as typeof import('../src/index');

/** A fresh temporary data root; remove it with `cleanup`. */
export async function makeDataRoot(): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'spindle-stats-')));
  return { root, cleanup: () => fs.rm(root, { recursive: true, force: true }) };
}

/** A task context whose progress updates are recorded. */
export function makeContext(signal: AbortSignal = new AbortController().signal): {
  ctx: TaskContext;
  progress: TaskProgressUpdate[];
} {
  const progress: TaskProgressUpdate[] = [];
  return {
    ctx: { taskId: 'task-1', attempt: 1, jobId: 'job-1', signal, progress: (u) => void progress.push(u) },
    progress,
  };
}

export function pathTask(p: string, dialect?: StatsTask['dialect']): StatsTask {
  return { source: { source: { $case: 'path', value: p } }, dialect };
}

export function expectStats(outcome: TaskOutcome): StatsResult {
  if (outcome.$case !== 'stats') throw new Error(`expected stats, got ${JSON.stringify(outcome)}`);
  return outcome.value;
}

export function expectError(outcome: TaskOutcome): TaskError {
  if (outcome.$case !== 'error') throw new Error(`expected an error, got ${JSON.stringify(outcome)}`);
  return outcome.value;
}

/** A promise with its resolve function outside. */
export function defer<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** xorshift32: deterministic pseudo-random numbers in [0, 1), so failures reproduce. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}
