/**
 * The job's ETA: from the byte rate once every byte still to come is known, from
 * the task rate otherwise, and unknown (0) when neither says. A real fetch worker
 * downloads from a real HTTP server that drips its body; a hand-driven worker
 * covers the cases where a size is not known.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { RunningWorker } from '@spindle/runtime';
import {
  createJobServiceClient,
  JobState,
  WorkerKind,
  type JobProgress,
  type JobServiceClient,
  type JobSpec,
  type RunJobResponse,
  type TaskAssignment,
} from '@spindle/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestCoordinator } from '../../../test/helpers/coordinator';
import { startFetchWorker } from '../../../test/helpers/fetch-worker';
import { unary, waitFor } from '../../../test/helpers/grpc';
import { makeTempDir } from '../../../test/helpers/temp-dir';
import { TestWorker } from '../../../test/helpers/test-worker';

const fetchSpec = (urls: string[], then = false): JobSpec => {
  const fetch = { items: urls.map((url) => ({ url, fileName: '', sha256: '', expectedSize: 0 })), outputDir: '', options: undefined };
  return {
    name: 'eta',
    retry: undefined,
    kind: then ? { $case: 'fetchThenStats', value: { fetch, dialect: undefined } } : { $case: 'fetch', value: fetch },
  };
};

/** The ETA the rule gives from the bytes still to come. */
const byBytes = (p: JobProgress) => (p.bytesTotal - p.bytesDone) / p.bytesPerSecond;

