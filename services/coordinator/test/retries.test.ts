/**
 * Retries as the coordinator decides them, over real gRPC with a hand-driven fetch
 * worker (the test chooses each attempt's error): Retry-After against the policy's
 * backoff and the coordinator's limit, what a failed item's final error says, and the
 * attempts that do not count (a draining worker's cancellations, a coordinator shutdown).
 */
import {
  createJobServiceClient,
  FetchResult,
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
import Database from 'better-sqlite3';
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

  async function submit(retry: RetryPolicy, items = 1): Promise<string> {
    const { job } = await unary(client.submitJob.bind(client), {
      requestId: '',
      spec: {
        name: 'retries',
        retry,
        kind: {
          $case: 'fetch',
          value: {
            items: Array.from({ length: items }, (_, i) => ({
              url: `http://127.0.0.1:9/item${i === 0 ? '' : i}.bin`,
              fileName: '',
              sha256: '',
              expectedSize: 0,
            })),
            outputDir: '',
            options: undefined,
          },
        },
      },
    });
    return job!.id;
  }

  /** Restarts the coordinator gracefully on the same database; the old workers are gone. */
  async function restart(): Promise<void> {
    await coord.stop();
    for (const w of workers.splice(0)) w.kill();
    const { dbPath } = coord;
    // The helper names a fresh file as dbPath; this coordinator uses the old one.
    coord = Object.assign(await startTestCoordinator({ ...env, SPINDLE_DB_PATH: dbPath }), { dbPath });
    client.close();
    client = createJobServiceClient(coord.address);
  }

  /** A worker leaving (a rolling update): draining, then its own CANCELLED result for `a`. */
  function drainAndCancel(w: TestWorker, a: TaskAssignment): void {
    w.send({ message: { $case: 'draining', value: { reason: 'rolling update' } } });
    fail(w, a, { code: 'CANCELLED', message: 'worker draining', retryable: false });
  }

  /** The job's task rows as stored, in item order (committed within the store's group-commit window). */
  function taskRows(jobId: string): Array<{ state: TaskState; attempt: number; free_attempts: number }> {
    const db = new Database(coord.dbPath, { readonly: true });
    try {
      return db.prepare('SELECT state, attempt, free_attempts FROM tasks WHERE job_id = ? ORDER BY idx').all(jobId) as Array<{
        state: TaskState;
        attempt: number;
        free_attempts: number;
      }>;
    } finally {
      db.close();
    }
  }

  const timeout: Partial<TaskError> = {
    code: 'TIMEOUT',
    message: 'GET http://127.0.0.1:9/item.bin: no response headers within 30 s',
    retryable: true,
  };

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
    await restart();
    const w2 = await fetchWorker('w2');
    w2.grant(1);
    const [a2] = await w2.waitAssignments(1);
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(1500);
    expect(a2!.attempt).toBe(2);
    fail(w2, a2!, { code: 'TIMEOUT', message: 'GET http://127.0.0.1:9/item.bin: no response headers within 30 s', retryable: true });
    const { task } = await finished(jobId);
    expect(task.outcome).toMatchObject({ $case: 'error', value: { code: 'TIMEOUT', httpStatus: 503, attempts: 2 } });
  });

  it('does not use up the attempt a graceful coordinator restart interrupted', async () => {
    const w = await fetchWorker('w');
    const jobId = await submit({ maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 });
    w.grant(1);
    await w.waitAssignments(1);
    await restart();
    // The stopping coordinator wrote the attempt back as free.
    expect(taskRows(jobId)).toEqual([{ state: TaskState.TASK_STATE_PENDING, attempt: 1, free_attempts: 1 }]);
    const w2 = await fetchWorker('w2');
    w2.grant(3);
    fail(w2, (await w2.waitAssignments(1))[0]!, timeout);
    fail(w2, (await w2.waitAssignments(2))[1]!, timeout);
    const { task, retrying } = await finished(jobId);
    // Three assignments, each with its own number; two of them were used.
    expect([...w.assignments, ...w2.assignments].map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(retrying.map((r) => r.attempt)).toEqual([2]);
    expect(task).toMatchObject({ state: TaskState.TASK_STATE_FAILED, attempt: 3 });
    expect(task.outcome).toMatchObject({ $case: 'error', value: { code: 'TIMEOUT', attempts: 2 } });
  });

  it("remembers a draining worker's cancellations across a coordinator restart", async () => {
    const jobId = await submit({ maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 });
    // Two rolling updates each cancel the running attempt.
    for (const [i, id] of ['w1', 'w2'].entries()) {
      const w = await fetchWorker(id);
      w.grant(1);
      const [a] = await w.waitAssignments(1);
      drainAndCancel(w, a!);
      await waitFor(() => {
        const [row] = taskRows(jobId);
        return row?.state === TaskState.TASK_STATE_PENDING && row.free_attempts === i + 1;
      }, 5000, 'task pending again');
      w.close();
    }
    expect(taskRows(jobId)).toEqual([{ state: TaskState.TASK_STATE_PENDING, attempt: 2, free_attempts: 2 }]);
    await restart();
    const w3 = await fetchWorker('w3');
    w3.grant(3);
    const [a3] = await w3.waitAssignments(1);
    expect(a3!.attempt).toBe(3);
    fail(w3, a3!, timeout);
    // Before, the restart forgot both cancellations and attempt 3 failed for good.
    const a4 = (await w3.waitAssignments(2))[1]!;
    expect(a4.attempt).toBe(4);
    fail(w3, a4, timeout);
    const { task } = await finished(jobId);
    expect(task).toMatchObject({ state: TaskState.TASK_STATE_FAILED, attempt: 4 });
    expect(task.outcome).toMatchObject({ $case: 'error', value: { code: 'TIMEOUT', attempts: 2 } });
  });

  it("keeps a task's free attempts in its row alone, through success and cancel", async () => {
    // max_attempts 1: a drained attempt must not be the only one.
    const jobId = await submit({ maxAttempts: 1, initialBackoffMs: 10, maxBackoffMs: 20 }, 2);
    const w1 = await fetchWorker('w1');
    w1.grant(2);
    const [a, b] = await w1.waitAssignments(2);
    drainAndCancel(w1, a!);
    drainAndCancel(w1, b!);
    await waitFor(() => taskRows(jobId).every((r) => r.state === TaskState.TASK_STATE_PENDING && r.free_attempts === 1), 5000, 'tasks pending again');
    w1.close();
    const w2 = await fetchWorker('w2');
    w2.grant(1);
    const [a2] = await w2.waitAssignments(1);
    expect(a2).toMatchObject({ taskId: a!.taskId, attempt: 2 });
    w2.send({
      message: {
        $case: 'result',
        value: {
          taskId: a2!.taskId,
          attempt: 2,
          outcome: { $case: 'fetch', value: FetchResult.create({ url: 'http://127.0.0.1:9/item.bin', path: 'item.bin', bytes: 1, httpStatus: 200 }) },
        },
      },
    });
    await waitFor(() => taskRows(jobId)[0]?.state === TaskState.TASK_STATE_SUCCEEDED, 5000, 'first task succeeded');
    const cancelled = await unary(client.cancelJob.bind(client), { jobId });
    expect(cancelled.job!.state).toBe(JobState.JOB_STATE_CANCELLED);
    // Success and cancel are terminal rows that keep the count; the coordinator holds no
    // per-task copy of it, so a restart resumes nothing of this job.
    expect(taskRows(jobId)).toEqual([
      { state: TaskState.TASK_STATE_SUCCEEDED, attempt: 2, free_attempts: 1 },
      { state: TaskState.TASK_STATE_CANCELLED, attempt: 1, free_attempts: 1 },
    ]);
    const { tasks } = await unary(client.listResults.bind(client), { jobId, pageSize: 0, pageToken: '', state: 0 });
    expect(tasks.map((t) => [t.state, t.attempt])).toEqual([
      [TaskState.TASK_STATE_SUCCEEDED, 2],
      [TaskState.TASK_STATE_CANCELLED, 1],
    ]);
  });
});
