import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CheckpointThreadData } from './checkpoint-thread';

/** The compiled thread entry, next to this compiled module. */
const THREAD_FILENAME = path.join(__dirname, 'checkpoint-thread.js');

/**
 * Copies the write-ahead log back into the database file on a thread of its
 * own, so that the coordinator's event loop never waits for it. SQLite's
 * automatic checkpoint runs inside the COMMIT that crosses 1,000 WAL pages, on
 * the caller's thread, with an fsync: measured on 5,000 one-byte downloads (the
 * database on ext4), commits then took 0.8 ms each on average and up to 15 ms,
 * ~40% of the coordinator's event-loop time in SQLite; without it 0.45 ms and
 * at most 4 ms. The caller raises the automatic checkpoint's threshold so it
 * becomes a backstop, and lowers it again if this thread fails.
 */
export class Checkpointer {
  private readonly worker: Worker;
  private closing = false;

  constructor(file: string, intervalMs: number, onFailure: (err: Error) => void) {
    const data: CheckpointThreadData = { file, intervalMs };
    this.worker = new Worker(THREAD_FILENAME, { workerData: data, resourceLimits: { maxOldGenerationSizeMb: 16 } });
    // Never keeps the process alive by itself.
    this.worker.unref();
    this.worker.on('error', (err) => onFailure(err));
    this.worker.on('exit', (code) => {
      if (!this.closing) onFailure(new Error(`WAL checkpoint thread exited (code ${code})`));
    });
  }

  /** Asks the thread to run a last checkpoint, close its connection and exit. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.worker.postMessage('close');
  }
}
