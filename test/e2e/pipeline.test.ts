import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  createJobServiceClient,
  ExportFormat,
  JobState,
  TaskState,
  type JobServiceClient,
  type JobSpec,
  type Task,
} from '@spindle/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, unary, waitFor } from '../helpers/grpc';
import { startStack } from '../helpers/processes';

/** Deterministic pseudo-random numbers (mulberry32), so failures reproduce. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Expected {
  rows: number;
  columns: Record<string, { count: number; nulls: number; mean: number; std: number; min: number; max: number }>;
}

/** A CSV with an int column, a float column with blanks, and a quoted text column; plus its expected stats. */
function makeCsv(seed: number, rows: number): { text: string; expected: Expected } {
  const r = rng(seed);
  const ids: number[] = [];
  const xs: number[] = [];
  let text = 'id,x,label\r\n';
  let xNulls = 0;
  for (let i = 0; i < rows; i++) {
    const id = Math.floor(r() * 1000) - 500;
    ids.push(id);
    let x = '';
    if (r() < 0.1) xNulls++;
    else {
      const v = Math.round((r() * 200 - 100) * 1000) / 1000;
      xs.push(v);
      x = String(v);
    }
    text += `${id},${x},"label, ""${i}""\n with newline"\r\n`;
  }
  const describe = (v: number[], nulls: number) => {
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1);
    return { count: v.length, nulls, mean, std: Math.sqrt(variance), min: Math.min(...v), max: Math.max(...v) };
  };
  return { text, expected: { rows, columns: { id: describe(ids, 0), x: describe(xs, xNulls) } } };
}

