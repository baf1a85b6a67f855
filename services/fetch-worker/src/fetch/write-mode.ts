/**
 * How a fetch thread writes streamed bodies: synchronously on the thread while
 * the file system answers fast, through libuv's thread pool otherwise.
 *
 * Why synchronous by default, measured on W2 (4 × 256 MiB from nginx on
 * 127.0.0.1, page cache): 1.01–1.05 s and 157–166 cs of worker CPU against
 * 1.17–1.23 s and 188–197 cs through the pool, and the worker's RSS during the
 * job 121 instead of ~175 MiB. A socket chunk written at once dies young and is
 * freed by the next scavenge; one waiting for a pool thread survives scavenges,
 * is promoted, and its 64 KiB buffer then waits for a full collection, which
 * V8 ran every ~100 ms per thread under that load.
 *
 * Why not always: a write to a throttled disk or a network file system can take
 * long (so can any write in a container whose memory limit counts the page
 * cache, once writeback throttles it), and a blocked thread reads none of its
 * other downloads' sockets. One synchronous write slower than the limit sends
 * the thread to the pool for {@link SLOW_WRITE_BACKOFF_MS}, then it tries again.
 */
export class WriteMode {
  readonly #limitMs: number;
  readonly #backoffMs: number;
  readonly #now: () => number;
  #poolUntil = 0;

  /**
   * @param limitMs a synchronous write slower than this switches to the pool; 0: always the pool.
   * @param now clock in ms (tests).
   */
  constructor(limitMs: number, backoffMs = SLOW_WRITE_BACKOFF_MS, now: () => number = () => performance.now()) {
    this.#limitMs = limitMs;
    this.#backoffMs = backoffMs;
    this.#now = now;
  }

  /** Whether the next write should be synchronous. */
  get sync(): boolean {
    return this.#limitMs > 0 && this.#now() >= this.#poolUntil;
  }

  /** Times a synchronous write (`write` returns what it returns); a slow one switches to the pool. */
  time<T>(write: () => T): T {
    const start = this.#now();
    try {
      return write();
    } finally {
      const end = this.#now();
      if (end - start > this.#limitMs) this.#poolUntil = end + this.#backoffMs;
    }
  }
}

/** How long a thread writes through the pool after a slow synchronous write, in ms. */
export const SLOW_WRITE_BACKOFF_MS = 10_000;
