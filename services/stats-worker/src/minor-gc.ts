import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A young-generation collection on demand, for the thread that calls it (each thread's
 * isolate gets its own `gc` when it loads this module), or null when V8 does not offer
 * one. The stats engine's tables and buffers are typed arrays whose memory lives outside
 * the V8 heap; the engine allocates so little else that no scavenge comes by to free them,
 * and V8 waits for ~64 MiB of such external memory per thread before it collects. A minor
 * GC frees the ones that died young in well under a millisecond (a major GC per task was
 * measured to cost 2–3× the throughput). `--expose-gc` cannot go in a worker's execArgv,
 * hence the flag set at run time.
 */
export const minorGc = ((): ((options: { type: 'minor' }) => void) | null => {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as (options: { type: 'minor' }) => void) : null;
  } catch {
    return null;
  }
})();
