/**
 * Entry of a fetch thread (a plain worker_threads Worker, see pool.ts). Each
 * thread runs up to `concurrency` downloads at once (they are I/O bound) over
 * keep-alive undici Agents, and queues the rest of what it is given: when a
 * download ends, the next one starts right here, without a round trip to the
 * main thread. It receives batches of start/cancel messages and answers with
 * batches of done/progress messages, one postMessage per event-loop turn.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Agent } from 'undici';
import { Deadlines, download, PartialRegistry, resumeFileOf, type DownloadControl, type DownloadEnv, type DownloadJob } from '../fetch/download';
import { errorCodeOf, FetchError, fileSystemError, toTaskError } from '../fetch/error-codes';
import { exposeGc } from '../heap-governor';
import { OutputDirs } from '../fetch/output-path';
import { staleTempMs, sweepStaleTemps } from '../fetch/stale-temps';
import { EgressPolicy } from '../fetch/url-policy';
import { WriteMode } from '../fetch/write-mode';
import { ConnectTimeoutAgents } from './agents';
import {
  CANCEL,
  FORGET,
  CLOSE,
  CLOSED,
  decodeStart,
  encodeDone,
  PROGRESS,
  START,
  type FetchThreadConfig,
  type FetchThreadResult,
  type FromThreadMessage,
  type ProgressMessage,
  type ThreadTask,
  type ToThreadMessage,
} from './protocol';

const port = parentPort;
if (port === null) throw new Error('fetch-thread must run as a worker thread');
const config = readConfig(workerData);
const egress = new EgressPolicy(config);
// What killed workers left in a folder goes the first time this thread writes there.
const outputDirs = new OutputDirs(config.dataRoot, (dir) => void sweepStaleTemps(dir, staleTempMs(config.resumeTtlMs)));
const partials = new PartialRegistry(config.resumeTtlMs);
// One Agent per connect timeout (connect timeouts are per Agent in undici), the
// default's for good and a few others (see ConnectTimeoutAgents).
const agents = new ConnectTimeoutAgents(
  config.limits.connectTimeoutMs,
  (timeout) => new Agent({ connections: config.connectionsPerOrigin, connect: { timeout, lookup: egress.lookup } }),
);

const env: DownloadEnv = {
  dispatcher: (connectTimeoutMs) => agents.get(connectTimeoutMs),
  egress,
  headers: { 'user-agent': config.userAgent, accept: '*/*' },
  partials,
  deadlines: new Deadlines(),
  received: countReceived,
  writeMode: new WriteMode(config.syncWriteLimitMs),
};

/** A download this thread runs. */
interface Running {
  url: string;
  control: DownloadControl;
  done: Promise<void>;
}

/**
 * Bounds the memory held by dead socket buffers. Every socket read allocates a
 * fresh 64 KiB buffer outside the V8 heap; once hashed and written it is
 * garbage, but V8 only collects it when its own heap asks for a collection or
 * when about 64 MiB of such external memory has accumulated, per thread. On a
 * large download that is tens of MiB of RSS per thread for nothing. A young
 * generation collection every GC_EVERY_BYTES received frees them while they
 * are still young, for well under a millisecond each.
 */
const GC_EVERY_BYTES = 4 * 1024 * 1024;
const gc = exposeGc();
let receivedSinceGc = 0;

function countReceived(bytes: number): void {
  receivedSinceGc += bytes;
  if (receivedSinceGc >= GC_EVERY_BYTES && gc !== null) {
    receivedSinceGc = 0;
    gc({ type: 'minor' });
  }
}

/** Running downloads by id, to cancel them. */
const running = new Map<number, Running>();
/** Downloads given to this thread and not started yet, oldest first. */
let queue: Array<{ id: number; task: ThreadTask }> = [];
let closing = false;

let outbox: FromThreadMessage[] = [];
/**
 * The latest progress report of each running download that has not been sent
 * yet; it goes out with the next batch unless the download's result goes in
 * that batch too. Then it is dropped: it would reach the main thread together
 * with the result, when nobody forwards progress of that download any more
 * (the worker connection drops it). A download of a small file reports its
 * first progress and its result in the same turn, so this saves a message per
 * such file: measured ~0.45 µs of structured clone (this thread's serialize and
 * the main thread's deserialize, batches of 16), plus the main thread's
 * handling of the report and the connection's timer for it.
 */
