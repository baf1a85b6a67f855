import { status } from '@grpc/grpc-js';
import { createJobServiceClient, JobState, TaskState, WorkerKind, type JobServiceClient, type JobSpec } from '@spindle/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestCoordinator } from '../../../test/helpers/coordinator';
import { collect, unary, waitFor } from '../../../test/helpers/grpc';
import { TestWorker } from '../../../test/helpers/test-worker';

const statsSpec = (n: number, maxAttempts = 3): JobSpec => ({
  name: 'protocol',
  retry: { maxAttempts, initialBackoffMs: 10, maxBackoffMs: 20 },
  kind: { $case: 'stats', value: { sources: Array.from({ length: n }, (_, i) => ({ source: { $case: 'path', value: `f${i}.csv` } })) } },
});

describe('WorkerService.Connect (coordinator side)', () => {
  let coord: Awaited<ReturnType<typeof startTestCoordinator>>;
  let client: JobServiceClient;
  const workers: TestWorker[] = [];
  const worker = (id: string, kind = WorkerKind.WORKER_KIND_STATS, hello = true, protocolVersion = 1) => {
    const w = new TestWorker(coord.address, id, kind, hello, protocolVersion);
    workers.push(w);
    return w;
  };
  const submit = async (spec: JobSpec) => (await unary(client.submitJob.bind(client), { requestId: '', spec })).job!;
  const getJob = async (jobId: string) => (await unary(client.getJob.bind(client), { jobId })).job!;

  beforeEach(async () => {
    coord = await startTestCoordinator({ SPINDLE_HEARTBEAT_INTERVAL_MS: '200', SPINDLE_LEASE_TIMEOUT_MS: '1000' });
    client = createJobServiceClient(coord.address);
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) w.kill();
    client.close();
    await coord.stop();
  });

  it('never assigns more tasks than the credits granted', async () => {
    const w = worker('w1');
    await w.waitWelcome();
    const job = await submit(statsSpec(5));
    w.grant(2);
    const first = await w.waitAssignments(2);
    // Give the coordinator every chance to over-assign before checking.
    await new Promise((r) => setTimeout(r, 300));
    expect(w.assignments).toHaveLength(2);
    w.succeed(first[0]!);
    w.grant(1);
    await w.waitAssignments(3);
    await new Promise((r) => setTimeout(r, 200));
    expect(w.assignments).toHaveLength(3);
    expect((await getJob(job.id)).progress).toMatchObject({ tasksRunning: 2, tasksPending: 2, tasksSucceeded: 1 });
  });

  it('puts the tasks of a broken stream back in the queue with attempt + 1', async () => {
    const w1 = worker('w1');
    await w1.waitWelcome();
    const job = await submit(statsSpec(2));
    w1.grant(2);
    const [a0] = await w1.waitAssignments(2);
    expect(a0!.attempt).toBe(1);
    w1.kill();
    const w2 = worker('w2');
    await w2.waitWelcome();
    w2.grant(2);
    const again = await w2.waitAssignments(2);
    expect(again.map((a) => a.attempt)).toEqual([2, 2]);
    for (const a of again) w2.succeed(a);
    await waitFor(async () => (await getJob(job.id)).state === JobState.JOB_STATE_SUCCEEDED, 5000, 'job done');
  });

  it('expires the lease of a silent worker and re-queues its task', async () => {
    const silent = worker('silent');
    await silent.waitWelcome();
    await submit(statsSpec(1));
    silent.grant(1);
    await silent.waitAssignments(1);
    const closed = await silent.waitClosed();
    expect((closed as { code?: number }).code).toBe(status.DEADLINE_EXCEEDED);
    const w2 = worker('w2');
    await w2.waitWelcome();
    w2.grant(1);
    expect((await w2.waitAssignments(1))[0]!.attempt).toBe(2);
  });

  it('ignores a result for an attempt the worker no longer holds', async () => {
    const w1 = worker('w1');
    await w1.waitWelcome();
    const job = await submit(statsSpec(1));
    w1.grant(1);
    const [a] = await w1.waitAssignments(1);
    w1.succeed({ ...a!, attempt: a!.attempt + 5 }); // not the leased attempt
    await new Promise((r) => setTimeout(r, 200));
    expect((await getJob(job.id)).progress?.tasksSucceeded).toBe(0);
    w1.succeed(a!);
    await waitFor(async () => (await getJob(job.id)).state === JobState.JOB_STATE_SUCCEEDED, 5000, 'job done');
  });

  it('retries a retryable failure and fails the task after max attempts, naming the error', async () => {
    const w = worker('w1');
    await w.waitWelcome();
    const job = await submit(statsSpec(1, 2));
    w.grant(1);
    const [a1] = await w.waitAssignments(1);
    w.fail(a1!, 'NETWORK', true);
    w.grant(1);
    const [, a2] = await w.waitAssignments(2);
    expect(a2!.attempt).toBe(2);
    w.fail(a2!, 'NETWORK', true);
    await waitFor(async () => (await getJob(job.id)).state === JobState.JOB_STATE_FAILED, 5000, 'job failed');
    const { tasks } = await unary(client.listResults.bind(client), { jobId: job.id, pageSize: 0, pageToken: '', state: 0 });
    expect(tasks[0]).toMatchObject({ state: TaskState.TASK_STATE_FAILED, attempt: 2 });
    expect(tasks[0]!.outcome).toMatchObject({ $case: 'error', value: { code: 'NETWORK', attempts: 2 } });
  });

  it('does not retry a non-retryable failure', async () => {
    const w = worker('w1');
    await w.waitWelcome();
    const job = await submit(statsSpec(1, 5));
    w.grant(3);
    const [a1] = await w.waitAssignments(1);
    w.fail(a1!, 'CSV_MALFORMED', false);
    await waitFor(async () => (await getJob(job.id)).state === JobState.JOB_STATE_FAILED, 5000, 'job failed');
    expect(w.assignments).toHaveLength(1);
  });

  it('rejects a stream whose first message is not hello', async () => {
    const w = worker('nohello', WorkerKind.WORKER_KIND_STATS, false);
    w.grant(1);
    const err = (await w.waitClosed()) as { code?: number; details?: string };
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toContain('hello');
  });

  it('rejects a hello without a worker kind', async () => {
    const w = worker('nokind', WorkerKind.WORKER_KIND_UNSPECIFIED);
    const err = (await w.waitClosed()) as { code?: number; details?: string };
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toContain('hello.kind');
  });

  it('only gives a worker tasks of its own kind', async () => {
    const fetcher = worker('fetcher', WorkerKind.WORKER_KIND_FETCH);
    await fetcher.waitWelcome();
    fetcher.grant(5);
    await submit(statsSpec(2));
    await new Promise((r) => setTimeout(r, 300));
    expect(fetcher.assignments).toHaveLength(0);
    const { workers: listed } = await unary(client.listWorkers.bind(client), { kind: WorkerKind.WORKER_KIND_FETCH });
    expect(listed.map((x) => [x.workerId, x.credits])).toEqual([['fetcher', 5]]);
  });

  it('sends cancel to workers running tasks of a cancelled job', async () => {
    const w = worker('w1');
    await w.waitWelcome();
    const job = await submit(statsSpec(3));
    w.grant(1);
    const [a] = await w.waitAssignments(1);
    const { job: cancelled } = await unary(client.cancelJob.bind(client), { jobId: job.id });
    expect(cancelled!.state).toBe(JobState.JOB_STATE_CANCELLED);
    await waitFor(() => w.received.find((m) => m.message?.$case === 'cancel'), 5000, 'cancel message');
    const cancel = w.received.find((m) => m.message?.$case === 'cancel')!.message!;
    expect(cancel.value).toMatchObject({ taskId: a!.taskId, attempt: a!.attempt });
    expect((await getJob(job.id)).progress).toMatchObject({ tasksCancelled: 3, tasksRunning: 0, tasksPending: 0 });
  });

  it('speaks protocol 2 with a worker that offers it: one message per dispatch pass, results in batches', async () => {
    const w = worker('batcher', WorkerKind.WORKER_KIND_STATS, true, 2);
    const welcome = (await w.waitWelcome()) as { message: { value: { protocolVersion: number } } };
    expect(welcome.message.value.protocolVersion).toBe(2);
    const job = await submit(statsSpec(10, 1));
    w.grant(10);
    const assigned = await w.waitAssignments(10);
    // All ten were queued when the credits came: one pass, one message.
    expect(w.assignmentMessages).toEqual([10]);
    expect(assigned.map((a) => a.attempt)).toEqual(Array(10).fill(1));
    // A batch with nine successes, one final failure and one stale attempt (ignored).
    w.sendResults([
      ...assigned.slice(0, 9).map((a) => TestWorker.success(a, 5)),
      TestWorker.failure(assigned[9]!, 'CSV_MALFORMED', false),
      TestWorker.success({ ...assigned[0]!, attempt: 7 }),
    ]);
    await waitFor(async () => (await getJob(job.id)).state === JobState.JOB_STATE_FAILED, 5000, 'job done');
    expect((await getJob(job.id)).progress).toMatchObject({ tasksSucceeded: 9, tasksFailed: 1, rowsDone: 45 });
    // Each task-finished event (built without reading the task back) equals the task as stored.
    const events = await collect(client.watchJob({ jobId: job.id, afterSeq: 0, skipTaskEvents: false }));
    const finished = events.flatMap((e) => (e.event?.event?.$case === 'taskFinished' ? [e.event.event.value.task!] : []));
    const { tasks } = await unary(client.listResults.bind(client), { jobId: job.id, pageSize: 100, pageToken: '', state: 0 });
    expect(finished).toHaveLength(10);
    expect(finished.sort((a, b) => a.index - b.index)).toEqual(tasks);
    expect(tasks[9]).toMatchObject({ state: TaskState.TASK_STATE_FAILED, target: 'f9.csv', workerId: 'batcher', attempt: 1 });
    expect(tasks[9]!.outcome).toMatchObject({ $case: 'error', value: { code: 'CSV_MALFORMED', attempts: 1 } });
  });

  it('sends protocol 1 workers one assign message per task', async () => {
    const w = worker('classic');
    const welcome = (await w.waitWelcome()) as { message: { value: { protocolVersion: number } } };
    expect(welcome.message.value.protocolVersion).toBe(1);
    await submit(statsSpec(4));
    w.grant(4);
    await w.waitAssignments(4);
    expect(w.assignmentMessages).toEqual([1, 1, 1, 1]);
  });

  it('rejects a results batch on a protocol 1 session', async () => {
    const w = worker('classic');
    await w.waitWelcome();
    await submit(statsSpec(1));
    w.grant(1);
    const [a] = await w.waitAssignments(1);
    w.sendResults([TestWorker.success(a!)]);
    const err = (await w.waitClosed()) as { code?: number; details?: string };
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toContain('protocol 2');
  });

  it('rejects a protocol version it does not speak, naming the ones it does', async () => {
    const w = worker('future', WorkerKind.WORKER_KIND_STATS, true, 3);
    const err = (await w.waitClosed()) as { code?: number; details?: string };
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toBe('hello.protocol_version: 3 is not supported; this coordinator speaks 1 to 2');
  });
});
