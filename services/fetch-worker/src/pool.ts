import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { restoreHeapFlags } from './heap-governor';
import type { TaskError } from '@spindle/sdk';
import {
  CANCEL,
  FORGET,
  CLOSE,
  CLOSED,
  decodeDone,
  encodeStart,
  PROGRESS,
  START,
  type FetchThreadConfig,
  type FetchThreadResult,
  type FromThreadMessage,
  type ThreadTask,
  type ToThreadMessage,
} from './threads/protocol';

/** The compiled thread entry, resolved next to the compiled pool. */
export const FETCH_THREAD_FILENAME = path.join(__dirname, 'threads', 'fetch-thread.js');

/**
 * How long messages to a thread that already has downloads queued may wait to
 * be sent together, in ms. Such a thread has work until then, so batching
 * costs it nothing, and it saves a cross-thread message (~30 µs measured on
 * this path) per tiny download. Messages to a thread with a free slot go out
 * at the end of the current event-loop turn.
 */
const BATCH_DELAY_MS = 2;

/** Young generation size of a fetch thread's V8 heap, in MiB. */
const THREAD_YOUNG_GENERATION_MB = 4;

/**
 * Old generation cap of a fetch thread's V8 heap, in MiB. A thread's live heap is
 * ~9 MiB (undici, its queue, the running downloads; bodies live outside the heap),
 * but without a cap V8 sizes the heap by the machine's memory and lets each
 * thread's old generation grow between full collections. Measured with
 * bench/downloads/memory.sh (3–10 rounds of W1, W1, W2, W2, W3, W3 through one
 * worker): the worker's high-water mark 186–218 MiB uncapped, 169–176 MiB with a
 * cap of 32, 48 or 64 MiB, W1 and W3 as fast. A thread that outgrew it would be
 * replaced and its downloads retried (see #exited).
 */
const THREAD_OLD_GENERATION_MB = 48;

/** Options of {@link FetchThreadPool}. */
export interface FetchThreadPoolOptions {
  /**
   * Number of threads, all started at once and kept (their HTTP connections
   * stay warm); at most `concurrency` of them, as a thread without a slot
   * would never run a download.
   */
  threads: number;
  /** Downloads running at once over all threads, exactly (see {@link threadShares}). */
  concurrency: number;
  /**
   * Most open connections per origin in each thread's HTTP agent.
   * @default the thread's share of `concurrency`
   */
  connectionsPerOrigin?: number;
  /** Given to every thread as `workerData`, with its own share of `concurrency`. */
  threadConfig: Omit<FetchThreadConfig, 'concurrency' | 'connectionsPerOrigin'>;
  /** Errors of a thread that are not tied to a task (a crashed thread is also reported here). */
  onError: (err: Error) => void;
}

/** Callbacks of one download started on the pool. */
export interface ThreadTaskCallbacks {
  onProgress(bytesDone: number, bytesTotal: number): void;
  /** Exactly once. */
  onDone(outcome: FetchThreadResult): void;
}

/** A download for the pool: the task and its own callbacks (see {@link FetchThreadPool.start}). */
export interface PendingThreadTask extends ThreadTaskCallbacks {
  readonly task: ThreadTask;
}

interface FetchThread {
  worker: Worker;
  /** Downloads this thread runs at once (its share); what it is given beyond that waits in its queue. */
  concurrency: number;
  tasks: Map<number, PendingThreadTask>;
  outbox: ToThreadMessage[];
  /** A flush is scheduled: at the end of this turn (immediate) or after BATCH_DELAY_MS (timer). */
  flushImmediate: NodeJS.Immediate | null;
  flushTimer: NodeJS.Timeout | null;
  /** Resolves when the thread answered 'closed' or exited. */
  closed: Promise<void>;
  markClosed: () => void;
}

