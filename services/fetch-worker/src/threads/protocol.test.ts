import { deserialize, serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import type { FetchResult, TaskError } from '@spindle/sdk';
import {
  decodeDone,
  decodeStart,
  DONE_ERROR,
  DONE_OK,
  encodeDone,
  encodeStart,
  START,
  type DoneErrorMessage,
  type DoneOkMessage,
  type FetchLimits,
  type StartMessage,
  type ThreadTask,
} from './protocol';

const defaults: FetchLimits = {
  maxBytes: 1024,
  maxRedirects: 10,
  connectTimeoutMs: 10_000,
  headersTimeoutMs: 30_000,
  idleTimeoutMs: 30_000,
  totalTimeoutMs: 1_800_000,
};

function task(fields: Partial<ThreadTask> = {}): ThreadTask {
  return {
    url: 'http://127.0.0.1:8080/a/b.bin?x=1',
    origin: 'http://127.0.0.1:8080',
    path: '/a/b.bin?x=1',
    outputDir: 'jobs/j1',
    fileName: 'b.bin',
    nameFromResponse: false,
    tempStem: '.b.bin.j1-f-3',
    attempt: 2,
    keepPartial: true,
    sha256: 'ab'.repeat(32),
    expectedSize: 77,
    ifExists: 'overwrite',
    limits: defaults,
    ...fields,
  };
}

/** Through the structured clone a postMessage does. */
function cloned<T>(value: T): T {
  return deserialize(serialize(value)) as T;
}

describe('thread protocol', () => {
  it('sends a task with default limits as flat primitives, without the limits', () => {
    const m = encodeStart(7, task(), defaults);
    expect(m[0]).toBe(START);
    expect(m[1]).toBe(7);
    expect(m.at(-1)).toBe(0);
    for (const v of m) expect(typeof v === 'object' && v !== null).toBe(false);
    // Equal values count as defaults too, not only the same object.
    expect(encodeStart(7, task({ limits: { ...defaults } }), defaults).at(-1)).toBe(0);
    const back = decodeStart(cloned(m), defaults);
    expect(back).toEqual(task());
    expect(back.limits).toBe(defaults);
  });

  it.each([
    { ifExists: 'skip', nameFromResponse: true, keepPartial: false },
    { ifExists: 'rename', nameFromResponse: false, keepPartial: true },
    { ifExists: 'overwrite', nameFromResponse: true, keepPartial: true, sha256: '', expectedSize: 0, outputDir: '' },
    { limits: { ...defaults, maxBytes: 5, totalTimeoutMs: 99 } },
  ] satisfies Array<Partial<ThreadTask>>)('round-trips a task with %j', (fields) => {
    const t = task(fields);
    expect(decodeStart(cloned(encodeStart(1, t, defaults)) as StartMessage, defaults)).toEqual(t);
  });

  it('round-trips results, the URL coming from the main thread', () => {
    const result: FetchResult = {
      url: 'http://h/x',
      path: 'jobs/j1/x',
      bytes: 3,
      sha256: 'cd'.repeat(32),
      httpStatus: 200,
      durationMs: 12,
      contentType: 'text/plain',
      skipped: true,
      resumedBytes: 1,
    };
    const ok = cloned(encodeDone(4, { type: 'ok', result })) as DoneOkMessage;
    expect(ok[0]).toBe(DONE_OK);
    expect(ok).not.toContain('http://h/x');
    expect(decodeDone(ok, 'http://h/x')).toEqual({ type: 'ok', result });

    const error: TaskError = {
      code: 'HTTP_STATUS',
      message: 'GET http://h/x: HTTP 503',
      retryable: true,
      httpStatus: 503,
      retryAfterMs: 2000,
      attempts: 0,
    };
    const failed = cloned(encodeDone(5, { type: 'error', error })) as DoneErrorMessage;
    expect(failed[0]).toBe(DONE_ERROR);
    expect(decodeDone(failed, 'http://h/x')).toEqual({ type: 'error', error, keptPartial: false });
    const kept = cloned(encodeDone(6, { type: 'error', error, keptPartial: true })) as DoneErrorMessage;
    expect(decodeDone(kept, 'http://h/x')).toEqual({ type: 'error', error, keptPartial: true });
  });
});
