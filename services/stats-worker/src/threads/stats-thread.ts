/**
 * Piscina entry point: one byte range of a local file, or one whole stream (gzip file or
 * URL), per task. Loaded by path from dist/ (see pool.ts); must not import @spindle/sdk at run
 * time (startup cost per thread). Aborting a task terminates this thread (piscina replaces
 * it), so there is no abort handling here: file handles and sockets close with the thread.
 */
import { constants, promises as fs } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import { createGunzip } from 'node:zlib';
import { Piscina } from 'piscina';
import type { Agent } from 'undici';
import { detectDelimiter } from '../csv/sniff';
import { guessRecordStart } from '../csv/range-start';
import { getErrorMessage, isStatsError, StatsError } from '../errors';
import { minorGc } from '../minor-gc';
import type * as Egress from '../source/egress';
import type { RangeOutcome } from '../split/split';
import { StatsEngine, type FileState } from '../stats/engine';
import type {
  StatsRangeRequest,
  StatsStreamRequest,
  StatsStreamResponse,
  StatsThreadProgress,
  StatsThreadRequest,
  StatsThreadResponse,
} from './protocol';

/** Read chunks between two minor GCs inside a range (8 MiB at the default chunk size). */
const GC_EVERY_CHUNKS = 8;

/** Bytes looked at to detect the delimiter of a stream. */
const SNIFF_BYTES = 64 * 1024;

export default async function statsThread(request: StatsThreadRequest): Promise<StatsThreadResponse> {
  const port = request.progressPort;
  try {
    switch (request.type) {
      case 'stats-range':
        return movable({ type: 'range', ...(await statsOfRange(request, port)) });
      case 'stats-stream':
        return movable(await statsOfStream(request, port));
      default: {
        const unknown: never = request;
        return { type: 'error', code: 'INTERNAL', message: `unknown request ${JSON.stringify(unknown)}` };
      }
    }
  } finally {
    port.close();
    // After each task: what the engine held for it died young.
    minorGc?.({ type: 'minor' });
  }
}

/**
 * Marks the typed arrays of a response (sketch buckets, HyperLogLog registers, kept values)
 * for transfer instead of copy. A wide file's range state is several MB; copying it through
 * structured clone cost a serialisation buffer in this thread's malloc arena and another on
 * the main thread, which is what pushed the worker's RSS up (measured 277 MiB → see
 * bench/RESULTS.md). Only arrays that own their whole buffer are moved.
 */
function movable<T extends object>(value: T): T {
  const buffers = new Set<ArrayBuffer>();
  const visit = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    if (ArrayBuffer.isView(v)) {
      const { buffer } = v;
      if (buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === buffer.byteLength) buffers.add(buffer);
      return;
    }
    for (const item of Object.values(v)) visit(item);
  };
  visit(value);
  if (buffers.size === 0) return value;
  // piscina sends `[valueSymbol]` with `[transferableSymbol]` as the transfer list.
  return Piscina.move({
    [Piscina.transferableSymbol]: [...buffers],
    [Piscina.valueSymbol]: value,
  } as unknown as ArrayBuffer) as unknown as T;
}

function progress(port: MessagePort, bytesDone: number, rowsDone: number): void {
  const message: StatsThreadProgress = { type: 'progress', bytesDone, rowsDone };
  port.postMessage(message);
}

async function openChecked(path: string, dev: string, ino: string): Promise<fs.FileHandle> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new StatsError('FILE_NOT_FOUND', 'no such file');
    if (code === 'ELOOP') throw new StatsError('PATH_FORBIDDEN', 'the file was replaced by a symlink');
    if (code === 'EACCES' || code === 'EPERM') throw new StatsError('PATH_FORBIDDEN', 'permission denied');
    throw err;
  }
  const stat = await handle.stat({ bigint: true });
  if (stat.dev.toString() !== dev || stat.ino.toString() !== ino) {
    await handle.close();
    throw new StatsError('PATH_FORBIDDEN', 'the file changed between the path check and the open');
  }
  return handle;
}