/**
 * How many downloads each thread runs at once so that together they run
 * exactly `concurrency`: the floor of an even split, plus one on the first
 * `concurrency % threads` threads (5 over 2: [3, 2]). With fewer slots than
 * threads, only `concurrency` threads of one slot each (1 over 2: [1]): a
 * thread with no slot would hold whatever it is given forever.
 *
 * The limit is the sum of the threads' own limits, not a count kept on the
 * main thread, so that a thread still queues downloads beyond its share and
 * starts the next one the moment one ends, without a round trip to the main
 * thread per download (what keeps thousands of tiny files per second cheap).
 * Shares of ceil(concurrency / threads) each would run up to `threads - 1`
 * more than `concurrency` (3 over 2: 4 at once).
 */
export function threadShares(concurrency: number, threads: number): number[] {
  const n = Math.min(threads, concurrency);
  const base = Math.floor(concurrency / n);
  const extra = concurrency % n;
  return Array.from({ length: n }, (_, i) => base + (i < extra ? 1 : 0));
}

/**
 * The fetch threads: plain worker_threads Workers, each running many downloads
 * at once. Not piscina: a piscina task is one promise, one MessageChannel for
 * cancellation and one postMessage each way per download, and aborting it
 * kills the thread with every other download on it. Here downloads are
 * multiplexed by id over each thread's own port, and messages are batched per
 * event-loop turn in both directions (see threads/protocol.ts), which is what
 * keeps the per-file cost of thousands of tiny downloads low.
 *
 * A thread that dies fails its downloads with a retryable INTERNAL error
 * (their temporary files are removed here) and is replaced.
 */
export class FetchThreadPool {
  readonly #options: FetchThreadPoolOptions;
  readonly #threads: FetchThread[] = [];
  #nextId = 1;
  #closing = false;

  constructor(options: FetchThreadPoolOptions) {
    this.#options = options;
    for (const share of threadShares(options.concurrency, options.threads)) this.#threads.push(this.#spawn(share));
  }

  /** Downloads running on each thread (for tests and metrics). */
  get load(): number[] {
    return this.#threads.map((t) => t.tasks.size);
  }

