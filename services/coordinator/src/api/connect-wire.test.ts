import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { ConnectRequest, TaskResult } from '@spindle/sdk';
import { describe, expect, it } from 'vitest';
import { decodeConnectRequest, encodedResultsOf, workerServiceDefinition } from './connect-wire';

const fetchResult = (taskId: string, attempt: number): TaskResult => ({
  taskId,
  attempt,
  outcome: {
    $case: 'fetch',
    value: {
      url: `http://h/${taskId}`,
      path: `out/${taskId}`,
      bytes: 7,
      sha256: 'ab'.repeat(32),
      httpStatus: 200,
      contentType: 'text/plain',
      durationMs: 3,
      skipped: false,
      resumedBytes: 0,
    },
  },
});
const failed: TaskResult = {
  taskId: 'j/f/9',
  attempt: 2,
  outcome: { $case: 'error', value: { code: 'HTTP_STATUS', message: '404', retryable: false, httpStatus: 404, retryAfterMs: 0, attempts: 0 } },
};

const bytesOf = (m: ConnectRequest) => ConnectRequest.encode(m).finish();
const asBytes = (list: readonly Uint8Array[] | undefined) => list?.map((b) => Buffer.from(b).toString('hex'));

describe('decodeConnectRequest', () => {
  it('keeps the bytes of every result of a batch, in order, each decoding to its result', () => {
    const results = [fetchResult('j/f/0', 1), failed, fetchResult('j/f/1', 3)];
    const request = decodeConnectRequest(bytesOf({ message: { $case: 'results', value: { results } } }));
    expect(request).toEqual(ConnectRequest.fromPartial({ message: { $case: 'results', value: { results } } }));
    const kept = encodedResultsOf(request);
    expect(asBytes(kept)).toEqual(asBytes(results.map((r) => TaskResult.encode(r).finish())));
    expect(kept!.map((b) => TaskResult.decode(b))).toEqual(request.message?.$case === 'results' && request.message.value.results);
  });

  it('keeps the bytes of a single result (protocol 1), unknown fields included', () => {
    const inner = new BinaryWriter();
    TaskResult.encode(failed, inner);
    // A field this version does not know, as a newer worker might send.
    inner.uint32((99 << 3) | WireType.Varint).uint32(5);
    const result = inner.finish();
    const w = new BinaryWriter();
    w.uint32((5 << 3) | WireType.LengthDelimited).bytes(result);
    const request = decodeConnectRequest(w.finish());
    expect(request.message).toEqual({ $case: 'result', value: TaskResult.fromPartial(failed) });
    expect(asBytes(encodedResultsOf(request))).toEqual(asBytes([result]));
  });

  it('finds the results among other fields', () => {
    const a = fetchResult('j/f/0', 1);
    const w = new BinaryWriter();
    w.uint32((99 << 3) | WireType.LengthDelimited).string('unknown');
    w.uint32((7 << 3) | WireType.LengthDelimited).fork();
    w.uint32((2 << 3) | WireType.Varint).uint32(1);
    w.uint32((1 << 3) | WireType.LengthDelimited).bytes(TaskResult.encode(a).finish());
    w.join();
    w.uint32((98 << 3) | WireType.Varint).uint32(1);
    const request = decodeConnectRequest(w.finish());
    expect(request.message).toEqual({ $case: 'results', value: { results: [TaskResult.fromPartial(a)] } });
    expect(asBytes(encodedResultsOf(request))).toEqual(asBytes([TaskResult.encode(a).finish()]));
  });

  it('keeps bytes only when they are those of the results decoded: a oneof sent twice decodes as its last', () => {
    const a = fetchResult('j/f/0', 1);
    const b = fetchResult('j/f/1', 1);
    const batch = (...rs: TaskResult[]) => {
      const w = new BinaryWriter();
      w.uint32((7 << 3) | WireType.LengthDelimited).fork();
      for (const r of rs) w.uint32((1 << 3) | WireType.LengthDelimited).bytes(TaskResult.encode(r).finish());
      return w.join().finish();
    };
    const single = (r: TaskResult) => new BinaryWriter().uint32((5 << 3) | WireType.LengthDelimited).bytes(TaskResult.encode(r).finish()).finish();
    const joined = (...parts: Uint8Array[]) => Buffer.concat(parts);
    // Two batches: the decoder keeps the second only.
    const two = decodeConnectRequest(joined(batch(a), batch(b)));
    expect(two.message).toEqual({ $case: 'results', value: { results: [TaskResult.fromPartial(b)] } });
    expect(encodedResultsOf(two)).toBeUndefined();
    // A batch, then a single result: the single result.
    const mixed = decodeConnectRequest(joined(batch(a), single(b)));
    expect(mixed.message).toEqual({ $case: 'result', value: TaskResult.fromPartial(b) });
    expect(encodedResultsOf(mixed)).toBeUndefined();
    // An empty batch, then a single result: nothing but that result's bytes.
    const emptyFirst = decodeConnectRequest(joined(batch(), single(b)));
    expect(asBytes(encodedResultsOf(emptyFirst))).toEqual(asBytes([TaskResult.encode(b).finish()]));
  });

  it('keeps nothing for a single result sent twice, or for other messages', () => {
    const w = new BinaryWriter();
    w.uint32((5 << 3) | WireType.LengthDelimited).bytes(TaskResult.encode({ taskId: 'j/f/0', attempt: 1, outcome: undefined }).finish());
    w.uint32((5 << 3) | WireType.LengthDelimited).bytes(TaskResult.encode(failed).finish());
    const merged = decodeConnectRequest(w.finish());
    expect(merged.message?.$case).toBe('result');
    expect(encodedResultsOf(merged)).toBeUndefined();
    const credit = decodeConnectRequest(bytesOf({ message: { $case: 'credit', value: { credits: 3 } } }));
    expect(credit.message).toEqual({ $case: 'credit', value: { credits: 3 } });
    expect(encodedResultsOf(credit)).toBeUndefined();
  });

  it('fails on a truncated message like the generated decoder', () => {
    const full = bytesOf({ message: { $case: 'results', value: { results: [fetchResult('j/f/0', 1)] } } });
    expect(() => decodeConnectRequest(full.subarray(0, full.length - 3))).toThrow();
    expect(() => ConnectRequest.decode(full.subarray(0, full.length - 3))).toThrow();
  });

  it('is the served definition of Connect', () => {
    const buf = Buffer.from(bytesOf({ message: { $case: 'results', value: { results: [failed] } } }));
    expect(encodedResultsOf(workerServiceDefinition.connect.requestDeserialize(buf))).toHaveLength(1);
  });
});