// Read buffers live as long as the thread, so a range task allocates none. The pool runs one
// task per thread; a second concurrent caller (tests call this function in-process) gets its own.
let spare: [Buffer, Buffer] | null = null;
function takeBuffers(size: number): [Buffer, Buffer] {
  const taken = spare !== null && spare[0].length === size ? spare : null;
  spare = null;
  return taken ?? [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
}

/** Parses the records that start in one byte range of a file (see split.ts). */
async function statsOfRange(request: StatsRangeRequest, port: MessagePort): Promise<RangeOutcome> {
  const { range, source } = request;
  let first = range.guess ? -1 : range.start;
  let handle: fs.FileHandle | null = null;
  try {
    handle = await openChecked(request.path, request.dev, request.ino);
    if (range.guess) first = await guessStart(handle, request);
    if (first === -1 || first >= range.end) {
      // No record starts in this range (by the guess): nothing to parse.
      return { ok: true, firstRecord: first, stop: first, state: { rows: 0, raggedRows: 0, bytes: 0, columns: null } };
    }
    const engine = new StatsEngine({
      columns: request.columns,
      delimiter: request.delimiter,
      maxRecordBytes: request.maxLineBytes,
      limits: request.limits,
      startOffset: first,
      stopAt: range.end,
    });
    // Two buffers: the next read runs in libuv's pool while this thread parses the current one.
    const bufs = takeBuffers(request.chunkBytes);
    let position = first;
    let current = 0;
    let chunks = 0;
    let next: Promise<{ bytesRead: number }> | null = handle.read(bufs[current]!, 0, request.chunkBytes, position);
    try {
      for (;;) {
        const { bytesRead } = await next;
        next = null;
        if (bytesRead === 0) break;
        const chunk = bufs[current]!.subarray(0, bytesRead);
        position += bytesRead;
        current ^= 1;
        next = handle.read(bufs[current]!, 0, request.chunkBytes, position);
        engine.push(chunk);
        progress(port, Math.min(position, range.end) - first, engine.rows);
        if (engine.stopped) break;
        // Also during a long range: the buffers a column outgrows die young (see minorGc).
        if ((chunks = (chunks + 1) % GC_EVERY_CHUNKS) === 0) minorGc?.({ type: 'minor' });
      }
    } finally {
      if (next !== null) await next.catch(() => undefined);
      spare = bufs;
    }
    const state = engine.toState();
    return { ok: true, firstRecord: first, stop: engine.stopped ? engine.stopOffset : first + state.bytes, state };
  } catch (err) {
    if (isStatsError(err)) return { ok: false, firstRecord: first, code: err.code, message: `${source}: ${err.message}` };
    return { ok: false, firstRecord: first, code: 'INTERNAL', message: `${source}: ${getErrorMessage(err)}` };
  } finally {
    await handle?.close();
  }
}

/** Reads from just before the range start until a record start can be guessed; -1 if none. */
async function guessStart(handle: fs.FileHandle, request: StatsRangeRequest): Promise<number> {
  const from = request.range.start;
  const windowStart = from - 1;
  let size = Math.min(request.chunkBytes, 64 * 1024);
  for (;;) {
    const buf = Buffer.allocUnsafe(size);
    const { bytesRead } = await handle.read(buf, 0, size, windowStart);
    const final = bytesRead < size;
    const guess = guessRecordStart(
      buf.subarray(0, bytesRead),
      windowStart,
      from,
      request.delimiter,
      request.columns.length,
      final,
    );
    if (guess !== -1) return guess;
    // One record longer than the limit has no start to find: let the previous range's true
    // stop decide (the executor parses this range again from there).
    if (size > request.maxLineBytes) return -1;
    size *= 2;
  }
}

/** Statistics of a whole stream: a gzip file, or a URL. Reads the header, detects the delimiter. */
async function statsOfStream(request: StatsStreamRequest, port: MessagePort): Promise<StatsStreamResponse> {
  let handle: fs.FileHandle | null = null;
  let agent: Agent | null = null;
  let totalTimer: NodeJS.Timeout | undefined;
  let sourceBytes = 0;
  try {
    let body: AsyncIterable<Uint8Array>;
    if (request.input.kind === 'file') {
      handle = await openChecked(request.input.path, request.input.dev, request.input.ino);
      body = handle.createReadStream({ highWaterMark: request.chunkBytes, autoClose: false });
    } else {
      const { url, egress } = request.input;
      // Loaded on first use: undici costs every thread memory that file tasks never need.
      /* eslint-disable @typescript-eslint/no-require-imports */
      const { checkUrl, egressLookup } = require('../source/egress') as typeof Egress;
      const undici = require('undici') as typeof import('undici');
      /* eslint-enable @typescript-eslint/no-require-imports */
      const parsed = checkUrl(url, egress);
      agent = new undici.Agent({
        connect: { lookup: egressLookup(egress), timeout: egress.headersTimeoutMs },
        headersTimeout: egress.headersTimeoutMs,
        bodyTimeout: egress.bodyTimeoutMs,
      });
      // The idle timeout does not end a server that keeps sending (a CSV without end): the
      // whole source, redirects included, gets totalTimeoutMs; undici then fails the body
      // with this reason.
      const total = new AbortController();
      totalTimer = setTimeout(
        () => total.abort(new StatsError('TIMEOUT', `not complete after ${egress.totalTimeoutMs} ms`)),
        egress.totalTimeoutMs,
      );
      body = await openUrl(parsed, agent, undici.request, total.signal);
    }
    const counted = countBytes(body, (n) => (sourceBytes += n));
    const csv = await maybeGunzip(counted, /\.gz$/i.test(urlPath(request)));
    const result = await parseStream(csv, request, (rows) => progress(port, sourceBytes, rows));
    return { type: 'ok', state: result.state, delimiter: result.delimiter, sourceBytes };
  } catch (err) {
    return streamError(err, request.source);
  } finally {
    clearTimeout(totalTimer);
    await handle?.close();
    await agent?.destroy().catch(() => undefined);
  }
}

function urlPath(request: StatsStreamRequest): string {
  if (request.input.kind !== 'url') return '';
  try {
    return new URL(request.input.url).pathname;
  } catch {
    return '';
  }
}

/** GETs a URL (following up to 5 redirects, each checked by the egress lookup); the body, streamed. */
async function openUrl(
  url: URL,
  agent: Agent,
  request: typeof import('undici').request,
  signal: AbortSignal,
): Promise<AsyncIterable<Uint8Array>> {
  let current = url;
  for (let hop = 0; hop <= 5; hop++) {
    const response = await request(current, {
      dispatcher: agent,
      method: 'GET',
      headers: { 'accept-encoding': 'identity' },
      signal,
    });
    const status = response.statusCode;
    if (status >= 300 && status < 400 && response.headers.location !== undefined) {
      await response.body.dump();
      const location = String(response.headers.location);
      current = new URL(location, current);
      if (current.protocol !== 'http:' && current.protocol !== 'https:') {
        throw new StatsError('INVALID_SPEC', `redirect to a ${current.protocol} URL`);
      }
      continue;
    }
    if (status < 200 || status >= 300) {
      await response.body.dump().catch(() => undefined);
      throw Object.assign(new StatsError('HTTP_STATUS', `HTTP ${status}`), { httpStatus: status });
    }
    return response.body;
  }
  throw new StatsError('HTTP_STATUS', 'too many redirects');
}

async function* countBytes(body: AsyncIterable<Uint8Array>, count: (n: number) => void): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    count(chunk.length);
    yield chunk;
  }
}