const pendingProgress = new Map<number, ProgressMessage>();
let flushTimer: NodeJS.Timeout | null = null;
let flushImmediate: NodeJS.Immediate | null = null;
/**
 * How long results may wait to be batched while this thread still has queued
 * downloads, in ms. Nothing waits on them then (the next download starts here
 * at once), and batching cuts the cross-thread messages per tiny file; the
 * executor's prefetch credits cover the delay at the coordinator.
 */
const BATCH_DELAY_MS = 2;

function post(message: FromThreadMessage): void {
  outbox.push(message);
  scheduleFlush();
}

function postProgress(id: number, bytesDone: number, bytesTotal: number): void {
  pendingProgress.set(id, [PROGRESS, id, bytesDone, bytesTotal]);
  scheduleFlush();
}

function scheduleFlush(): void {
  if (flushImmediate !== null) return;
  if (queue.length === 0 || closing) {
    // Starving (or the last results): send after this turn's I/O callbacks.
    if (flushTimer !== null) {
      clearTimeout(flushTimer);
      flushTimer = null;
    }
    flushImmediate = setImmediate(flush);
  } else if (flushTimer === null) {
    flushTimer = setTimeout(flush, BATCH_DELAY_MS);
  }
}

function flush(): void {
  if (flushTimer !== null) clearTimeout(flushTimer);
  flushTimer = null;
  flushImmediate = null;
  if (pendingProgress.size > 0) {
    for (const m of pendingProgress.values()) outbox.push(m);
    pendingProgress.clear();
  }
  if (outbox.length === 0) return;
  const batch = outbox;
  outbox = [];
  port?.postMessage(batch);
}

const sweepTimer = setInterval(() => partials.sweep(), Math.max(1000, Math.min(config.resumeTtlMs / 2, 60_000)));
sweepTimer.unref();

port.on('message', (batch: ToThreadMessage[]) => {
  for (const message of batch) {
    switch (message[0]) {
      case START:
        enqueue(message[1], decodeStart(message, config.limits));
        break;
      case CANCEL: {
        const [, id, reason] = message;
        const r = running.get(id);
        if (r !== undefined) {
          stopDownload(r.control, new FetchError('CANCELLED', `GET ${r.url}: cancelled (${reason})`));
          break;
        }
        const i = queue.findIndex((q) => q.id === id);
        if (i >= 0) {
          const [q] = queue.splice(i, 1);
          if (q !== undefined) cancelQueued(q.id, q.task, reason);
        }
        break;
      }
      case CLOSE:
        void close();
        break;
      case FORGET: {
        // Also in a folder this thread never wrote to (it replaced one that crashed).
        const [, rel, tempStem] = message;
        const known = outputDirs.known(rel);
        if (known !== undefined) partials.discard(resumeFileOf(known, tempStem));
        else outputDirs.ensure(rel).then((dir) => partials.discard(resumeFileOf(dir, tempStem)), () => {});
        break;
      }
    }
  }
});

function enqueue(id: number, task: ThreadTask): void {
  if (closing) {
    cancelQueued(id, task, 'the worker is shutting down');
    return;
  }
  queue.push({ id, task });
  pump();
}

function cancelQueued(id: number, task: ThreadTask, reason: string): void {
  post(encodeDone(id, { type: 'error', error: toTaskError(new FetchError('CANCELLED', `GET ${task.url}: cancelled (${reason})`), task.url) }));
}

function pump(): void {
  while (running.size < config.concurrency && queue.length > 0) {
    const next = queue.shift();
    if (next !== undefined) start(next.id, next.task);
  }
  // A free slot and nothing queued: the results held for batching are what
  // brings the next tasks (credits), so they go now.
  if (running.size < config.concurrency && flushTimer !== null) {
    clearTimeout(flushTimer);
    flushTimer = null;
    if (flushImmediate === null) flushImmediate = setImmediate(flush);
  }
}

/**
 * Stops a started download. Until download() took over `cancel` (the first task into a
 * folder waits for the folder first), the reason is recorded for it to find.
 */
function stopDownload(control: DownloadControl, reason: FetchError): void {
  if (control.cancel !== null) control.cancel(reason);
  else control.stopped ??= reason;
}

