/**
 * Piscina entry point: computes the statistics of one file per task. Loaded by path from
 * dist/ (see pool.ts); must not import @spindle/sdk at run time (startup cost per thread).
 * Aborting a task terminates this thread (piscina replaces it), so there is no abort
 * handling here: the file handle closes with the thread.
 */
import { constants, promises as fs } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import { getErrorMessage, isStatsError, StatsError } from '../errors';
import { StatsEngine, type FileStats } from '../stats/engine';
import type {
  StatsFileRequest,
  StatsThreadProgress,
  StatsThreadRequest,
  StatsThreadResponse,
} from './protocol';

export default async function statsThread(request: StatsThreadRequest): Promise<StatsThreadResponse> {
  const port = request.progressPort;
  try {
    switch (request.type) {
      case 'stats-file':
        return { type: 'ok', stats: await statsOfFile(request, port) };
      default: {
        const unknown: never = request.type;
        return { type: 'error', code: 'INTERNAL', message: `unknown request type ${String(unknown)}` };
      }
    }
  } catch (err) {
    if (isStatsError(err)) {
      return { type: 'error', code: err.code, message: `${request.source}: ${err.message}` };
    }
    return { type: 'error', code: 'INTERNAL', message: `${request.source}: ${getErrorMessage(err)}` };
  } finally {
    port.close();
  }
}

async function statsOfFile(request: StatsFileRequest, port: MessagePort): Promise<FileStats> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(request.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new StatsError('FILE_NOT_FOUND', 'no such file');
    if (code === 'ELOOP') throw new StatsError('PATH_FORBIDDEN', 'the file was replaced by a symlink');
    if (code === 'EACCES' || code === 'EPERM') throw new StatsError('PATH_FORBIDDEN', 'permission denied');
    throw err;
  }
  const engine = new StatsEngine({
    delimiter: request.delimiter,
    noHeader: request.noHeader,
    maxRecordBytes: request.maxLineBytes,
  });
  // Two buffers: the next read runs in libuv's pool while this thread parses the current one.
  const buffers = [Buffer.allocUnsafe(request.chunkBytes), Buffer.allocUnsafe(request.chunkBytes)];
  let next: Promise<{ bytesRead: number }> | null = null;
  try {
    const stat = await handle.stat({ bigint: true });
    if (stat.dev.toString() !== request.dev || stat.ino.toString() !== request.ino) {
      throw new StatsError('PATH_FORBIDDEN', 'the file changed between the path check and the open');
    }
    let position = 0;
    let current = 0;
    next = handle.read(buffers[current]!, 0, request.chunkBytes, position);
    for (;;) {
      const { bytesRead } = await next;
      next = null;
      if (bytesRead === 0) break;
      position += bytesRead;
      const chunk = buffers[current]!.subarray(0, bytesRead);
      current ^= 1;
      next = handle.read(buffers[current]!, 0, request.chunkBytes, position);
      engine.push(chunk);
      const progress: StatsThreadProgress = {
        type: 'progress',
        bytesDone: engine.bytes,
        rowsDone: engine.rows,
      };
      port.postMessage(progress);
    }
    return engine.end();
  } finally {
    // A read still in flight must settle before its handle closes.
    if (next !== null) await next.catch(() => undefined);
    await handle.close();
  }
}