/**
 * Decompresses a gzip stream (recognised by its magic bytes 1f 8b), passes anything else
 * through. `nameSaysGzip` (a URL path ending in .gz) turns a missing magic into an error.
 */
async function maybeGunzip(body: AsyncIterable<Uint8Array>, nameSaysGzip: boolean): Promise<AsyncIterable<Uint8Array>> {
  const iterator = body[Symbol.asyncIterator]();
  const first = await iterator.next();
  const rest: AsyncIterable<Uint8Array> = {
    async *[Symbol.asyncIterator]() {
      if (!first.done) yield first.value;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    },
  };
  const head = first.done ? new Uint8Array(0) : first.value;
  const gzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (!gzip) {
    if (nameSaysGzip && head.length > 0) throw new StatsError('CSV_MALFORMED', 'named .gz but not gzip-compressed');
    return rest;
  }
  const gunzip = createGunzip();
  let sourceError: unknown = null;
  // Feeds the decompressor with backpressure; a source error ends it and is rethrown as is.
  void (async () => {
    try {
      for await (const chunk of rest) {
        if (!gunzip.write(chunk)) await new Promise((resolve) => gunzip.once('drain', resolve));
      }
      gunzip.end();
    } catch (err) {
      sourceError = err;
      gunzip.destroy();
    }
  })();
  return (async function* () {
    try {
      for await (const chunk of gunzip) yield chunk as Buffer;
    } catch (err) {
      if (sourceError !== null) throw sourceError;
      throw new StatsError('CSV_MALFORMED', `not a valid gzip stream: ${getErrorMessage(err)}`);
    }
    if (sourceError !== null) throw sourceError;
  })();
}