function start(id: number, task: ThreadTask): void {
  const control: DownloadControl = { cancel: null, stopped: null };
  const settle = (outcome: FetchThreadResult): void => {
    running.delete(id);
    pendingProgress.delete(id);
    // The next download starts before this result is posted, so `post` sees the queue as it is now.
    pump();
    post(encodeDone(id, outcome));
  };
  const entry: Running = { url: task.url, control, done: Promise.resolve() };
  running.set(id, entry);
  entry.done = runOne(id, task, control).then(settle, (err: unknown) => {
    // runOne never rejects; this would be a bug, reported rather than lost.
    settle({ type: 'error', error: toTaskError(err, task.url) });
  });
}

async function runOne(id: number, task: ThreadTask, control: DownloadControl): Promise<FetchThreadResult> {
  const connectTimeoutMs = task.limits.connectTimeoutMs;
  // Keeps the agent of this timeout open while the download may use it.
  agents.acquire(connectTimeoutMs);
  try {
    const known = outputDirs.known(task.outputDir);
    const job: DownloadJob = {
      url: task.url,
      origin: task.origin,
      path: task.path,
      dirAbs: known ?? (await ensureOutputDir(task)),
      relDir: task.outputDir,
      fileName: task.fileName,
      nameFromResponse: task.nameFromResponse,
      tempStem: task.tempStem,
      attempt: task.attempt,
      keepPartial: task.keepPartial,
      sha256: task.sha256,
      expectedSize: task.expectedSize,
      ifExists: task.ifExists,
      limits: task.limits,
    };
    const options = { control, onProgress: (bytesDone: number, bytesTotal: number) => postProgress(id, bytesDone, bytesTotal) };
    try {
      return { type: 'ok', result: await download(job, env, options) };
    } catch (err) {
      if (known === undefined || !isMissingFile(err)) throw err;
      // The folder was removed after this thread made it (someone cleared the output
      // between two jobs into the same folder): make it again and start over, once,
      // rather than fail every download that was under way.
      outputDirs.forget(task.outputDir);
      job.dirAbs = await ensureOutputDir(task);
      return { type: 'ok', result: await download(job, env, options) };
    }
  } catch (err) {
    // The folder vanished after it was created and cached: make the next task recreate it.
    if (isMissingFile(err)) outputDirs.forget(task.outputDir);
    return { type: 'error', error: toTaskError(err, task.url), keptPartial: control.keptPartial === true };
  } finally {
    agents.release(connectTimeoutMs);
  }
}

/** The output folder of `task`, created (and proven inside the data root) if need be. */
async function ensureOutputDir(task: ThreadTask): Promise<string> {
  try {
    return await outputDirs.ensure(task.outputDir);
  } catch (err) {
    throw err instanceof FetchError ? err : fileSystemError(err, task.url, task.outputDir || '.');
  }
}

/** A download failed because a file or folder on its path did not exist (ENOENT). */
function isMissingFile(err: unknown): boolean {
  return errorCodeOf(err instanceof FetchError ? err.cause : err) === 'ENOENT';
}

async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  for (const q of queue) cancelQueued(q.id, q.task, 'the worker is shutting down');
  queue = [];
  for (const r of running.values()) {
    stopDownload(r.control, new FetchError('CANCELLED', `GET ${r.url}: cancelled (the worker is shutting down)`));
  }
  // Cancelled downloads remove their temporary files before they settle.
  await Promise.allSettled([...running.values()].map((r) => r.done));
  clearInterval(sweepTimer);
  partials.removeAll();
  await agents.destroy();
  post([CLOSED]);
  flush();
}

function readConfig(data: unknown): FetchThreadConfig {
  const c = data as Partial<FetchThreadConfig> | null;
  if (
    c === null ||
    typeof c !== 'object' ||
    c.type !== 'fetch-thread-config' ||
    typeof c.dataRoot !== 'string' ||
    typeof c.allowLoopback !== 'boolean' ||
    typeof c.allowPrivate !== 'boolean' ||
    typeof c.concurrency !== 'number' ||
    typeof c.connectionsPerOrigin !== 'number' ||
    typeof c.userAgent !== 'string' ||
    typeof c.resumeTtlMs !== 'number' ||
    typeof c.syncWriteLimitMs !== 'number' ||
    c.limits === null ||
    typeof c.limits !== 'object'
  ) {
    throw new TypeError('fetch thread started without a valid FetchThreadConfig as workerData');
  }
  return c as FetchThreadConfig;
}
