/**
 * The fetch path end to end in one process: a real coordinator (SQLite, gRPC on
 * 127.0.0.1), a real fetch worker (its threads, its gRPC session) and real HTTP
 * servers with fault modes. Retries, backoff and Retry-After are the
 * coordinator's; classification, resume and file handling are the worker's.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { silentLogger, type RunningWorker } from '@spindle/runtime';
import {
  createJobServiceClient,
  JobState,
  TaskState,
  type JobEvent,
  type JobServiceClient,
  type JobSpec,
  type RetryPolicy,
  type Task,
} from '@spindle/sdk';
import { loadConfig as loadCoordinatorConfig, startCoordinator, type Coordinator } from '@spindle/coordinator';
import { FETCH_EXECUTOR_DEFAULTS } from '@spindle/fetch-worker';
import { startFetchWorker } from '../../../test/helpers/fetch-worker';
import { largestFile, listDir, rangeHandler, startServer, type TestServer } from './helpers';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('fetch jobs through the coordinator', () => {
  let dir: string;
  let dataRoot: string;
  let coordinator: Coordinator;
  let worker: RunningWorker;
  let client: JobServiceClient;
  const servers: TestServer[] = [];

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'spindle-fetch-pipeline-'));
    dataRoot = path.join(dir, 'data');
    coordinator = await startCoordinator(
      loadCoordinatorConfig({
        SPINDLE_LISTEN_ADDR: '127.0.0.1:0',
        SPINDLE_DB_PATH: path.join(dir, 'coordinator.db'),
        SPINDLE_METRICS_ADDR: 'off',
        SPINDLE_PROGRESS_INTERVAL_MS: '50',
        SPINDLE_SHUTDOWN_GRACE_MS: '1000',
      }),
      silentLogger(),
    );
    worker = await startFetchWorker(coordinator.address, dataRoot, { SPINDLE_WORKER_SLOTS: '8' });
    client = createJobServiceClient(coordinator.address);
  });

  afterAll(async () => {
    client?.close();
    await worker?.stop();
    await coordinator?.stop();
    for (const s of servers) await s.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function serve(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
    const s = await startServer(handler);
    servers.push(s);
    return s;
  }

  const quickRetry: RetryPolicy = { maxAttempts: 3, initialBackoffMs: 20, maxBackoffMs: 5000 };

  /** Runs a fetch job to its end (RunJob) and returns its events and tasks. */
  async function run(
    urls: string[],
    retry: RetryPolicy = quickRetry,
    outputDir = `out-${Math.random().toString(36).slice(2)}`,
  ): Promise<{ jobId: string; state: JobState; events: JobEvent[]; tasks: Task[]; outputDir: string }> {
    const spec: JobSpec = {
      name: 'test',
      retry,
      kind: { $case: 'fetch', value: { outputDir, items: urls.map((url) => ({ url, fileName: '', sha256: '', expectedSize: 0 })), options: undefined } },
    };
    const events: JobEvent[] = [];
    let jobId = '';
    await new Promise<void>((resolve, reject) => {
      const stream = client.runJob({ requestId: '', spec });
      stream.on('data', (m: { message?: { $case: string; value: unknown } }) => {
        if (m.message?.$case === 'job') jobId = (m.message.value as { id: string }).id;
        if (m.message?.$case === 'event') events.push(m.message.value as JobEvent);
      });
      stream.on('error', reject);
      stream.on('end', () => resolve());
    });
    const tasks: Task[] = [];
    let pageToken = '';
    do {
      const page = await new Promise<{ tasks: Task[]; nextPageToken: string }>((resolve, reject) =>
        client.listResults({ jobId, pageSize: 1000, pageToken, state: TaskState.TASK_STATE_UNSPECIFIED }, (err, res) =>
          err ? reject(err) : resolve(res),
        ),
      );
      tasks.push(...page.tasks);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    const last = events.filter((e) => e.event?.$case === 'stateChanged').at(-1);
    const state = last?.event?.$case === 'stateChanged' ? last.event.value.state : JobState.JOB_STATE_UNSPECIFIED;
    return { jobId, state, events, tasks, outputDir };
  }

  const retries = (events: JobEvent[]) =>
    events.flatMap((e) => (e.event?.$case === 'taskRetrying' ? [e.event.value] : []));

  it('retries 500 then succeeds on 200, with the failure class in the retry event', async () => {
    let n = 0;
    const server = await serve((_req, res) => (n++ === 0 ? res.writeHead(500).end('oops') : res.end('fine')));
    const r = await run([`${server.origin}/flaky.txt`]);
    expect(r.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(retries(r.events)).toMatchObject([{ attempt: 1, error: { code: 'HTTP_STATUS', httpStatus: 500, retryable: true } }]);
    expect(r.tasks[0]).toMatchObject({ attempt: 2, outcome: { $case: 'fetch', value: { path: `${r.outputDir}/flaky.txt`, bytes: 4 } } });
    // A client that shows totals only can leave the per-task events out.
    const totalsOnly = await new Promise<JobEvent[]>((resolve, reject) => {
      const out: JobEvent[] = [];
      const stream = client.watchJob({ jobId: r.jobId, afterSeq: 0, skipTaskEvents: true });
      stream.on('data', (m: { event?: JobEvent }) => m.event && out.push(m.event));
      stream.on('error', reject);
      stream.on('end', () => resolve(out));
    });
    expect(totalsOnly.map((e) => e.event?.$case)).toEqual(['stateChanged', 'stateChanged', 'stateChanged']);
  });

  it('downloads into a folder that was removed after an earlier job made it, without a retry', async () => {
    const server = await serve((req, res) => res.end(`body of ${req.url}`));
    const urls = (prefix: string) => Array.from({ length: 16 }, (_, i) => `${server.origin}/${prefix}${i}.txt`);
    const noRetry: RetryPolicy = { maxAttempts: 1, initialBackoffMs: 10, maxBackoffMs: 10 };
    const outputDir = `cleared-${Math.random().toString(36).slice(2)}`;
    const first = await run(urls('a'), noRetry, outputDir);
    expect(first.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    // The user clears the output between two jobs into the same folder; the worker's
    // threads still know the folder from the first job.
    await fs.rm(path.join(dataRoot, outputDir), { recursive: true });
    const second = await run(urls('b'), noRetry, outputDir);
    expect(second.tasks.filter((t) => t.state !== TaskState.TASK_STATE_SUCCEEDED).map((t) => t.outcome)).toEqual([]);
    expect(second.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(await listDir(path.join(dataRoot, outputDir))).toEqual(Array.from({ length: 16 }, (_, i) => `b${i}.txt`).sort());
    expect(await fs.readFile(path.join(dataRoot, outputDir, 'b7.txt'), 'utf8')).toBe('body of /b7.txt');
  });

  it("honours 429's Retry-After before the next attempt", async () => {
    const at: number[] = [];
    const server = await serve((_req, res) => {
      at.push(Date.now());
      if (at.length === 1) res.writeHead(429, { 'retry-after': '1' }).end();
      else res.end('now');
    });
    const r = await run([`${server.origin}/limited.txt`], { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 5000 });
    expect(r.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(retries(r.events)).toMatchObject([{ error: { code: 'HTTP_STATUS', httpStatus: 429, retryAfterMs: 1000 } }]);
    expect(retries(r.events)[0]?.backoffMs).toBeGreaterThanOrEqual(1000);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(950);
  });

  it('resumes with Range after a connection reset mid-body; the file is byte-identical', async () => {
    const body = randomBytes(4 * 1024 * 1024);
    const cut = 1024 * 1024 + 3;
    const r = rangeHandler({ body, etag: '"e1"', holdAfter: { 0: cut } });
    const server = await serve(r.handler);
    const outputDir = 'resume-e2e';
    const job = run([`${server.origin}/big.bin`], quickRetry, outputDir);
    // Reset once the worker has written the first part: what it holds is then known exactly.
    await vi.waitFor(async () => expect(await largestFile(path.join(dataRoot, outputDir))).toBe(cut), {
      timeout: 10_000,
      interval: 10,
    });
    r.reset();
    const done = await job;
    expect(done.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(retries(done.events)).toMatchObject([{ error: { code: 'TRUNCATED', retryable: true } }]);
    expect(r.seen[1]).toEqual({ range: `bytes=${cut}-`, ifRange: '"e1"' });
    expect(done.tasks[0]).toMatchObject({ outcome: { $case: 'fetch', value: { resumedBytes: cut, sha256: sha256(body) } } });
    expect(sha256(await fs.readFile(path.join(dataRoot, outputDir, 'big.bin')))).toBe(sha256(body));
    expect(await listDir(path.join(dataRoot, outputDir))).toEqual(['big.bin']);
  });

  it('cancelling a job whose download waits for its retry removes the partial body kept for it', async () => {
    const cut = 512 * 1024;
    const r = rangeHandler({ body: randomBytes(1024 * 1024), etag: '"v1"', holdAfter: { 0: cut } });
    const server = await serve(r.handler);
    const outputDir = `cancel-wait-${Math.random().toString(36).slice(2)}`;
    const spec: JobSpec = {
      name: 'cancel while waiting',
      retry: { maxAttempts: 3, initialBackoffMs: 60_000, maxBackoffMs: 60_000 },
      kind: { $case: 'fetch', value: { outputDir, items: [{ url: `${server.origin}/big.bin`, fileName: '', sha256: '', expectedSize: 0 }], options: undefined } },
    };
    const submitted = await new Promise<{ job?: { id: string } }>((resolve, reject) =>
      client.submitJob({ requestId: '', spec }, (err, res) => (err ? reject(err) : resolve(res))),
    );
    const jobId = submitted.job!.id;
    const folder = path.join(dataRoot, outputDir);
    // The first attempt fails (TRUNCATED) once it has written 512 KiB, and keeps them for
    // the retry, a minute away.
    await vi.waitFor(async () => expect(await largestFile(folder)).toBeGreaterThanOrEqual(cut), { timeout: 10_000, interval: 10 });
    r.reset();
    await vi.waitFor(async () => expect((await listDir(folder)).filter((f) => f.endsWith('.resume'))).toHaveLength(1), {
      timeout: 10_000,
      interval: 20,
    });
    await new Promise((resolve, reject) => client.cancelJob({ jobId }, (err, res) => (err ? reject(err) : resolve(res))));
    await vi.waitFor(async () => expect(await listDir(folder)).toEqual([]), { timeout: 5000, interval: 20 });
  });

  it('fails a 404 at once: the final error names the class, the status and one attempt', async () => {
    const server = await serve((_req, res) => res.writeHead(404).end());
    const r = await run([`${server.origin}/missing.txt`]);
    expect(r.state).toBe(JobState.JOB_STATE_FAILED);
    expect(r.tasks[0]).toMatchObject({
      state: TaskState.TASK_STATE_FAILED,
      outcome: { $case: 'error', value: { code: 'HTTP_STATUS', httpStatus: 404, retryable: false, attempts: 1 } },
    });
    expect(retries(r.events)).toEqual([]);
  });

  it('gives up after max_attempts: the final error says how many attempts were made', async () => {
    const server = await serve((_req, res) => res.writeHead(503).end());
    const r = await run([`${server.origin}/down.txt`]);
    expect(r.state).toBe(JobState.JOB_STATE_FAILED);
    expect(r.tasks[0]).toMatchObject({
      outcome: { $case: 'error', value: { code: 'HTTP_STATUS', httpStatus: 503, attempts: 3 } },
    });
    expect(retries(r.events)).toHaveLength(2);
  });

  it('refuses forbidden targets directly and through a redirect, without retrying', async () => {
    const server = await serve((_req, res) => res.writeHead(302, { location: 'http://169.254.169.254/latest/' }).end());
    const r = await run(['http://169.254.169.254/latest/meta-data/', `${server.origin}/innocent`]);
    expect(r.state).toBe(JobState.JOB_STATE_FAILED);
    for (const t of r.tasks) {
      expect(t.outcome).toMatchObject({ $case: 'error', value: { code: 'POLICY', retryable: false, attempts: 1 } });
    }
  });

  it('gives items with the same name distinct, deterministic names', async () => {
    const server = await serve((req, res) => res.end(req.url));
    const r = await run([`${server.origin}/a/data.csv`, `${server.origin}/b/data.csv`, `${server.origin}/c/DATA.csv`]);
    expect(r.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    const paths = r.tasks.map((t) => (t.outcome?.$case === 'fetch' ? t.outcome.value.path : ''));
    expect(paths).toEqual([`${r.outputDir}/data.csv`, `${r.outputDir}/data (1).csv`, `${r.outputDir}/DATA (2).csv`]);
    expect(await fs.readFile(path.join(dataRoot, r.outputDir, 'data (1).csv'), 'utf8')).toBe('/b/data.csv');
  });

  it("never lets a Content-Disposition name take another item's planned name", async () => {
    // /dir/ has no name of its own and its response suggests report.pdf, which the second
    // item is planned to write: both bodies must survive, under distinct names.
    const server = await serve((req, res) => {
      if (req.url === '/dir/') res.writeHead(200, { 'content-disposition': 'attachment; filename="report.pdf"' }).end('FROM-DIR');
      else setTimeout(() => res.end('FROM-REPORT'), 100); // finishes after the first item
    });
    const r = await run([`${server.origin}/dir/`, `${server.origin}/report.pdf`]);
    expect(r.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    const paths = r.tasks.map((t) => (t.outcome?.$case === 'fetch' ? t.outcome.value.path : ''));
    expect(paths).toEqual([`${r.outputDir}/download`, `${r.outputDir}/report.pdf`]);
    expect(await fs.readFile(path.join(dataRoot, r.outputDir, 'download'), 'utf8')).toBe('FROM-DIR');
    expect(await fs.readFile(path.join(dataRoot, r.outputDir, 'report.pdf'), 'utf8')).toBe('FROM-REPORT');
  });

  it('names files from Content-Disposition in a job whose URLs give no names, never as a placeholder of another item', async () => {
    const server = await serve((req, res) => {
      // Item 0 suggests item 1's placeholder; item 2 suggests a name of its own.
      const name = req.url === '/a/' ? 'download (1)' : req.url === '/c/' ? 'rates.csv' : '';
      const headers = name === '' ? {} : { 'content-disposition': `attachment; filename="${name}"` };
      setTimeout(() => res.writeHead(200, headers).end(req.url), req.url === '/b/' ? 100 : 0);
    });
    const r = await run([`${server.origin}/a/`, `${server.origin}/b/`, `${server.origin}/c/`]);
    expect(r.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    const paths = r.tasks.map((t) => (t.outcome?.$case === 'fetch' ? t.outcome.value.path : ''));
    expect(paths).toEqual([`${r.outputDir}/download`, `${r.outputDir}/download (1)`, `${r.outputDir}/rates.csv`]);
    for (const [file, body] of [['download', '/a/'], ['download (1)', '/b/'], ['rates.csv', '/c/']]) {
      expect(await fs.readFile(path.join(dataRoot, r.outputDir, file!), 'utf8')).toBe(body);
    }
  });

  it('runs a 10,000-URL job with the worker never holding more tasks than the credits it granted', async () => {
    const server = await serve((req, res) => res.end(req.url?.slice(-4)));
    const urls = Array.from({ length: 10_000 }, (_, i) => `${server.origin}/${i % 10}/index.html?i=${i}`);
    let maxHeld = 0;
    const sampler = setInterval(() => (maxHeld = Math.max(maxHeld, worker.connection.runningCount)), 5);
    try {
      const r = await run(urls, quickRetry, 'ten-thousand');
      expect(r.state).toBe(JobState.JOB_STATE_SUCCEEDED);
      expect(r.tasks).toHaveLength(10_000);
    } finally {
      clearInterval(sampler);
    }
    const names = await listDir(path.join(dataRoot, 'ten-thousand'));
    expect(names).toHaveLength(10_000);
    expect(names).toContain('index (9999).html');
    expect(maxHeld).toBeGreaterThan(0);
    expect(maxHeld).toBeLessThanOrEqual(8 + FETCH_EXECUTOR_DEFAULTS.prefetch); // SPINDLE_WORKER_SLOTS + the largest prefetch
  }, 120_000);

  it('shows the bytes of a running download in ListResults, and the totals in the job progress', async () => {
    const total = 2 * 1024 * 1024;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': total });
      res.write(Buffer.alloc(total / 2, 7));
      void gate.then(() => res.end(Buffer.alloc(total / 2, 7)));
    });
    const job = run([`${server.origin}/slow.bin`]);
    const running = await vi.waitFor(
      async () => {
        const jobs = await new Promise<{ jobs: Array<{ id: string }> }>((resolve, reject) =>
          client.listJobs({ pageSize: 1, pageToken: '', state: JobState.JOB_STATE_RUNNING, kind: 0 }, (err, res) => (err ? reject(err) : resolve(res))),
        );
        const jobId = jobs.jobs[0]?.id ?? '';
        const page = await new Promise<{ tasks: Task[] }>((resolve, reject) =>
          client.listResults({ jobId, pageSize: 10, pageToken: '', state: TaskState.TASK_STATE_RUNNING }, (err, res) =>
            err ? reject(err) : resolve(res),
          ),
        );
        const task = page.tasks[0];
        expect(task?.bytesDone).toBeGreaterThan(0);
        return task!;
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(running.bytesTotal).toBe(total);
    expect(running.bytesDone).toBeLessThanOrEqual(total / 2);
    const progress = (
      await new Promise<{ job?: { progress?: { bytesDone: number; tasksRunning: number } } }>((resolve, reject) =>
        client.getJob({ jobId: running.jobId }, (err, res) => (err ? reject(err) : resolve(res))),
      )
    ).job?.progress;
    expect(progress).toMatchObject({ tasksRunning: 1 });
    expect(progress?.bytesDone).toBeGreaterThan(0);
    release();
    const done = await job;
    expect(done.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(done.tasks[0]).toMatchObject({ bytesDone: 0, bytesTotal: 0, outcome: { $case: 'fetch', value: { bytes: total } } });
  });
});
