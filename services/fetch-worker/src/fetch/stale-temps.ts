import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The names the fetch worker gives its temporary files (see DownloadJob.tempStem):
 * `.<name>.<task>.<attempt>.part` while a body is written, `.<name>.<task>.resume`
 * and `….resume.json` for a partial body kept for the next attempt.
 */
const TEMP_NAME = /^\..+\.(?:\d+\.part|resume|resume\.json)$/;

/**
 * Temporary files are removed on failure, on cancellation and when a worker shuts
 * down; one that was killed (OOM, SIGKILL, a lost node) leaves its `.part` and
 * `.resume` files behind, and no worker remembers them. So the first time a thread
 * writes into a folder it removes the temporary files there that nothing has
 * written to for this long: a download still running writes its file with every
 * chunk (and the idle timeout ends one that stops), and a kept partial body is
 * claimed within the resume time-to-live or not at all (the limit stays an hour
 * above that time-to-live, see {@link staleTempMs}).
 */
export const STALE_TEMP_MS = 6 * 3600_000;

/** The sweep's age limit for a worker whose kept bodies wait `resumeTtlMs` to be claimed. */
export function staleTempMs(resumeTtlMs: number): number {
  return Math.max(STALE_TEMP_MS, resumeTtlMs + 3600_000);
}

/**
 * Removes the fetch worker's temporary files in `dir` last modified more than
 * `olderThanMs` ago (never anything else, never a folder or a link); returns how
 * many. Never throws: a file that vanished or cannot be removed is left to the
 * next sweep.
 */
export async function sweepStaleTemps(dir: string, olderThanMs = STALE_TEMP_MS, now = Date.now()): Promise<number> {
  let removed = 0;
  try {
    // Streamed, not readdir(): a folder of a million files must not need its whole
    // listing in a fetch thread's small heap (readdir of 750,000 names ran one out).
    for await (const entry of await fs.promises.opendir(dir, { bufferSize: 256 })) {
      if (!entry.isFile() || !TEMP_NAME.test(entry.name)) continue;
      const file = path.join(dir, entry.name);
      try {
        const st = await fs.promises.lstat(file);
        if (!st.isFile() || now - st.mtimeMs < olderThanMs) continue;
        await fs.promises.unlink(file);
        removed++;
      } catch {
        // Claimed, finished or removed by another worker meanwhile.
      }
    }
  } catch {
    // No such folder, or it went away meanwhile: nothing (more) to sweep.
  }
  return removed;
}