/** Parses a whole CSV stream: sniffs the delimiter from the first bytes, then streams. */
async function parseStream(
  body: AsyncIterable<Uint8Array>,
  request: StatsStreamRequest,
  onProgress: (rows: number) => void,
): Promise<{ state: FileState; delimiter: number }> {
  let engine: StatsEngine | null = null;
  let delimiter = request.delimiter;
  const held: Uint8Array[] = [];
  let heldBytes = 0;
  const start = (final: boolean): StatsEngine => {
    const sample = Buffer.concat(held);
    if (delimiter === 0) delimiter = detectDelimiter(sample, final);
    const e = new StatsEngine({
      delimiter,
      noHeader: request.noHeader,
      maxRecordBytes: request.maxLineBytes,
      limits: request.limits,
    });
    e.push(sample);
    held.length = 0;
    return e;
  };
  for await (const chunk of body) {
    if (engine === null) {
      held.push(Buffer.from(chunk));
      heldBytes += chunk.length;
      if (heldBytes < SNIFF_BYTES) continue;
      engine = start(false);
    } else {
      engine.push(chunk);
    }
    onProgress(engine.rows);
  }
  engine ??= start(true);
  return { state: engine.toState(), delimiter };
}

function streamError(err: unknown, source: string): StatsStreamResponse {
  if (isStatsError(err)) {
    const httpStatus = (err as { httpStatus?: number }).httpStatus;
    const retryable =
      err.code === 'NETWORK' ||
      err.code === 'TIMEOUT' ||
      (httpStatus !== undefined && [408, 429, 500, 502, 503, 504].includes(httpStatus));
    return { type: 'error', code: err.code, message: `${source}: ${err.message}`, httpStatus, retryable };
  }
  const code = (err as { code?: unknown } | null)?.code;
  // A refusal raised inside the DNS lookup reaches us wrapped by undici.
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (isStatsError(cause)) return streamError(cause, source);
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { type: 'error', code: 'TIMEOUT', message: `${source}: ${getErrorMessage(err)}`, retryable: true };
  }
  if (typeof code === 'string' && (code.startsWith('UND_ERR') || code.startsWith('E'))) {
    return { type: 'error', code: 'NETWORK', message: `${source}: ${getErrorMessage(err)} (${code})`, retryable: true };
  }
  return { type: 'error', code: 'INTERNAL', message: `${source}: ${getErrorMessage(err)}`, retryable: true };
}
