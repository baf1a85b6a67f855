import { createJobServiceClient, JobState, StatsResult, WorkerKind, type JobServiceClient, type JobSpec, type StatsTask } from '@spindle/sdk';
import { silentLogger, WorkerConnection, errorOutcome, type TaskContext, type TaskExecutor, type TaskOutcome } from '@spindle/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestCoordinator } from '../../../test/helpers/coordinator';
import { unary, waitFor } from '../../../test/helpers/grpc';

/**
 * A real executor whose tasks finish when the test says so (or when aborted),
 * so the connection's drain and reconnect logic can be driven step by step.
 */
class GatedExecutor implements TaskExecutor<StatsTask> {
  readonly started: TaskContext[] = [];
  private readonly gates = new Map<string, () => void>();
  closed = false;
  /** Tasks whose run() has settled. */
  settled = 0;
  /**
   * While set, an aborted task settles only when it resolves (an executor still
   * cleaning up, hashing, ...); see {@link holdAborted}.
   */
  private abortGate: Promise<void> | null = null;
  constructor(readonly slots: number) {}
  /** Aborted tasks settle only once the returned function is called. */
  holdAborted(): () => void {
    let release!: () => void;
    this.abortGate = new Promise((resolve) => (release = resolve));
    return release;
  }
  run(spec: StatsTask, ctx: TaskContext): Promise<TaskOutcome> {
    this.started.push(ctx);
    const outcome = new Promise<TaskOutcome>((resolve) => {
      const src = spec.source?.source?.value ?? '';
      this.gates.set(ctx.taskId, () =>
        resolve({ $case: 'stats', value: StatsResult.create({ source: src, rows: 1, columns: 1, bytes: 1 }) }),
      );
      ctx.signal.addEventListener('abort', () => {
        const gate = this.abortGate ?? Promise.resolve();
        void gate.then(() => resolve(errorOutcome('CANCELLED', 'aborted')));
      });
    });
    return outcome.finally(() => this.settled++);
  }
  finish(taskId: string): void {
    this.gates.get(taskId)?.();
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const spec = (n: number): JobSpec => ({
  name: 'wc',
  retry: { maxAttempts: 1, initialBackoffMs: 0, maxBackoffMs: 0 },
  kind: { $case: 'stats', value: { sources: Array.from({ length: n }, (_, i) => ({ source: { $case: 'path', value: `f${i}` } })) } },
});

describe('WorkerConnection against a real coordinator', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function setup(slots: number, env: Record<string, string> = {}) {
    const coord = await startTestCoordinator({ SPINDLE_HEARTBEAT_INTERVAL_MS: '100', SPINDLE_LEASE_TIMEOUT_MS: '1000', ...env });
    cleanup.push(() => coord.stop());
    const client: JobServiceClient = createJobServiceClient(coord.address);
    cleanup.push(() => client.close());
    const executor = new GatedExecutor(slots);
    const conn = new WorkerConnection({
      coordinatorAddress: coord.address,
      workerId: 'w',
      kind: WorkerKind.WORKER_KIND_STATS,
      version: 'test',
      executor,
      logger: silentLogger(),
      initialReconnectDelayMs: 50,
      maxReconnectDelayMs: 200,
    });
    cleanup.push(() => conn.close());
    conn.start();
    await waitFor(() => conn.isReady, 5000, 'ready');
    return { coord, client, executor, conn };
  }

  /**
   * Submits a one-task job, waits for attempt 1 to start on the (held) executor, then
   * restarts the coordinator on the same database; returns the job and a client of the
   * new coordinator.
   */
  async function restartUnderRunningTask(coord: Awaited<ReturnType<typeof startTestCoordinator>>, executor: GatedExecutor) {
    const first = createJobServiceClient(coord.address);
    const { job } = await unary(first.submitJob.bind(first), { requestId: '', spec: spec(1) });
    await waitFor(() => executor.started.length === 1, 5000, 'task');
    await coord.stop();
    first.close();
    const again = await startTestCoordinator({ SPINDLE_DB_PATH: coord.dbPath, SPINDLE_LISTEN_ADDR: coord.address });
    cleanup.push(() => again.stop());
    const client = createJobServiceClient(again.address);
    cleanup.push(() => client.close());
    return { jobId: job!.id, client };
  }

  it("tops credits up to what the executor wants now, never above its slots, and never takes them back", async () => {
    const { client, executor } = await setup(4);
    let want = 1;
    (executor as GatedExecutor & { credits(): number }).credits = () => want;
    // The first credits were granted at welcome (all 4 slots): use them up, then steer.
    const { job } = await unary(client.submitJob.bind(client), { requestId: '', spec: spec(9) });
    await waitFor(() => executor.started.length === 4, 5000, 'four tasks');
    want = 1;
    for (const i of [0, 1, 2]) executor.finish(executor.started[i]!.taskId);
    await new Promise((r) => setTimeout(r, 200));
    expect(executor.started).toHaveLength(4); // one still running = what is wanted: no credit
    want = 3;
    executor.finish(executor.started[3]!.taskId);
    await waitFor(() => executor.started.length === 7, 5000, 'three more');
    await new Promise((r) => setTimeout(r, 200));
    expect(executor.started).toHaveLength(7);
    want = 100; // capped by the 4 slots
    for (const i of [4, 5, 6]) executor.finish(executor.started[i]!.taskId);
    await waitFor(() => executor.started.length === 9, 5000, 'the rest');
    for (const i of [7, 8]) executor.finish(executor.started[i]!.taskId);
    await waitFor(async () => (await unary(client.getJob.bind(client), { jobId: job!.id })).job!.state === JobState.JOB_STATE_SUCCEEDED, 5000, 'job done');
  });

  it('runs no more tasks at once than its slots and sends every result', async () => {
    const { client, executor } = await setup(2);
    const { job } = await unary(client.submitJob.bind(client), { requestId: '', spec: spec(5) });
    await waitFor(() => executor.started.length === 2, 5000, 'two tasks');
    await new Promise((r) => setTimeout(r, 200));
    expect(executor.started).toHaveLength(2);
    for (let done = 0; done < 5; done++) {
      await waitFor(() => executor.started.length > done, 5000, `task ${done}`);
      executor.finish(executor.started[done]!.taskId);
    }
    await waitFor(async () => (await unary(client.getJob.bind(client), { jobId: job!.id })).job!.state === JobState.JOB_STATE_SUCCEEDED, 5000, 'job done');
  });

  it('sends the results of tasks that finish in the same turn as one message (protocol 2)', async () => {
    const { coord, client, executor } = await setup(20, { SPINDLE_METRICS_ADDR: '127.0.0.1:0' });
    const metric = async (name: string) => {
      const body = await (await fetch(`http://${coord.metricsAddress}/metrics`)).text();
      return Number(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm').exec(body)?.[1] ?? 0);
    };
    const { job } = await unary(client.submitJob.bind(client), { requestId: '', spec: spec(20) });
    await waitFor(() => executor.started.length === 20, 5000, 'twenty tasks');
    for (const ctx of executor.started) executor.finish(ctx.taskId);
    await waitFor(async () => (await unary(client.getJob.bind(client), { jobId: job!.id })).job!.state === JobState.JOB_STATE_SUCCEEDED, 5000, 'job done');
    expect(await metric('spindle_worker_results_received_total')).toBe(20);
    expect(await metric('spindle_worker_messages_received_total{type="results"}')).toBe(1);
    expect(await metric('spindle_worker_messages_received_total{type="result"}')).toBe(0);
  });

  it('drains: finishes running tasks within the grace, takes no new ones', async () => {
    const { client, executor, conn } = await setup(1);
    const { job } = await unary(client.submitJob.bind(client), { requestId: '', spec: spec(2) });
    await waitFor(() => executor.started.length === 1, 5000, 'first task');
    const draining = conn.drain(5000);
    setTimeout(() => executor.finish(executor.started[0]!.taskId), 100);
    await draining;
    expect(executor.started).toHaveLength(1);
    const after = (await unary(client.getJob.bind(client), { jobId: job!.id })).job!;
    expect(after.progress).toMatchObject({ tasksSucceeded: 1, tasksPending: 1, tasksRunning: 0 });
  });

  it('cancels tasks still running when the drain grace passes; they are re-queued without using an attempt', async () => {
    const { client, executor, conn } = await setup(1);
    const { job } = await unary(client.submitJob.bind(client), { requestId: '', spec: spec(1) });
    await waitFor(() => executor.started.length === 1, 5000, 'task');
    await conn.drain(100);
    expect(executor.started[0]!.signal.aborted).toBe(true);
    // The same cancellation without an AbortSignal, with the reason.
    expect(executor.started[0]!.cancel?.aborted).toBe(true);
    expect(String(executor.started[0]!.cancel?.reason)).toBe('Error: worker shutting down');
    const after = (await unary(client.getJob.bind(client), { jobId: job!.id })).job!;
    // maxAttempts is 1, yet the task is pending again, not failed.
    expect(after.progress).toMatchObject({ tasksPending: 1, tasksFailed: 0 });
  });

  it.each([
    [2, 'assigned at once, it starts when the old attempt has settled'],
    [1, 'the slot the old attempt held is granted again when it settles'],
  ])('runs the new attempt of a task whose old attempt is still stopping after a restart (%i slots: %s)', async (slots) => {
    const { coord, executor, conn } = await setup(slots);
    const release = executor.holdAborted(); // attempt 1 keeps stopping until released
    const { jobId, client } = await restartUnderRunningTask(coord, executor);
    const job = { id: jobId };
    await waitFor(() => conn.isReady, 10_000, 'reconnected');
    if (slots > 1) {
      // Assigned while attempt 1 still stops: it must wait, not be dropped as a duplicate.
      await waitFor(async () => (await unary(client.getJob.bind(client), { jobId: job!.id })).job!.progress!.tasksRunning === 1, 5000, 'attempt 2 assigned');
    }
    expect(executor.started).toHaveLength(1);
    release();
    // The new attempt starts once the old one has settled, on the same worker.
    await waitFor(() => executor.started.length === 2, 10_000, 'the new attempt');
    expect(executor.started.map((c) => c.attempt)).toEqual([1, 2]);
    executor.finish(executor.started[1]!.taskId);
    await waitFor(async () => (await unary(client.getJob.bind(client), { jobId: job!.id })).job!.state === JobState.JOB_STATE_SUCCEEDED, 5000, 'job done');
    expect(conn.isReady).toBe(true);
  });

  it('a cancel for a new attempt still waiting for the old one ends it without running it', async () => {
    const { coord, executor } = await setup(2);
    const release = executor.holdAborted();
    const { jobId, client } = await restartUnderRunningTask(coord, executor);
    const job = { id: jobId };
    await waitFor(async () => (await unary(client.getJob.bind(client), { jobId: job!.id })).job!.progress!.tasksRunning === 1, 10_000, 'attempt 2 assigned');
    await unary(client.cancelJob.bind(client), { jobId: job!.id });
    release();
    await waitFor(() => executor.settled === 1, 5000, 'attempt 1 settled');
    // Give a wrongly started attempt 2 every chance to show up.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 100));
    expect(executor.started.map((c) => c.attempt)).toEqual([1]);
    expect((await unary(client.getJob.bind(client), { jobId: job!.id })).job!.state).toBe(JobState.JOB_STATE_CANCELLED);
  });

  it('reconnects after the coordinator restarts and picks up the job again', async () => {
    const { coord, executor, conn } = await setup(1);
    let client = createJobServiceClient(coord.address);
    const { job } = await unary(client.submitJob.bind(client), { requestId: '', spec: spec(1) });
    await waitFor(() => executor.started.length === 1, 5000, 'task');
    await coord.stop();
    client.close();
    await waitFor(() => !conn.isReady, 5000, 'disconnect');
    expect(executor.started[0]!.signal.aborted).toBe(true);
    const again = await startTestCoordinator({ SPINDLE_DB_PATH: coord.dbPath, SPINDLE_LISTEN_ADDR: coord.address });
    cleanup.push(() => again.stop());
    await waitFor(() => conn.isReady, 10_000, 'reconnected');
    await waitFor(() => executor.started.length === 2, 5000, 'task again');
    executor.finish(executor.started[1]!.taskId);
    client = createJobServiceClient(again.address);
    cleanup.push(() => client.close());
    await waitFor(async () => (await unary(client.getJob.bind(client), { jobId: job!.id })).job!.state === JobState.JOB_STATE_SUCCEEDED, 5000, 'job done');
  });
});
