import { StatsError, type StatsErrorCode } from '../errors';
import { StatsEngine, type FileState, type FileStats } from '../stats/engine';
import type { EngineLimits } from '../stats/limits';

/** One byte range of a file to parse: records that start in [start, end). */
export interface RangeSpec {
  /** Position in the file, from 0. */
  index: number;
  start: number;
  end: number;
  /**
   * True when `start` is an arbitrary offset: the range guesses its first record start.
   * False when `start` is known to be a record start (the first range; a range parsed again).
   */
  guess: boolean;
}

/** What parsing a range gives. `firstRecord` is where it began (its guess, or `start`). */
export type RangeOutcome =
  | { ok: true; firstRecord: number; stop: number; state: FileState }
  | { ok: false; firstRecord: number; code: StatsErrorCode; message: string };

/**
 * Cuts the data of a file, `[dataStart, size)`, into ranges for `threads` threads: one range
 * when the data is smaller than 2 × `minRangeBytes`, else a multiple of `threads` ranges of
 * about `rangeBytes` each (so that the threads finish a file together).
 */
export function planRanges(
  dataStart: number,
  size: number,
  threads: number,
  rangeBytes: number,
  minRangeBytes: number,
): RangeSpec[] {
  const data = Math.max(0, size - dataStart);
  let count = 1;
  if (data >= 2 * minRangeBytes && threads > 1) {
    count = threads * Math.ceil(data / (threads * rangeBytes));
    count = Math.min(count, Math.floor(data / minRangeBytes));
  }
  const ranges: RangeSpec[] = [];
  for (let k = 0; k < count; k++) {
    const start = dataStart + Math.round((k * data) / count);
    const end = k === count - 1 ? size : dataStart + Math.round(((k + 1) * data) / count);
    ranges.push({ index: k, start, end, guess: k > 0 });
  }
  return ranges;
}

/**
 * Runs the ranges of a split file and merges their states in file order, correct whatever
 * the ranges guessed.
 *
 * All ranges start at once (`run` queues them on the thread pool). Range 0 starts at a known
 * record start; every later range guessed its first record. Going through the ranges in order,
 * the true start of range k is where range k−1 stopped (the first record start at or after
 * its end); when range k's guess differs — its start fell inside a quoted field that holds
 * line breaks, say — range k is parsed again from the true start. A range's error only counts
 * once its start is confirmed, since a wrong guess can make good data look malformed.
 *
 * `base` is the state of the file's header (columns named, no rows). Returns the statistics
 * and how many ranges had to be parsed again. States are folded into live profiles as they
 * are confirmed, so the main thread holds at most the states of ranges that finished before
 * an earlier one (fewer than the threads, as the pool runs ranges in order).
 *
 * @throws StatsError for the first confirmed error in file order
 */
export async function runRanges(
  ranges: readonly RangeSpec[],
  base: FileState,
  limits: EngineLimits,
  run: (range: RangeSpec) => Promise<RangeOutcome>,
): Promise<{ stats: FileStats; reparsed: number }> {
  const pending = ranges.map((range) => run(range));
  // Rejections (cancellation, a dead thread) are awaited in order below; until then, keep
  // them from being reported as unhandled.
  for (const p of pending) p.catch(() => undefined);
  const merger = StatsEngine.merger(limits);
  merger.add(base);
  let expected = ranges[0]?.start ?? 0;
  let reparsed = 0;
  for (let k = 0; k < ranges.length; k++) {
    const range = ranges[k]!;
    let outcome = await pending[k]!;
    if (outcome.firstRecord !== expected) {
      reparsed++;
      outcome =
        expected >= range.end
          ? { ok: true, firstRecord: expected, stop: expected, state: { rows: 0, raggedRows: 0, bytes: 0, columns: null } }
          : await run({ index: range.index, start: expected, end: range.end, guess: false });
    }
    if (!outcome.ok) throw new StatsError(outcome.code, outcome.message);
    merger.add(outcome.state);
    expected = outcome.stop;
  }
  return { stats: merger.finalize(), reparsed };
}
