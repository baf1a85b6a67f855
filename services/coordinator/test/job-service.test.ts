import { status, type ServiceError } from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import {
  createJobServiceClient,
  JobState,
  JobView,
  TaskState,
  WorkerKind,
  JobEvent,
  type JobServiceClient,
  type JobSpec,
} from '@spindle/sdk';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SqliteStore } from '@spindle/coordinator';
import { startTestCoordinator } from '../../../test/helpers/coordinator';
import { collect, unary, waitFor } from '../../../test/helpers/grpc';
import { TestWorker } from '../../../test/helpers/test-worker';

const stats = (n: number, name = 'j'): JobSpec => ({
  name,
  kind: { $case: 'stats', value: { sources: Array.from({ length: n }, (_, i) => ({ source: { $case: 'path', value: `f${i}.csv` } })) } },
});

async function expectStatus(p: Promise<unknown>, code: status, text?: string): Promise<ServiceError> {
  const err = (await p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: ServiceError) => e,
  )) as ServiceError;
  expect(err.code, err.details).toBe(code);
  if (text) expect(err.details).toContain(text);
  return err;
}

describe('JobService', () => {
  let coord: Awaited<ReturnType<typeof startTestCoordinator>>;
  let client: JobServiceClient;
  const extra: Array<() => unknown> = [];
  beforeEach(async () => {
    coord = await startTestCoordinator({ SPINDLE_MAX_ITEMS_PER_JOB: '10', SPINDLE_PROGRESS_INTERVAL_MS: '20' });
    client = createJobServiceClient(coord.address);
  });
  afterEach(async () => {
    for (const f of extra.splice(0)) await f();
    client.close();
    await coord.stop();
  });
  const submit = (spec: JobSpec | undefined, requestId = '') => unary(client.submitJob.bind(client), { requestId, spec });

  it('is idempotent by request id', async () => {
    const a = await submit(stats(1), 'req-1');
    const b = await submit(stats(1), 'req-1');
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    expect(b.job!.id).toBe(a.job!.id);
    const c = await submit(stats(1), 'req-2');
    expect(c.job!.id).not.toBe(a.job!.id);
    // The same key for another job is refused (answering with the first job would report on
    // the wrong one), naming that job; and nothing new is created.
    const err = await expectStatus(submit(stats(2), 'req-1'), status.ALREADY_EXISTS, 'request_id req-1 was used for job');
    expect(err.details).toContain(a.job!.id);
    const { jobs } = await unary(client.listJobs.bind(client), { pageSize: 10, pageToken: '', state: 0, kind: 0 });
    expect(jobs).toHaveLength(2);
  });

  it('refuses URLs with credentials without echoing them, and unknown if_exists values', async () => {
    const fetchSpec = (url: string, ifExists = 0): JobSpec => ({
      name: '',
      kind: {
        $case: 'fetch',
        value: {
          items: [{ url, fileName: '', sha256: '', expectedSize: 0 }],
          outputDir: '',
          options: { maxBytes: 0, connectTimeoutMs: 0, headersTimeoutMs: 0, idleTimeoutMs: 0, totalTimeoutMs: 0, perHostConcurrency: 0, ifExists },
        },
      },
    });
    const err = await expectStatus(submit(fetchSpec('http://user:s3cret@example.com/f.csv')), status.INVALID_ARGUMENT, 'spec.fetch.items[0].url: credentials');
    expect(err.details).not.toContain('s3cret');
    await expectStatus(submit(fetchSpec('http://example.com/f.csv', 42)), status.INVALID_ARGUMENT, 'spec.fetch.options.if_exists: unknown value 42');
  });

  it('rejects bad specs with INVALID_ARGUMENT naming the field', async () => {
    await expectStatus(submit(undefined), status.INVALID_ARGUMENT, 'spec');
    await expectStatus(
      submit({ name: '', kind: { $case: 'fetch', value: { items: [{ url: 'file:///etc/passwd', fileName: '', sha256: '', expectedSize: 0 }], outputDir: '' } } }),
      status.INVALID_ARGUMENT,
      'spec.fetch.items[0].url',
    );
    await expectStatus(
      submit({ name: '', kind: { $case: 'fetch', value: { items: [{ url: 'http://x/a', fileName: '', sha256: '', expectedSize: 0 }], outputDir: '../up' } } }),
      status.INVALID_ARGUMENT,
      'spec.fetch.output_dir',
    );
    await expectStatus(submit({ name: '', kind: { $case: 'stats', value: { sources: [] } } }), status.INVALID_ARGUMENT, 'spec.stats.sources');
    await expectStatus(submit(stats(1), 'has space'), status.INVALID_ARGUMENT, 'request_id');
  });

  it('leaves the spec out of SubmitJob, RunJob, GetJob and CancelJob answers for JobView BASIC, and only then', async () => {
    const spec = stats(3, 'views');
    const full = await submit(spec, 'view-1');
    expect(full.job!.spec).toEqual(spec);
    const basic = await unary(client.submitJob.bind(client), { requestId: '', spec, view: JobView.JOB_VIEW_BASIC });
    expect(basic.job).toMatchObject({ name: 'views', kind: 2, progress: { tasksTotal: 3 } });
    expect(basic.job!.spec).toBeUndefined();
    // The idempotent answer follows the view of the retry, not of the first call.
    const again = await unary(client.submitJob.bind(client), { requestId: 'view-1', spec, view: JobView.JOB_VIEW_BASIC });
    expect(again).toMatchObject({ created: false, job: { id: full.job!.id, spec: undefined } });

    const get = (view?: JobView) => unary(client.getJob.bind(client), { jobId: full.job!.id, view });
    expect((await get()).job!.spec).toEqual(spec);
    expect((await get(JobView.JOB_VIEW_UNSPECIFIED)).job!.spec).toEqual(spec);
    expect((await get(JobView.JOB_VIEW_FULL)).job!.spec).toEqual(spec);
    const got = (await get(JobView.JOB_VIEW_BASIC)).job!;
    expect(got.spec).toBeUndefined();
    expect(got).toEqual({ ...(await get()).job!, spec: undefined });

    const stream = client.runJob({ requestId: '', spec, view: JobView.JOB_VIEW_BASIC });
    extra.push(() => stream.cancel());
    const first = await new Promise((resolve, reject) => stream.once('data', resolve).once('error', reject));
    expect(first).toMatchObject({ message: { $case: 'job', value: { name: 'views', spec: undefined } } });

    // CancelJob too: a huge job's answer must not echo every item unless asked to.
    const other = await submit(spec, 'view-2');
    const cancelled = await unary(client.cancelJob.bind(client), { jobId: full.job!.id, view: JobView.JOB_VIEW_BASIC });
    expect(cancelled.job).toMatchObject({ id: full.job!.id, spec: undefined });
    expect((await unary(client.cancelJob.bind(client), { jobId: other.job!.id })).job!.spec).toEqual(spec);
  });

  it('rejects an unknown JobView with INVALID_ARGUMENT naming the field', async () => {
    const { job } = await submit(stats(1));
    await expectStatus(unary(client.getJob.bind(client), { jobId: job!.id, view: 7 as JobView }), status.INVALID_ARGUMENT, 'view');
    await expectStatus(
      unary(client.submitJob.bind(client), { requestId: '', spec: stats(1), view: 7 as JobView }),
      status.INVALID_ARGUMENT,
      'view',
    );
  });

  it('refuses a job over the item limit with RESOURCE_EXHAUSTED', async () => {
    await expectStatus(submit(stats(11)), status.RESOURCE_EXHAUSTED, 'limit of 10');
  });

  it('answers NOT_FOUND for an unknown job and FAILED_PRECONDITION for cancelling a finished one', async () => {
    await expectStatus(unary(client.getJob.bind(client), { jobId: 'nope' }), status.NOT_FOUND);
    const { job } = await submit(stats(2));
    await unary(client.cancelJob.bind(client), { jobId: job!.id });
    await expectStatus(unary(client.cancelJob.bind(client), { jobId: job!.id }), status.FAILED_PRECONDITION, 'already finished');
  });

  it('pages through ListJobs newest first', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await submit(stats(1, `job${i}`))).job!.id);
    const seen: string[] = [];
    let pageToken = '';
    do {
      const page = await unary(client.listJobs.bind(client), { pageSize: 2, pageToken, state: 0, kind: 0 });
      expect(page.jobs.length).toBeLessThanOrEqual(2);
      for (const j of page.jobs) expect(j.spec).toBeUndefined();
      seen.push(...page.jobs.map((j) => j.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual([...ids].reverse());
    const queued = await unary(client.listJobs.bind(client), { pageSize: 0, pageToken: '', state: JobState.JOB_STATE_QUEUED, kind: 0 });
    expect(queued.jobs).toHaveLength(5);
    await expectStatus(unary(client.listJobs.bind(client), { pageSize: 0, pageToken: '!!', state: 0, kind: 0 }), status.INVALID_ARGUMENT, 'page_token');
  });

  it('streams events with RunJob and replays them from any sequence number with WatchJob', async () => {
    const w = new TestWorker(coord.address, 'w', WorkerKind.WORKER_KIND_STATS);
    extra.push(() => w.kill());
    await w.waitWelcome();
    w.grant(5);
    const stream = client.runJob({ requestId: '', spec: stats(3) });
    const received = collect(stream);
    const assignments = await w.waitAssignments(3);
    for (const a of assignments) w.succeed(a, 10);
    const messages = await received;
    expect(messages[0]!.message?.$case).toBe('job');
    const events = messages.flatMap((m) => (m.message?.$case === 'event' ? [m.message.value] : []));
    const stored = events.filter((e) => e.event?.$case !== 'progress');
    expect(stored.map((e) => e.seq)).toEqual(stored.map((_, i) => i + 1));
    const last = stored[stored.length - 1]!;
    expect(last.event).toMatchObject({ $case: 'stateChanged', value: { state: JobState.JOB_STATE_SUCCEEDED } });
    expect(stored.filter((e) => e.event?.$case === 'taskFinished')).toHaveLength(3);
    expect(last.event?.$case === 'stateChanged' && last.event.value.progress?.rowsDone).toBe(30);

    const jobId = (messages[0]!.message as { value: { id: string } }).value.id;
    const replay = (await collect(client.watchJob({ jobId, afterSeq: 2, skipTaskEvents: false }))).map((m) => m.event as JobEvent);
    expect(replay.map((e) => e.seq)).toEqual(stored.slice(2).map((e) => e.seq));
    const none = await collect(client.watchJob({ jobId, afterSeq: last.seq, skipTaskEvents: false }));
    expect(none).toHaveLength(0);
    await expectStatus(collect(client.watchJob({ jobId: 'nope', afterSeq: 0, skipTaskEvents: false })), status.NOT_FOUND);
  });

  it('replays every stored event as it was sent live, task outcomes included, also after a restart', async () => {
    const w = new TestWorker(coord.address, 'w', WorkerKind.WORKER_KIND_STATS);
    extra.push(() => w.kill());
    await w.waitWelcome();
    w.grant(5);
    const spec: JobSpec = { ...stats(3), retry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 1 } };
    const received = collect(client.runJob({ requestId: '', spec }));
    const [a, b, c] = await w.waitAssignments(3);
    w.succeed(a!, 10);
    w.fail(b!, 'CSV_PARSE', false);
    w.fail(c!, 'IO', true);
    const [, , , again] = await w.waitAssignments(4);
    w.succeed(again!, 4);
    const live = (await received)
      .flatMap((m) => (m.message?.$case === 'event' ? [m.message.value] : []))
      .filter((e) => e.event?.$case !== 'progress');
    const jobId = live[0]!.jobId;
    const finished = live.flatMap((e) => (e.event?.$case === 'taskFinished' ? [e.event.value.task!] : []));
    expect(finished.map((t) => [t.id, t.state, t.attempt, t.workerId, t.outcome?.$case])).toEqual([
      [a!.taskId, TaskState.TASK_STATE_SUCCEEDED, 1, 'w', 'stats'],
      [b!.taskId, TaskState.TASK_STATE_FAILED, 1, 'w', 'error'],
      [c!.taskId, TaskState.TASK_STATE_SUCCEEDED, 2, 'w', 'stats'],
    ]);
    const replay = async () => (await collect(client.watchJob({ jobId, afterSeq: 0, skipTaskEvents: false }))).map((m) => m.event);
    expect(await replay()).toEqual(live);

    /** Stops the coordinator, changes its database with `edit`, and starts another on it. */
    const restart = async (edit: (db: Database.Database) => void = () => {}) => {
      await coord.stop();
      const db = new Database(coord.dbPath);
      edit(db);
      db.close();
      coord = await startTestCoordinator({ SPINDLE_DB_PATH: coord.dbPath });
      client.close();
      client = createJobServiceClient(coord.address);
    };
    await restart();
    expect(await replay()).toEqual(live);

    // As an older coordinator stored them: a row per event, each whole.
    await restart((db) => {
      db.prepare('DELETE FROM events WHERE job_id = ?').run(jobId);
      const insert = db.prepare('INSERT INTO events (job_id, seq, data) VALUES (?, ?, ?)');
      for (const e of live) insert.run(jobId, e.seq, JobEvent.encode(e).finish());
    });
    expect(await replay()).toEqual(live);
  });

  it('reads a finished job from its row, with the counts it ended with, not from its tasks: also after a restart', async () => {
    const w = new TestWorker(coord.address, 'w', WorkerKind.WORKER_KIND_STATS);
    extra.push(() => w.kill());
    await w.waitWelcome();
    w.grant(3);
    const { job } = await submit(stats(3));
    const [a, b, c] = await w.waitAssignments(3);
    w.succeed(a!, 10);
    w.fail(b!, 'CSV_PARSE', false);
    w.succeed(c!, 5);
    const { job: cancelled } = await submit(stats(2));
    await unary(client.cancelJob.bind(client), { jobId: cancelled!.id });
    const getJob = async (jobId: string) => (await unary(client.getJob.bind(client), { jobId })).job!;
    await waitFor(async () => (await getJob(job!.id)).state === JobState.JOB_STATE_FAILED);

    const passes = vi.spyOn(SqliteStore.prototype, 'taskCounts');
    extra.push(() => passes.mockRestore());
    const ended = { tasksPending: 0, tasksRunning: 0, bytesPerSecond: 0, tasksPerSecond: 0, etaSeconds: 0 };
    const failed = { ...ended, tasksTotal: 3, tasksSucceeded: 2, tasksFailed: 1, tasksCancelled: 0, bytesDone: 20, bytesTotal: 20, rowsDone: 15 };
    const none = { ...ended, tasksTotal: 2, tasksSucceeded: 0, tasksFailed: 0, tasksCancelled: 2, bytesDone: 0, bytesTotal: 0, rowsDone: 0 };
    const check = async () => {
      expect((await getJob(job!.id)).progress).toEqual(failed);
      expect((await getJob(cancelled!.id)).progress).toEqual(none);
      const { jobs } = await unary(client.listJobs.bind(client), { pageSize: 10, pageToken: '', state: JobState.JOB_STATE_UNSPECIFIED, kind: 0 });
      expect(jobs.map((j) => [j.id, j.progress])).toEqual([
        [cancelled!.id, none],
        [job!.id, failed],
      ]);
    };
    await check();
    await coord.stop();
    coord = await startTestCoordinator({ SPINDLE_DB_PATH: coord.dbPath });
    client.close();
    client = createJobServiceClient(coord.address);
    await check();
    expect(passes).not.toHaveBeenCalled();
  });

  it('keeps jobs across a restart and dispatches their pending tasks again', async () => {
    const { job } = await submit(stats(2));
    const w = new TestWorker(coord.address, 'w', WorkerKind.WORKER_KIND_STATS);
    await w.waitWelcome();
    w.grant(1);
    const [a] = await w.waitAssignments(1);
    w.succeed(a!, 7);
    w.grant(1);
    await w.waitAssignments(2); // second task leased when the coordinator stops
    await coord.stop();
    w.kill();

    coord = await startTestCoordinator({ SPINDLE_DB_PATH: coord.dbPath });
    client.close();
    client = createJobServiceClient(coord.address);
    const after = (await unary(client.getJob.bind(client), { jobId: job!.id })).job!;
    expect(after.state).toBe(JobState.JOB_STATE_RUNNING);
    expect(after.progress).toMatchObject({ tasksSucceeded: 1, tasksPending: 1, rowsDone: 7 });
    const w2 = new TestWorker(coord.address, 'w2', WorkerKind.WORKER_KIND_STATS);
    extra.push(() => w2.kill());
    await w2.waitWelcome();
    w2.grant(2);
    const [b] = await w2.waitAssignments(1);
    expect(b!.taskId).toBe(`${job!.id}/s/1`);
    w2.succeed(b!);
    await waitFor(async () => (await unary(client.getJob.bind(client), { jobId: job!.id })).job!.state === JobState.JOB_STATE_SUCCEEDED);
  });

  it('rejects new jobs with UNAVAILABLE while shutting down', async () => {
    const stopping = coord.stop();
    await expectStatus(submit(stats(1)), status.UNAVAILABLE);
    await stopping;
    coord = await startTestCoordinator();
  });
});
