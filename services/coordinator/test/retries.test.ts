/**
 * Retries as the coordinator decides them, over real gRPC with a hand-driven fetch
 * worker (the test chooses each attempt's error): Retry-After against the policy's
 * backoff and the coordinator's limit, and what a failed item's final error says.
 */
import {
  createJobServiceClient,
  JobState,
  TaskError,
  TaskState,
  WorkerKind,
  type JobEvent,
  type JobServiceClient,
  type RetryPolicy,
  type Task,
  type TaskAssignment,
  type TaskRetrying,
} from '@spindle/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestCoordinator } from '../../../test/helpers/coordinator';
import { collect, unary, waitFor } from '../../../test/helpers/grpc';
import { TestWorker } from '../../../test/helpers/test-worker';

/** The coordinator's Retry-After limit in these tests. */
const MAX_RETRY_AFTER_MS = 5000;

describe('retries (coordinator side)', () => {
  let coord: Awaited<ReturnType<typeof startTestCoordinator>>;
  let client: JobServiceClient;
  const workers: TestWorker[] = [];
  const env = { SPINDLE_MAX_RETRY_AFTER_MS: String(MAX_RETRY_AFTER_MS) };

  beforeEach(async () => {
    coord = await startTestCoordinator(env);
    client = createJobServiceClient(coord.address);
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) w.kill();
    client.close();
    await coord.stop();
  });

  async function fetchWorker(id: string): Promise<TestWorker> {
    const w = new TestWorker(coord.address, id, WorkerKind.WORKER_KIND_FETCH);
    workers.push(w);
    await w.waitWelcome();
    return w;
  }

  async function submit(retry: RetryPolicy): Promise<string> {
    const { job } = await unary(client.submitJob.bind(client), {
      requestId: '',
      spec: {
        name: 'retries',
        retry,
        kind: {
          $case: 'fetch',
          value: { items: [{ url: 'http://127.0.0.1:9/item.bin', fileName: '', sha256: '', expectedSize: 0 }], outputDir: '', options: undefined },
        },
      },
    });
    return job!.id;
  }

  /** Reports an attempt's failure with the given error fields. */
  function fail(w: TestWorker, a: TaskAssignment, error: Partial<TaskError>): void {
    w.send({
      message: {
        $case: 'result',
        value: { taskId: a.taskId, attempt: a.attempt, outcome: { $case: 'error', value: TaskError.create({ message: error.code, ...error }) } },
      },
    });
  }

  const http = (status: number, retryAfterMs = 0): Partial<TaskError> => ({
    code: 'HTTP_STATUS',
    message: `GET http://127.0.0.1:9/item.bin: server answered HTTP ${status}`,
    retryable: true,
    httpStatus: status,
    retryAfterMs,
  });

  async function finished(jobId: string): Promise<{ task: Task; retrying: TaskRetrying[] }> {
    await waitFor(
      async () => (await unary(client.getJob.bind(client), { jobId })).job!.state === JobState.JOB_STATE_FAILED,
      10_000,
      'job failed',
    );
    const events = (await collect(client.watchJob({ jobId, afterSeq: 0, skipTaskEvents: false }))).map((m) => m.event as JobEvent);
    const retrying = events.flatMap((e) => (e.event?.$case === 'taskRetrying' ? [e.event.value] : []));
    const { tasks } = await unary(client.listResults.bind(client), { jobId, pageSize: 0, pageToken: '', state: 0 });
    return { task: tasks[0]!, retrying };
  }

  it("waits out a Retry-After longer than the policy's max_backoff_ms", async () => {
    const w = await fetchWorker('w');
    const jobId = await submit({ maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 });
    w.grant(2);
    const [a1] = await w.waitAssignments(1);
    const failedAt = Date.now();
    fail(w, a1!, http(429, 1500));
    const [, a2] = await w.waitAssignments(2);
    // The coordinator started waiting after failedAt, so this holds however slow the machine.
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(1500);
    expect(a2!.attempt).toBe(2);
    fail(w, a2!, http(503, 0));
    const { task, retrying } = await finished(jobId);
    expect(retrying).toMatchObject([{ attempt: 1, backoffMs: 1500, error: { httpStatus: 429, retryAfterMs: 1500 } }]);
    expect(task.outcome).toMatchObject({ $case: 'error', value: { code: 'HTTP_STATUS', httpStatus: 503, attempts: 2 } });
  });

  it('fails the item at once, naming both, when Retry-After exceeds SPINDLE_MAX_RETRY_AFTER_MS', async () => {
    const w = await fetchWorker('w');
    const jobId = await submit({ maxAttempts: 5, initialBackoffMs: 10, maxBackoffMs: 20 });
    w.grant(2);
    const [a1] = await w.waitAssignments(1);
    fail(w, a1!, { ...http(429, 7_200_000), message: 'GET http://127.0.0.1:9/item.bin: server answered HTTP 429, Retry-After 7200 s' });
    const { task, retrying } = await finished(jobId);
    expect(retrying).toEqual([]);
    expect(w.assignments).toHaveLength(1);
    expect(task).toMatchObject({ state: TaskState.TASK_STATE_FAILED, attempt: 1 });
    expect(task.outcome).toMatchObject({
      $case: 'error',
      value: { code: 'HTTP_STATUS', httpStatus: 429, retryAfterMs: 7_200_000, attempts: 1 },
    });
    const error = task.outcome?.$case === 'error' ? task.outcome.value : undefined;
    expect(error?.message).toBe(
      'GET http://127.0.0.1:9/item.bin: server answered HTTP 429, Retry-After 7200 s; not retried: ' +
        "the server's Retry-After (7200 s) is longer than the coordinator waits (SPINDLE_MAX_RETRY_AFTER_MS, 5 s)",
    );
  });

  it('keeps the exponential backoff with jitter for errors without Retry-After', async () => {
    const w = await fetchWorker('w');
    const jobId = await submit({ maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 150 });
    w.grant(3);
    for (let n = 1; n <= 3; n++) {
      const a = (await w.waitAssignments(n))[n - 1]!;
      fail(w, a, { code: 'TIMEOUT', message: 'GET http://127.0.0.1:9/item.bin: no response headers within 30 s', retryable: true });
    }
    const { task, retrying } = await finished(jobId);
    // Attempt 1: d = 100 ms; attempt 2: d = min(150, 200); each wait is in [d/2, d].
    expect(retrying.map((r) => r.attempt)).toEqual([1, 2]);
    expect(retrying[0]!.backoffMs).toBeGreaterThanOrEqual(50);
    expect(retrying[0]!.backoffMs).toBeLessThanOrEqual(100);
    expect(retrying[1]!.backoffMs).toBeGreaterThanOrEqual(75);
    expect(retrying[1]!.backoffMs).toBeLessThanOrEqual(150);
    expect(task.outcome).toMatchObject({ $case: 'error', value: { code: 'TIMEOUT', httpStatus: 0, attempts: 3 } });
  });

  it('names the last HTTP status of any attempt in the final error when the last attempt got no response', async () => {
    const w = await fetchWorker('w');
    const jobId = await submit({ maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 20 });
    w.grant(3);
    fail(w, (await w.waitAssignments(1))[0]!, http(500));
    fail(w, (await w.waitAssignments(2))[1]!, http(503));
    fail(w, (await w.waitAssignments(3))[2]!, {
      code: 'CONNECT',
      message: 'GET http://127.0.0.1:9/item.bin: connection refused',
      retryable: true,
    });
    const { task } = await finished(jobId);
    expect(task.outcome).toEqual({
      $case: 'error',
      value: TaskError.create({
        code: 'CONNECT',
        message: 'GET http://127.0.0.1:9/item.bin: connection refused; an earlier attempt got HTTP 503',
        retryable: true,
        httpStatus: 503,
        attempts: 3,
      }),
    });
  });

  it('keeps the last HTTP status and the Retry-After wait across a coordinator restart', async () => {
    const w = await fetchWorker('w');
    const jobId = await submit({ maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 });
    w.grant(1);
    const [a1] = await w.waitAssignments(1);
    const failedAt = Date.now();
    fail(w, a1!, http(503, 1500));
    await waitFor(
      async () => (await unary(client.getJob.bind(client), { jobId })).job!.progress!.tasksPending === 1,
      5000,
      'task waiting to retry',
    );
    await coord.stop();
    w.kill();
    coord = await startTestCoordinator({ ...env, SPINDLE_DB_PATH: coord.dbPath });
    client.close();
    client = createJobServiceClient(coord.address);
    const w2 = await fetchWorker('w2');
    w2.grant(1);
    const [a2] = await w2.waitAssignments(1);
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(1500);
    expect(a2!.attempt).toBe(2);
    fail(w2, a2!, { code: 'TIMEOUT', message: 'GET http://127.0.0.1:9/item.bin: no response headers within 30 s', retryable: true });
    const { task } = await finished(jobId);
    expect(task.outcome).toMatchObject({ $case: 'error', value: { code: 'TIMEOUT', httpStatus: 503, attempts: 2 } });
  });
});
