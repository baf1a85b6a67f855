import * as path from 'node:path';
import { Piscina } from 'piscina';
import type { FetchThreadConfig, FetchThreadResult, FetchThreadTask } from './threads/protocol';

/** The compiled thread entry; piscina loads JavaScript, so this is resolved next to the compiled pool. */
export const FETCH_THREAD_FILENAME = path.join(__dirname, 'threads', 'fetch-thread.js');

/** The fetch threads. */
export type FetchPool = Piscina<FetchThreadTask, FetchThreadResult>;

export interface FetchPoolOptions {
  /** Number of threads, all started at once and kept (their HTTP connections stay warm). */
  threads: number;
  /** Downloads one thread runs at the same time. */
  tasksPerThread: number;
  /** How long piscina's own `close()` waits for running tasks, in ms. */
  closeTimeoutMs: number;
  /** Given to every thread as `workerData`. */
  threadConfig: FetchThreadConfig;
  /** Errors of a thread that are not tied to a task (piscina's 'error' event). */
  onError: (err: Error) => void;
}

/**
 * Builds the piscina pool. Never pass an AbortSignal to `run` on it: piscina
 * kills the thread to abort a task, which would cut every other download on that
 * thread. Cancel through the task's MessagePort instead (see threads/protocol).
 */
export function createFetchPool(options: FetchPoolOptions): FetchPool {
  const pool = new Piscina<FetchThreadTask, FetchThreadResult>({
    filename: FETCH_THREAD_FILENAME,
    minThreads: options.threads,
    maxThreads: options.threads,
    idleTimeout: Infinity,
    concurrentTasksPerWorker: options.tasksPerThread,
    // Atomics.wait would block an idle thread's event loop, freezing its keep-alive
    // sockets and cleanup callbacks; these threads must always run their loop.
    atomics: 'disabled',
    recordTiming: false,
    closeTimeout: options.closeTimeoutMs,
    workerData: options.threadConfig,
  });
  pool.on('error', options.onError);
  return pool;
}