describe('job ETA with a real fetch worker', () => {
  let coord: Awaited<ReturnType<typeof startTestCoordinator>>;
  let worker: RunningWorker;
  let client: JobServiceClient;
  const servers: http.Server[] = [];

  beforeAll(async () => {
    coord = await startTestCoordinator({ SPINDLE_PROGRESS_INTERVAL_MS: '50' });
    worker = await startFetchWorker(coord.address, path.join(makeTempDir('spindle-eta-'), 'data'), { SPINDLE_WORKER_SLOTS: '2' });
    client = createJobServiceClient(coord.address);
  });
  afterAll(async () => {
    client?.close();
    await worker?.stop();
    await coord?.stop();
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  /**
   * A server whose one file of `total` bytes arrives 16 KiB per 50 ms and stops at
   * three quarters until `release()`, so the download is running for as long as the
   * test needs. With `announce` the size is in Content-Length, else the body is chunked.
   */
  async function dripServer(total: number, announce: boolean): Promise<{ url: string; release: () => void }> {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const server = http.createServer((_req, res) => {
      res.writeHead(200, announce ? { 'content-length': String(total) } : {});
      let sent = 0;
      const chunk = Buffer.alloc(16 * 1024, 'x');
      const timer = setInterval(() => {
        if (sent + chunk.length > (total * 3) / 4) return;
        res.write(chunk);
        sent += chunk.length;
      }, 50);
      res.on('close', () => clearInterval(timer));
      void released.then(() => {
        clearInterval(timer);
        res.end(Buffer.alloc(total - sent, 'y'));
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/big.bin`, release };
  }

  /**
   * Runs a job, handing its progress so far to `until` after each event; releases the
   * server once it says so (`released`), or after 10 s so that a failing test ends.
   */
  async function runUntil(spec: JobSpec, until: (seen: JobProgress[]) => boolean, release: () => void) {
    const seen: JobProgress[] = [];
    let state = JobState.JOB_STATE_UNSPECIFIED;
    let released = false;
    const fallback = setTimeout(release, 10_000);
    await new Promise<void>((resolve, reject) => {
      const stream = client.runJob({ requestId: '', spec });
      stream.on('data', (m: RunJobResponse) => {
        const e = m.message?.$case === 'event' ? m.message.value.event : undefined;
        if (e?.$case === 'progress') seen.push(e.value);
        if (e?.$case === 'stateChanged') state = e.value.state;
        if (!released && until(seen)) {
          released = true;
          release();
        }
      });
      stream.on('error', reject);
      stream.on('end', () => resolve());
    });
    clearTimeout(fallback);
    return { seen, state, released };
  }

  it('estimates a one-item job from the bytes still to come while no task has finished', async () => {
    const total = 4 * 1024 * 1024;
    const server = await dripServer(total, true);
    const r = await runUntil(fetchSpec([server.url]), (seen) => seen.some((p) => p.etaSeconds > 0), server.release);
    expect(r.released).toBe(true);
    expect(r.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    const withEta = r.seen.filter((p) => p.etaSeconds > 0);
    for (const p of withEta) {
      expect(p).toMatchObject({ tasksRunning: 1, tasksPending: 0, tasksSucceeded: 0, bytesTotal: total });
      expect(p.etaSeconds).toBeCloseTo(byBytes(p), 6);
    }
  });

  it('shows no ETA while the size of the download is unknown', async () => {
    const total = 1024 * 1024;
    const server = await dripServer(total, false);
    // Until the rate is measured twice over some bytes, then the rest of the body.
    const r = await runUntil(
      fetchSpec([server.url]),
      (seen) => seen.filter((p) => p.tasksRunning === 1 && p.bytesPerSecond > 0 && p.bytesDone > 32 * 1024).length >= 2,
      server.release,
    );
    expect(r.released).toBe(true);
    expect(r.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    const running = r.seen.filter((p) => p.tasksRunning === 1);
    expect(running.length).toBeGreaterThanOrEqual(2);
    for (const p of running) expect(p.etaSeconds).toBe(0);
  });
});

describe('job ETA when sizes are partly unknown', () => {
  let coord: Awaited<ReturnType<typeof startTestCoordinator>>;
  let client: JobServiceClient;
  let w: TestWorker;
  beforeAll(async () => {
    coord = await startTestCoordinator();
    client = createJobServiceClient(coord.address);
  });
  afterEach(() => w?.kill());
  afterAll(async () => {
    client.close();
    await coord.stop();
  });

  const progressOf = async (jobId: string) => (await unary(client.getJob.bind(client), { jobId })).job!.progress!;

  /** Reports a task's progress and waits until the job's progress includes it. */
  async function report(jobId: string, a: TaskAssignment, bytesDone: number, bytesTotal: number, jobBytes: number) {
    w.send({ message: { $case: 'progress', value: { taskId: a.taskId, attempt: a.attempt, bytesDone, bytesTotal, rowsDone: 0 } } });
    // A new sample a little later, so that the byte rate is measured over some time.
    await new Promise((r) => setTimeout(r, 30));
    return waitFor(async () => {
      const p = await progressOf(jobId);
      return p.bytesDone === jobBytes ? p : undefined;
    }, 5000, `${jobBytes} bytes`);
  }

  it('counts on the byte rate only once no task is pending and every running size is known', async () => {
    w = new TestWorker(coord.address, 'w', WorkerKind.WORKER_KIND_FETCH);
    await w.waitWelcome();
    const { job } = await unary(client.submitJob.bind(client), { requestId: '', spec: fetchSpec(['http://127.0.0.1:9/a', 'http://127.0.0.1:9/b']) });
    const jobId = job!.id;
    w.grant(1);
    const [a] = await w.waitAssignments(1);
    await report(jobId, a!, 1000, 100_000, 1000);
    let p = await report(jobId, a!, 5000, 100_000, 5000);
    // Item b is pending: its size is unknown, and no task has finished.
    expect(p).toMatchObject({ tasksPending: 1, tasksRunning: 1, etaSeconds: 0 });
    expect(p.bytesPerSecond).toBeGreaterThan(0);

    w.grant(1);
    const [, b] = await w.waitAssignments(2);
    p = await report(jobId, b!, 2000, 0, 7000);
    // b runs but has not said how large it is.
    expect(p).toMatchObject({ tasksPending: 0, tasksRunning: 2, etaSeconds: 0 });
    p = await report(jobId, b!, 3000, 50_000, 8000);
    expect(p).toMatchObject({ tasksPending: 0, tasksRunning: 2, bytesTotal: 150_000 });
    expect(p.etaSeconds).toBeGreaterThan(0);
    expect(p.etaSeconds).toBeCloseTo(byBytes(p), 6);
  });

  it('shows no byte-rate ETA for a download that a stats task will follow', async () => {
    w = new TestWorker(coord.address, 'w2', WorkerKind.WORKER_KIND_FETCH);
    await w.waitWelcome();
    const { job } = await unary(client.submitJob.bind(client), { requestId: '', spec: fetchSpec(['http://127.0.0.1:9/c.csv'], true) });
    w.grant(1);
    const [a] = await w.waitAssignments(1);
    await report(job!.id, a!, 1000, 100_000, 1000);
    const p = await report(job!.id, a!, 5000, 100_000, 5000);
    expect(p.bytesPerSecond).toBeGreaterThan(0);
    expect(p).toMatchObject({ tasksPending: 0, tasksRunning: 1, etaSeconds: 0 });
  });
});
