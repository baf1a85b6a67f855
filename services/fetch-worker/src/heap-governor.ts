import * as v8 from 'node:v8';
import * as vm from 'node:vm';

/** Options of {@link startHeapGovernor}. */
export interface HeapGovernorOptions {
  /**
   * Heap in use (live objects plus garbage not yet collected) above which a
   * full collection is started, in bytes. Raised to 1.5 × what survives a
   * collection when the live heap itself is that large.
   * @default 80 MiB
   */
  softLimitBytes?: number;
  /** How often the heap is looked at, in ms. @default 100 */
  intervalMs?: number;
}

/**
 * A backstop on the main thread's V8 heap. The fetch worker's main thread
 * turns thousands of gRPC messages per second into short-lived objects; with
 * its young generation held small (see {@link pinYoungGeneration}) many of them
 * are promoted, and V8 collects the old generation when it has grown by a
 * factor of what survived the last full collection (2× here, see
 * {@link doubleBeforeFullCollection}: ~30 MiB around a live heap of ~15 MiB).
 * In normal operation V8 decides and this does nothing; it only starts a full
 * collection when the heap passes a limit V8's own schedule stays below.
 *
 * It must stay out of V8's way: a collection forced through `gc()` throws away
 * the optimized code of every function whose code refers to objects that died
 * (`--trace-deopt`: "weak objects"), and V8's own collections do not (they keep
 * such objects for a few collections). With this at 48 MiB and V8 then
 * collecting at ~60 MiB, it fired once or twice per 5,000-file job and each
 * time ~10 hot functions (protobuf decoders, stream and timer internals) were
 * deoptimized and compiled again: helper-thread CPU ~75 % TurboFan, the main
 * thread slower until re-optimized. At 80 MiB: no such deoptimizations over
 * 3 × W3, worker CPU per W3 run −5 to −20 % (noisy).
 * Returns a function that stops it; does nothing when V8's `gc` cannot be
 * obtained.
 */
export function startHeapGovernor(options: HeapGovernorOptions = {}): () => void {
  const gc = exposeGc();
  if (gc === null) return () => {};
  const base = options.softLimitBytes ?? 80 * 1024 * 1024;
  let limit = base;
  let collecting = false;
  const timer = setInterval(() => {
    if (collecting || v8.getHeapStatistics().used_heap_size < limit) return;
    collecting = true;
    Promise.resolve(gc({ type: 'major', execution: 'async' }))
      .catch(() => undefined)
      .finally(() => {
        collecting = false;
        limit = Math.max(base, Math.round(v8.getHeapStatistics().used_heap_size * 1.5));
      });
  }, options.intervalMs ?? 100);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Stops V8 growing the young generation past its current size, so that called
 * at start-up it stays at 1 MiB semi-spaces instead of reaching 16 MiB ones,
 * 32 MiB of RSS, under a burst of messages (a 5,000-task job does that). Over
 * 18 consecutive jobs (bench/downloads/memory.sh) the worker's high-water mark
 * went from 209 to 179 MiB in a typical run. The price: a scavenge every ~70
 * tasks promotes what is in flight, and a CPU profile of 6 × W3 showed twice
 * the main thread's GC time (581 against 268 ms, ~10 µs per task); wall and
 * CPU times of W1 and W3 did not tell the two apart on this shared machine
 * (±10 %). V8 reads --semi-space-growth-factor at each growth decision, so
 * setting it at run time works; a cap above the start-up size (grow once, then
 * hold) does not, as GC observers run too late to stop a burst from doubling
 * it twice. Starting a worker thread resets V8's flags to the command line's:
 * the fetch pool calls {@link restoreHeapFlags} once each of its threads is
 * online.
 */
export function pinYoungGeneration(): void {
  applied.add(PIN_YOUNG_GENERATION);
  v8.setFlagsFromString(PIN_YOUNG_GENERATION);
}

/**
 * Makes every isolate of the process scavenge on its own thread instead of
 * sharing each scavenge out to V8's helper threads. The worker runs three
 * isolates (main thread, two fetch threads) on a machine whose cores it shares
 * with the coordinator and the servers it downloads from; a parallel scavenge
 * then waits for helpers that are not running. --trace-gc over 3 × W3 (tmpfs):
 * scavenge pauses 2.05 → 1.59 ms on the main thread and 0.8 → 0.4 ms on the
 * fetch threads, all scavenge pauses together 133 → 86 ms a run, with no
 * helper CPU on top. End to end it is within this shared machine's noise (8
 * paired runs: W3 −13 ms, W1 −8 ms median; worker CPU on W3 −4 %). V8 reads
 * --parallel-scavenge at each
 * scavenge, so setting it at run time works (and must be set again after a
 * worker thread starts, see {@link restoreHeapFlags}).
 */
export function serialScavenges(): void {
  applied.add(NO_PARALLEL_SCAVENGE);
  v8.setFlagsFromString(NO_PARALLEL_SCAVENGE);
}

/**
 * Makes every isolate of the process start a full collection when its old
 * generation has doubled since the last one, instead of V8's own factor, which
 * for a process that may use the machine's memory goes up to 4×. The fetch
 * worker's main thread (a live heap of ~15 MiB) then collected at ~60 MiB, and
 * its deeper prefetch queue (PREFETCH_COVER_MS) made the worker peak at 189 MiB
 * in one benchmark run; at 2× it collects at ~30 MiB, once per 5,000-file job,
 * a few ms of marking, mostly on V8's helper threads. The fetch threads, whose
 * old generations are capped at 48 MiB, already grew by less than 2× (their
 * collections come at ~12 instead of ~19 MiB). V8 reads the flag after each
 * collection, so setting it at run time works (and again after a worker thread
 * starts, see {@link restoreHeapFlags}).
 */
export function doubleBeforeFullCollection(): void {
  applied.add(HEAP_GROWING_2X);
  v8.setFlagsFromString(HEAP_GROWING_2X);
}

/**
 * Sets again what {@link pinYoungGeneration}, {@link serialScavenges} and
 * {@link doubleBeforeFullCollection} set, after a worker thread started (which
 * resets V8's flags to the command line's).
 */
export function restoreHeapFlags(): void {
  for (const flag of applied) v8.setFlagsFromString(flag);
}

const PIN_YOUNG_GENERATION = '--semi-space-growth-factor=1';
const NO_PARALLEL_SCAVENGE = '--no-parallel-scavenge';
const HEAP_GROWING_2X = '--heap-growing-percent=100';
/** The flags set so far, to set again after a worker thread started. */
const applied = new Set<string>();

type GcFunction = (options: { type: 'major' | 'minor'; execution?: 'sync' | 'async' }) => unknown;

/**
 * V8's gc() without starting node with --expose-gc: the flag is set at run time
 * and the function taken from a fresh context (where V8 installs it).
 */
export function exposeGc(): GcFunction | null {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as GcFunction) : null;
  } catch {
    return null;
  }
}