describe('end to end: coordinator and workers as separate processes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spindle-e2e-'));
  const dataRoot = path.join(dir, 'data');
  const files = new Map<string, Buffer>();
  const expected = new Map<string, Expected>();
  let server: http.Server;
  let base = '';
  let stack: Awaited<ReturnType<typeof startStack>>;
  let client: JobServiceClient;

  beforeAll(async () => {
    fs.mkdirSync(dataRoot, { recursive: true });
    for (let i = 0; i < 6; i++) {
      const { text, expected: e } = makeCsv(100 + i, 500 + i * 137);
      files.set(`data${i}.csv`, Buffer.from(text));
      expected.set(`data${i}.csv`, e);
    }
    files.set('binary.bin', Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256)));
    files.set('broken.csv', Buffer.from('a,b\n1,2\n3,"unterminated\n4,5\n'));
    server = http.createServer((req, res) => {
      const body = files.get((req.url ?? '/').slice(1));
      if (!body) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    stack = await startStack({ dbPath: path.join(dir, 'coordinator.db'), dataRoot });
    client = createJobServiceClient(stack.address);
  });

  afterAll(async () => {
    client?.close();
    const exits = stack ? await Promise.all([stack.fetch.stop(), stack.stats.stop()]) : [];
    const coord = stack ? await stack.coordinator.stop() : undefined;
    await new Promise((r) => server?.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
    // Graceful shutdown on SIGTERM: every process exits 0.
    for (const e of [...exits, coord]) expect(e).toEqual({ code: 0, signal: null });
  });

  async function run(spec: JobSpec): Promise<{ state: JobState; tasks: Task[] }> {
    const messages = await collect(client.runJob({ requestId: `e2e-${spec.name}`, spec }));
    const job = messages[0]!.message;
    if (job?.$case !== 'job') throw new Error('first RunJob message is not the job');
    const { tasks } = await unary(client.listResults.bind(client), { jobId: job.value.id, pageSize: 1000, pageToken: '', state: 0 });
    const final = await unary(client.getJob.bind(client), { jobId: job.value.id });
    return { state: final.job!.state, tasks };
  }

  it('downloads files concurrently, byte for byte, and reports a 404 as that item\'s error', async () => {
    const names = [...files.keys(), 'missing.csv'];
    const { state, tasks } = await run({
      name: 'fetch',
      kind: {
        $case: 'fetch',
        value: { outputDir: 'dl', items: names.map((n) => ({ url: `${base}/${n}`, fileName: '', sha256: '', expectedSize: 0 })) },
      },
    });
    expect(state).toBe(JobState.JOB_STATE_FAILED); // one item failed, the rest succeeded
    for (const t of tasks) {
      const name = names[t.index]!;
      if (name === 'missing.csv') {
        expect(t.state).toBe(TaskState.TASK_STATE_FAILED);
        expect(t.outcome).toMatchObject({ $case: 'error', value: { code: 'HTTP_STATUS', httpStatus: 404, retryable: false } });
        expect(fs.existsSync(path.join(dataRoot, 'dl', name))).toBe(false);
        continue;
      }
      expect(t.state, JSON.stringify(t.outcome)).toBe(TaskState.TASK_STATE_SUCCEEDED);
      if (t.outcome?.$case !== 'fetch') throw new Error('expected a fetch result');
      const body = files.get(name)!;
      expect(t.outcome.value).toMatchObject({ path: `dl/${name}`, bytes: body.length, httpStatus: 200 });
      expect(t.outcome.value.sha256).toBe(createHash('sha256').update(body).digest('hex'));
      expect(fs.readFileSync(path.join(dataRoot, 'dl', name)).equals(body)).toBe(true);
    }
    // No temporary files left behind.
    expect(fs.readdirSync(path.join(dataRoot, 'dl')).sort()).toEqual([...files.keys()].sort());
  });

  it('keeps the query strings of URLs out of the worker logs, and in the job results', async () => {
    // A presigned URL: its query is a credential. The 404 makes the worker log the failure.
    const url = `${base}/missing.csv?X-Amz-Credential=AKIDEXAMPLE&X-Amz-Signature=f00dfeed5ec12e7&token`;
    const { state, tasks } = await run({
      name: 'presigned',
      kind: { $case: 'fetch', value: { outputDir: 'presigned', items: [{ url, fileName: '', sha256: '', expectedSize: 0 }] } },
    });
    expect(state).toBe(JobState.JOB_STATE_FAILED);
    // The job's own error is for whoever submitted it: the URL as given.
    const outcome = tasks[0]?.outcome;
    if (outcome?.$case !== 'error') throw new Error(`expected an error, got ${JSON.stringify(outcome)}`);
    expect(outcome.value.message).toContain(url);
    // This item's line (the first test logged a 404 of its own).
    const line = await waitFor(
      () => stack.fetch.lines.map((l) => JSON.stringify(l)).find((l) => l.includes('task failed') && l.includes('missing.csv?')),
      10_000,
      'the fetch worker to log the failure',
    );
    expect(line).toContain(`${base}/missing.csv?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&REDACTED`);
    for (const secret of ['AKIDEXAMPLE', 'f00dfeed5ec12e7', '&token']) expect(line).not.toContain(secret);
  });

  it('computes statistics equal to independently computed values; a malformed file fails alone', async () => {
    const sources = ['data0.csv', 'data1.csv', 'data2.csv', 'broken.csv', 'binary.bin', 'data5.csv'].map((n) => path.join('dl', n));
    const { state, tasks } = await run({
      name: 'stats',
      kind: { $case: 'stats', value: { sources: sources.map((p) => ({ source: { $case: 'path', value: p } })) } },
    });
    expect(state).toBe(JobState.JOB_STATE_FAILED);
    for (const t of tasks) {
      const name = path.basename(sources[t.index]!);
      if (name === 'broken.csv' || name === 'binary.bin') {
        expect(t.state).toBe(TaskState.TASK_STATE_FAILED);
        expect(t.outcome).toMatchObject({ $case: 'error', value: { code: 'CSV_MALFORMED' } });
        continue;
      }
      if (t.outcome?.$case !== 'stats') throw new Error(`expected stats for ${name}: ${JSON.stringify(t.outcome)}`);
      const exp = expected.get(name)!;
      const got = t.outcome.value;
      expect(got.rows).toBe(exp.rows);
      expect(got.columns).toBe(3);
      for (const [col, e] of Object.entries(exp.columns)) {
        const c = got.columnStats.find((s) => s.name === col)!;
        expect(c.numeric).toBe(true);
        expect(c.count).toBe(e.count);
        expect(c.nulls).toBe(e.nulls);
        expect(c.min).toBe(e.min);
        expect(c.max).toBe(e.max);
        expect(c.mean).toBeCloseTo(e.mean, 9);
        expect(c.std).toBeCloseTo(e.std, 9);
      }
      expect(got.columnStats.find((s) => s.name === 'label')!.numeric).toBe(false);
    }
  });

  it('downloads then analyses in one job and exports the results table as CSV', async () => {
    const names = ['data3.csv', 'data4.csv', 'missing.csv'];
    const spec: JobSpec = {
      name: 'fetch-then-stats',
      kind: {
        $case: 'fetchThenStats',
        value: { fetch: { outputDir: 'fts', items: names.map((n) => ({ url: `${base}/${n}`, fileName: '', sha256: '', expectedSize: 0 })) } },
      },
    };
    const { state, tasks } = await run(spec);
    expect(state).toBe(JobState.JOB_STATE_FAILED);
    expect(tasks.filter((t) => t.state === TaskState.TASK_STATE_SUCCEEDED)).toHaveLength(4); // 2 fetch + 2 stats
    const jobId = tasks[0]!.jobId;
    const chunks = await collect(client.exportResults({ jobId, format: ExportFormat.EXPORT_FORMAT_CSV, table: 0 }));
    expect(chunks[0]!.contentType).toBe('text/csv');
    const csv = Buffer.concat(chunks.map((c) => Buffer.from(c.chunk))).toString();
    const lines = csv.trim().split('\n');
    const header = lines[0]!.split(',');
    expect(header.slice(0, 4)).toEqual(['file', 'rows', 'columns', 'error']);
    expect(lines).toHaveLength(4);
    const row3 = lines.find((l) => l.includes('data3.csv'))!.split(',');
    const exp3 = expected.get('data3.csv')!;
    expect(Number(row3[header.indexOf('rows')])).toBe(exp3.rows);
    expect(Number(row3[header.indexOf('x_mean')])).toBeCloseTo(exp3.columns.x!.mean, 9);
    expect(Number(row3[header.indexOf('id_max')])).toBe(exp3.columns.id!.max);
    expect(lines.find((l) => l.includes('missing.csv'))).toMatch(/HTTP_STATUS/);
  });
});
