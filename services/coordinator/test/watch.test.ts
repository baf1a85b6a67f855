/**
 * WatchJob's replay of a long job: read from the store a page at a time, held back
 * while the receiver is behind, and complete, in order and without duplicates,
 * including events appended while it runs.
 */
import { createJobServiceClient, JobState, WorkerKind, type JobEvent, type JobServiceClient, type JobSpec } from '@spindle/sdk';
import { SqliteStore } from '@spindle/coordinator';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startTestCoordinator } from '../../../test/helpers/coordinator';
import { unary, waitFor } from '../../../test/helpers/grpc';
import { TestWorker } from '../../../test/helpers/test-worker';

/** The coordinator's replay page (REPLAY_PAGE in job-manager.ts). */
const PAGE = 1000;
/** Items of the job: its events (queued, running, one per task, the end) fill more than two pages. */
const ITEMS = 2300;
/** Tasks finished before the watch starts; the rest finish while it replays. */
const FIRST = 2000;

const statsSpec = (n: number): JobSpec => ({
  name: 'long',
  retry: undefined,
  kind: { $case: 'stats', value: { sources: Array.from({ length: n }, (_, i) => ({ source: { $case: 'path', value: `f${i}.csv` } })), dialect: undefined } },
});

/** Seqs of the stored (non-progress) events, and whether the last one ends the job. */
function check(events: JobEvent[]): { seqs: number[]; terminal: boolean } {
  const stored = events.filter((e) => e.event?.$case !== 'progress');
  const last = stored.at(-1)?.event;
  return {
    seqs: stored.map((e) => e.seq),
    terminal: last?.$case === 'stateChanged' && last.value.state === JobState.JOB_STATE_SUCCEEDED,
  };
}

describe('WatchJob replay of a long job', () => {
  let coord: Awaited<ReturnType<typeof startTestCoordinator>>;
  let client: JobServiceClient;
  let w: TestWorker;
  const pages = vi.spyOn(SqliteStore.prototype, 'eventsAfter');

  beforeEach(async () => {
    coord = await startTestCoordinator({ SPINDLE_MAX_ITEMS_PER_JOB: String(ITEMS), SPINDLE_PROGRESS_INTERVAL_MS: '20' });
    client = createJobServiceClient(coord.address);
    w = new TestWorker(coord.address, 'w', WorkerKind.WORKER_KIND_STATS, true, 2);
    await w.waitWelcome();
  });
  afterEach(async () => {
    w.kill();
    client.close();
    await coord.stop();
  });

  const getJob = async (jobId: string) => (await unary(client.getJob.bind(client), { jobId })).job!;

  /** A job with every task assigned and the first FIRST of them finished; sends the rest on call. */
  async function longJob(): Promise<{ jobId: string; finishRest: () => Promise<number> }> {
    const { job } = await unary(client.submitJob.bind(client), { requestId: '', spec: statsSpec(ITEMS) });
    const jobId = job!.id;
    w.grant(ITEMS);
    const assigned = await w.waitAssignments(ITEMS);
    w.sendResults(assigned.slice(0, FIRST).map((a) => TestWorker.success(a)));
    await waitFor(async () => (await getJob(jobId)).progress!.tasksSucceeded === FIRST, 10_000, 'first tasks done');
    const finishRest = async () => {
      w.sendResults(assigned.slice(FIRST).map((a) => TestWorker.success(a)));
      await waitFor(async () => (await getJob(jobId)).state === JobState.JOB_STATE_SUCCEEDED, 10_000, 'job done');
      return (await getJob(jobId)).lastSeq;
    };
    return { jobId, finishRest };
  }

  /** Rows the store handed out for `jobId` since the spy was cleared, and the largest page. */
  const readSoFar = (jobId: string) => {
    const calls = pages.mock.calls.flatMap((args, i) => (args[0] === jobId ? [pages.mock.results[i]!.value as unknown[]] : []));
    return { rows: calls.reduce((n, page) => n + page.length, 0), largest: Math.max(...calls.map((p) => p.length)), calls: calls.length };
  };

  it('reads a page at a time, waits while the receiver is full, and misses nothing appended meanwhile', async () => {
    const { jobId, finishRest } = await longJob();
    pages.mockClear();
    const got: JobEvent[] = [];
    let waits = 0;
    let resume!: () => void;
    const ac = new AbortController();
    const watching = coord.jobs.watch(
      jobId,
      0,
      (e) => {
        got.push(e);
        // The receiver is full every 700 events.
        return got.length % 700 !== 0;
      },
      ac.signal,
      () => {
        if (++waits > 1) return new Promise((r) => setImmediate(r));
        return new Promise<void>((r) => (resume = r));
      },
    );
    await waitFor(() => waits > 0, 5000, 'the replay to wait for the receiver');
    expect(got).toHaveLength(700);
    expect(readSoFar(jobId)).toMatchObject({ rows: PAGE, calls: 1 });
    // The rest of the job happens while the replay waits: nothing more is delivered yet.
    const lastSeq = await finishRest();
    expect(got).toHaveLength(700);
    resume();
    await watching;
    const { seqs, terminal } = check(got);
    expect(seqs).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
    expect(terminal).toBe(true);
    expect(lastSeq).toBeGreaterThan(2 * PAGE);
    expect(readSoFar(jobId).largest).toBe(PAGE);
    expect(waits).toBe(Math.floor(lastSeq / 700));
  });

  it('over gRPC: a client that stops reading holds the replay back, then gets every event once, in order', async () => {
    const { jobId, finishRest } = await longJob();
    const atStart = (await getJob(jobId)).lastSeq;
    pages.mockClear();
    const got: JobEvent[] = [];
    const stream = client.watchJob({ jobId, afterSeq: 0, skipTaskEvents: false });
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('error', reject);
      stream.on('end', () => resolve());
    });
    stream.on('data', (m: { event?: JobEvent }) => {
      got.push(m.event!);
      if (got.length === 1) stream.pause();
    });
    await waitFor(() => got.length > 0, 5000, 'first event');
    const lastSeq = await finishRest();
    // HTTP/2 flow control stops the server's writes; the replay then waits instead of
    // reading on: not even the events stored when the watch began have been read.
    await waitFor(() => readSoFar(jobId).calls > 0, 5000, 'replay started');
    await new Promise((r) => setTimeout(r, 200));
    expect(readSoFar(jobId).rows).toBeLessThan(atStart);
    stream.resume();
    await ended;
    const { seqs, terminal } = check(got);
    expect(seqs).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
    expect(terminal).toBe(true);
  });
});
