import { describe, expect, it } from 'vitest';
import { encodeMessage, encodeMessageToBuffer, JobServiceDefinition, type MessageEncoder, WorkerServiceDefinition } from './encode';
import { JobEvent, JobServiceService, RunJobResponse, WatchJobResponse } from './gen/spindle/v1/job_service';
import { type ConnectRequest, ConnectResponse, FetchTask, TaskResult, WorkerServiceService } from './gen/spindle/v1/worker_service';

const result = (i: number, path: string): TaskResult => ({
  taskId: `job/fetch/${i}`,
  attempt: 1,
  outcome: {
    $case: 'fetch',
    value: {
      url: `http://127.0.0.1:8080/${path}`,
      path,
      bytes: i,
      sha256: 'ab'.repeat(32),
      httpStatus: 200,
      durationMs: 3,
      contentType: 'text/csv',
      skipped: false,
      resumedBytes: 0,
    },
  },
});

describe('encodeMessage', () => {
  it('gives the bytes of X.encode(m).finish(), message after message of different sizes and types', () => {
    /** Encodes now with the shared writer; the generated encoder's bytes for comparison later. */
    const both = <T>(codec: MessageEncoder<T>, m: T) => ({
      ours: encodeMessage(codec, m),
      theirs: () => codec.encode(m).finish(),
    });
    const encoded = [
      both(TaskResult, result(1, 'a.csv')),
      both(TaskResult, result(2, 'x'.repeat(5000))), // grows the shared buffer
      both(TaskResult, result(3, 'b.csv')), // shorter than what the buffer last held
      both(TaskResult, result(4, 'y'.repeat(2 * 1024 * 1024))), // over the retained size: a new writer after it
      both(TaskResult, result(5, 'c.csv')),
      both(FetchTask, FetchTask.fromPartial({ url: 'http://h/f', outputDir: 'out', maxAttempts: 3 })),
      both(JobEvent, JobEvent.fromPartial({ seq: 7, jobId: 'j', time: new Date(0) })),
      both(TaskResult, TaskResult.fromPartial({})), // empty message: zero bytes
    ];
    for (const { ours, theirs } of encoded) expect(Buffer.from(ours).equals(Buffer.from(theirs()))).toBe(true);
    // Each result owns its memory: later encodes did not overwrite earlier ones.
    expect(TaskResult.decode(encoded[0]!.ours)).toEqual(result(1, 'a.csv'));
    expect(encoded[7]!.ours.length).toBe(0);
  });

  it('starts clean after an encode that threw half-way', () => {
    // The task id is written, then the outcome's null value throws.
    const bad = { ...result(4, 'c.csv'), outcome: { $case: 'fetch', value: null } } as unknown as TaskResult;
    expect(() => encodeMessage(TaskResult, bad)).toThrow();
    const good = result(5, 'd.csv');
    expect(Buffer.from(encodeMessage(TaskResult, good)).equals(Buffer.from(TaskResult.encode(good).finish()))).toBe(true);
  });

  it('as a Buffer over the same bytes', () => {
    const m = result(6, 'e.csv');
    const b = encodeMessageToBuffer(TaskResult, m);
    expect(Buffer.isBuffer(b)).toBe(true);
    expect(TaskResult.decode(b)).toEqual(m);
  });
});

describe('WorkerServiceDefinition', () => {
  it('serializes Connect both ways exactly as the generated service does', () => {
    const req: ConnectRequest = { message: { $case: 'results', value: { results: [result(1, 'a'), result(2, 'b')] } } };
    const res = ConnectResponse.fromPartial({
      message: { $case: 'assignments', value: { assignments: [{ taskId: 't', attempt: 1, jobId: 'j' }] } },
    });
    const ours = WorkerServiceDefinition.connect;
    const generated = WorkerServiceService.connect;
    expect(ours.requestSerialize(req).equals(generated.requestSerialize(req))).toBe(true);
    expect(ours.responseSerialize(res).equals(generated.responseSerialize(res))).toBe(true);
    expect(ours.path).toBe(generated.path);
  });
});

describe('JobServiceDefinition', () => {
  it('serializes the RunJob and WatchJob events exactly as the generated service does', () => {
    const event = JobEvent.fromPartial({ seq: 3, jobId: 'j', event: { $case: 'taskFinished', value: { task: { id: 't', target: 'http://h/x' } } } });
    const watch = WatchJobResponse.fromPartial({ event });
    const run = RunJobResponse.fromPartial({ message: { $case: 'event', value: event } });
    expect(JobServiceDefinition.watchJob.responseSerialize(watch).equals(JobServiceService.watchJob.responseSerialize(watch))).toBe(true);
    expect(JobServiceDefinition.runJob.responseSerialize(run).equals(JobServiceService.runJob.responseSerialize(run))).toBe(true);
    expect(JobServiceDefinition.submitJob).toBe(JobServiceService.submitJob);
  });
});