  /**
   * Starts a download on the thread with the most free slots, or with the
   * shortest queue when every slot is taken (shares may differ by one, so the
   * count of tasks alone would favour the smaller share); returns its id (for
   * {@link cancel}). `pending` is kept as it is until its `onDone`: the caller's
   * own record of the download, so that none is made here per download.
   */
  start(pending: PendingThreadTask): number {
    let best = this.#threads[0]!;
    for (const t of this.#threads) if (t.tasks.size - t.concurrency < best.tasks.size - best.concurrency) best = t;
    const id = this.#nextId++;
    best.tasks.set(id, pending);
    this.#send(best, encodeStart(id, pending.task, this.#options.threadConfig.limits));
    return id;
  }

  /** Asks the thread running download `id` to stop it; its onDone follows once it cleaned up. */
  cancel(id: number, reason: string): void {
    for (const t of this.#threads) {
      if (t.tasks.has(id)) {
        this.#send(t, [CANCEL, id, reason]);
        return;
      }
    }
  }

  /** Asks every thread to remove the partial body kept under `tempStem` in `outputDir`, if it kept one. */
  forget(outputDir: string, tempStem: string): void {
    for (const t of this.#threads) this.#send(t, [FORGET, outputDir, tempStem]);
  }

  /**
   * Closes the threads: each removes the partial bodies it kept, closes its
   * connections and exits; threads still busy after `timeoutMs` are
   * terminated. Cancel running downloads first.
   */
  async close(timeoutMs: number): Promise<void> {
    this.#closing = true;
    for (const t of this.#threads) this.#send(t, [CLOSE]);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    try {
      await Promise.race([Promise.all(this.#threads.map((t) => t.closed)), deadline]);
    } finally {
      clearTimeout(timer);
    }
    await Promise.all(this.#threads.map((t) => t.worker.terminate()));
  }

  #spawn(concurrency: number): FetchThread {
    const workerData: FetchThreadConfig = {
      ...this.#options.threadConfig,
      concurrency,
      connectionsPerOrigin: this.#options.connectionsPerOrigin ?? concurrency,
    };
    const worker = new Worker(FETCH_THREAD_FILENAME, {
      workerData,
      // A small young generation: these threads allocate little JS, and frequent
      // scavenges free dead socket buffers early (see GC_EVERY_BYTES in the
      // thread). Measured on W1 (2,000 × 64 KiB): 16 MiB → ~240 MiB worker RSS,
      // 4 MiB → ~200 MiB, at the same speed.
      resourceLimits: {
        maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB,
        maxOldGenerationSizeMb: THREAD_OLD_GENERATION_MB,
      },
    });
    let markClosed!: () => void;
    const thread: FetchThread = {
      worker,
      concurrency,
      tasks: new Map(),
      outbox: [],
      flushImmediate: null,
      flushTimer: null,
      closed: new Promise<void>((resolve) => (markClosed = resolve)),
      markClosed: () => markClosed(),
    };
    // Starting a thread put V8's flags back to the command line's.
    worker.once('online', restoreHeapFlags);
    worker.on('message', (batch: FromThreadMessage[]) => this.#receive(thread, batch));
    worker.on('error', (err) => this.#options.onError(err));
    worker.on('exit', (code) => this.#exited(thread, code));
    return thread;
  }

  #receive(thread: FetchThread, batch: FromThreadMessage[]): void {
    for (const m of batch) {
      if (m[0] === PROGRESS) {
        thread.tasks.get(m[1])?.onProgress(m[2], m[3]);
      } else if (m[0] === CLOSED) {
        thread.markClosed();
      } else {
        const pending = thread.tasks.get(m[1]);
        if (pending === undefined) continue;
        thread.tasks.delete(m[1]);
        pending.onDone(decodeDone(m, pending.task.url));
      }
    }
  }

  #exited(thread: FetchThread, code: number): void {
    thread.markClosed();
    const orphans = [...thread.tasks.values()];
    thread.tasks.clear();
    const index = this.#threads.indexOf(thread);
    if (!this.#closing) {
      this.#options.onError(new Error(`fetch thread exited unexpectedly (code ${code}); replacing it`));
      if (index >= 0) this.#threads[index] = this.#spawn(thread.concurrency);
    }
    const { dataRoot } = this.#options.threadConfig;
    for (const p of orphans) {
      // The thread cannot clean up after itself any more; its temporary file is known here.
      const t = p.task;
      fs.rm(path.join(dataRoot, t.outputDir, `${t.tempStem}.${t.attempt}.part`), { force: true }, () => {});
      p.onDone({
        type: 'error',
        error: threadLost(t.url, this.#closing ? 'the worker is shutting down' : `fetch thread exited (code ${code})`),
      });
    }
  }

  #send(thread: FetchThread, message: ToThreadMessage): void {
    thread.outbox.push(message);
    if (thread.flushImmediate !== null) return;
    // `tasks` counts this message's download already: more than `concurrency` means the
    // thread has queued work and will not idle while this waits to be batched.
    const busy = message[0] === START && thread.tasks.size > thread.concurrency;
    if (busy && !this.#closing) {
      thread.flushTimer ??= setTimeout(() => this.#flush(thread), BATCH_DELAY_MS);
      return;
    }
    // After this turn's I/O callbacks: everything that arrived together goes in one message.
    thread.flushImmediate = setImmediate(() => this.#flush(thread));
  }

  #flush(thread: FetchThread): void {
    if (thread.flushTimer !== null) clearTimeout(thread.flushTimer);
    if (thread.flushImmediate !== null) clearImmediate(thread.flushImmediate);
    thread.flushTimer = null;
    thread.flushImmediate = null;
    const batch = thread.outbox;
    thread.outbox = [];
    if (batch.length > 0) thread.worker.postMessage(batch);
  }
}

function threadLost(url: string, why: string): TaskError {
  return {
    code: why.includes('shutting down') ? 'CANCELLED' : 'INTERNAL',
    message: `GET ${url}: ${why}`,
    retryable: true,
    httpStatus: 0,
    retryAfterMs: 0,
    attempts: 0,
  };
}
