import * as path from 'node:path';
import { Piscina } from 'piscina';
import type { StatsThreadRequest, StatsThreadResponse } from './threads/protocol';

/** Options of {@link createStatsPool}. */
export interface StatsPoolOptions {
  /** Threads, all started up front; one file per thread at a time. */
  threads: number;
  /**
   * The thread entry file.
   * @default the compiled threads/stats-thread.js next to this module
   */
  filename?: string;
}

/** The stats thread pool. */
export type StatsPool = Piscina<StatsThreadRequest, StatsThreadResponse>;

/**
 * A piscina pool of stats threads. The executor passes each task's AbortSignal to `run`:
 * piscina then terminates the thread running it and starts a new one, which is what we want
 * for CPU-bound work that cannot check a signal between chunks cheaply.
 */
export function createStatsPool(options: StatsPoolOptions): StatsPool {
  return new Piscina<StatsThreadRequest, StatsThreadResponse>({
    filename: options.filename ?? path.join(__dirname, 'threads', 'stats-thread.js'),
    minThreads: options.threads,
    maxThreads: options.threads,
    concurrentTasksPerWorker: 1,
    // Tasks beyond `threads` wait here; the worker never grants more credits than slots.
    maxQueue: Infinity,
  });
}
