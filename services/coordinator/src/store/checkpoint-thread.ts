/**
 * The WAL checkpointer's thread (see checkpointer.ts): its own connection to the
 * coordinator's database, a PASSIVE checkpoint every `intervalMs` (it never waits
 * for the writer or blocks it), closed on request.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export interface CheckpointThreadData {
  file: string;
  intervalMs: number;
}

/**
 * better-sqlite3's SqliteError loses its message when cloned to the parent
 * thread (only `code` survives): rethrow as a plain Error that keeps both.
 */
function plain<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    throw new Error(`${String(e.message)}${typeof e.code === 'string' ? ` (${e.code})` : ''}`);
  }
}

const { file, intervalMs } = workerData as CheckpointThreadData;
const db = plain(() => new Database(file, { fileMustExist: true }));
// Wait briefly rather than fail if the writer holds a lock at this moment.
db.pragma('busy_timeout = 100');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const timer = setInterval(() => plain(() => checkpoint.run()), intervalMs);

parentPort?.on('message', (m: unknown) => {
  if (m !== 'close') return;
  clearInterval(timer);
  checkpoint.run();
  db.close();
  parentPort?.close();
});
