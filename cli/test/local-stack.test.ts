import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { CLI, httpServer, isListening, parseCsv, runSpindle, startUp, type UpProcess } from './helpers';

const A_CSV = 'city,temp,rain\nOslo,4.5,1\n"Lisbon, PT",17.25,0\nReykjavik,-1,\n';
const B_CSV = 'x,y\n1,2\n3,4\n5,6\n';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('spindle up and the client commands', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'spindle-cli-stack-'));
  const dataRoot = path.join(tmp, 'data');
  let up: UpProcess;
  let web: Awaited<ReturnType<typeof httpServer>>;
  const slowResponses = new Set<ServerResponse>();
  /** Requests of /gate.csv, answered by the test when it is ready. */
  const gated: ServerResponse[] = [];
  const spindle = (args: string[], opts: { input?: string } = {}) =>
    runSpindle(['--addr', up.address, ...args], { cwd: tmp, ...opts });

  beforeAll(async () => {
    web = await httpServer((req, res) => {
      if (req.url === '/a.csv') res.writeHead(200, { 'content-type': 'text/csv' }).end(A_CSV);
      else if (req.url === '/b.csv') res.writeHead(200, { 'content-type': 'text/csv' }).end(B_CSV);
      else if (req.url === '/gate.csv') gated.push(res);
      else if (req.url === '/slow.csv') {
        // Headers now, body never finishes: the download only ends by cancellation.
        res.writeHead(200, { 'content-type': 'text/csv' });
        res.write('a,b\n');
        slowResponses.add(res);
        const timer = setInterval(() => res.write('1,2\n'), 200);
        res.on('close', () => clearInterval(timer));
      } else res.writeHead(404).end('not found');
    });
    up = await startUp(['--port', '0', '--state', path.join(tmp, 'state'), '--data-root', dataRoot, '--allow-loopback']);
  }, 90_000);

  afterAll(async () => {
    if (up && up.child.exitCode === null) {
      up.child.kill('SIGINT');
      await up.exited;
    }
    for (const res of slowResponses) res.destroy();
    await web?.close();
    rmSync(tmp, { recursive: true, force: true });
  }, 90_000);

  it('workers lists one fetch and one stats worker', async () => {
    const r = await spindle(['--json', 'workers']);
    expect(r.code, r.stderr).toBe(0);
    const { workers } = JSON.parse(r.stdout) as { workers: { kind: string }[] };
    expect(workers.map((w) => w.kind).sort()).toEqual(['WORKER_KIND_FETCH', 'WORKER_KIND_STATS']);
    const table = await spindle(['workers']);
    expect(table.stdout).toMatch(/^ID\s+KIND\s+HOST/);
  });

  it('fetch downloads into the data root and prints one line per item and a summary', async () => {
    const r = await spindle(['fetch', '-o', 'in', web.url('/a.csv'), web.url('/b.csv')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok {4}fetch {2}http:\/\/127\.0\.0\.1:\d+\/a\.csv → in\/a\.csv/m);
    expect(r.stdout).toMatch(/job \S+ succeeded: 2\/2 downloads ok/);
    expect(readFileSync(path.join(dataRoot, 'in', 'a.csv'), 'utf8')).toBe(A_CSV);
    expect(readFileSync(path.join(dataRoot, 'in', 'b.csv'), 'utf8')).toBe(B_CSV);
  });

  it('fetch exits 1 when an item fails, naming it', async () => {
    const r = await spindle(['fetch', '--attempts', '1', '-o', 'mixed', '-i', '-'], {
      input: `${web.url('/a.csv')}\n${web.url('/missing.csv')}\n`,
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}fetch {2}http:\/\/127\.0\.0\.1:\d+\/missing\.csv {2}HTTP_STATUS/m);
    expect(r.stderr).toMatch(/failed:\n {2}http:\/\/127\.0\.0\.1:\d+\/missing\.csv: HTTP_STATUS/);
    expect(r.stdout).toMatch(/job \S+ failed: 1\/2 downloads ok, 1 failed/);
  });

  it('--json fetch streams JSON Lines: the job, its events, the finished job', async () => {
    const r = await spindle(['--json', 'fetch', '-o', 'json', web.url('/b.csv')]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, { state?: string }>);
    expect(lines[0]?.job).toBeDefined();
    expect(lines.slice(1, -1).every((l) => l.event !== undefined)).toBe(true);
    expect(lines.at(-1)?.job?.state).toBe('JOB_STATE_SUCCEEDED');
  });

  it('stats analyses files under the data root, prints a table and writes the CSV', async () => {
    const files = [path.join(dataRoot, 'in', 'a.csv'), path.join(dataRoot, 'in', 'b.csv')];
    const r = await spindle(['stats', ...files, '-o', 'stats.csv']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^FILE\s+ROWS\s+COLS/m);
    expect(r.stdout).toMatch(/in\/a\.csv\s+3\s+3\s/);
    const [header = [], ...rows] = parseCsv(readFileSync(path.join(tmp, 'stats.csv'), 'utf8'));
    expect(rows).toHaveLength(2);
    const row = rows.find((x) => (x[header.indexOf('file')] ?? '').endsWith('a.csv'))!;
    expect(Number(row[header.indexOf('rows')])).toBe(3);
    expect(Number(row[header.indexOf('temp_mean')])).toBeCloseTo((4.5 + 17.25 - 1) / 3, 9);
  });

  it('fetch --stats downloads, then analyses, and writes the results table', async () => {
    const r = await spindle(['fetch', '--stats', '--results', 'chained.csv', '-o', 'chain', web.url('/a.csv'), web.url('/b.csv')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^chain\/a\.csv\s+3\s+3\s/m);
    expect(r.stdout).toMatch(/2\/2 downloads ok .*, 2\/2 files analysed ok \(6 rows\)/);
    const [header = [], ...rows] = parseCsv(readFileSync(path.join(tmp, 'chained.csv'), 'utf8'));
    expect(rows.map((x) => x[header.indexOf('rows')])).toEqual(['3', '3']);
  });

  it('fetch --results: a folder that goes away during the job still gives the summary and the retry command', async () => {
    const outDir = path.join(tmp, 'gone');
    mkdirSync(outDir);
    const run = spindle(['fetch', '--stats', '--results', 'gone/r.csv', '-o', 'gate', web.url('/gate.csv')]);
    for (let i = 0; i < 600 && gated.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    rmSync(outDir, { recursive: true });
    for (const res of gated.splice(0)) res.writeHead(200, { 'content-type': 'text/csv' }).end(B_CSV);
    const r = await run;
    expect(r.code).toBe(1);
    const id = /job (\S+) succeeded: 1\/1 downloads ok/.exec(r.stdout)?.[1];
    expect(id, r.stdout + r.stderr).toBeDefined();
    expect(r.stderr).toContain(`cannot write ${path.join(outDir, 'r.csv')}`);
    expect(r.stderr).toContain(`job ${id} ended; export its results again with:\n  spindle results ${id} -o "${path.join(outDir, 'r.csv')}"`);
  });

  it('stats of a file outside the data root fails that item', async () => {
    const outside = path.join(tmp, 'outside.csv');
    writeFileSync(outside, B_CSV);
    const r = await spindle(['stats', '--attempts', '1', outside]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('PATH_FORBIDDEN');
  });

  it('--detach returns the job id; the same --request-id returns the same job', async () => {
    const requestId = randomUUID();
    const first = await spindle(['fetch', '--detach', '--request-id', requestId, '-o', 'dup', web.url('/a.csv')]);
    expect(first.code, first.stderr).toBe(0);
    const id = first.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const second = await spindle(['fetch', '--detach', '--request-id', requestId, '-o', 'dup', web.url('/a.csv')]);
    expect(second.stdout.trim()).toBe(id);
    expect(second.stderr).toContain(`request id ${requestId} was used before: this is job ${id}`);
    const watch = await spindle(['watch', id]);
    expect(watch.code, watch.stderr).toBe(0);
  });

  it('cancel stops a running job; watch then exits 1; cancelling again is FAILED_PRECONDITION', async () => {
    const submitted = await spindle(['fetch', '--detach', '-o', 'slow', web.url('/slow.csv')]);
    const id = submitted.stdout.trim();
    const cancel = await spindle(['cancel', id]);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(new RegExp(`^job ${id} (cancelled|running)`));
    const watch = await spindle(['watch', id]);
    expect(watch.code).toBe(1);
    expect(watch.stdout).toMatch(new RegExp(`job ${id} cancelled`));
    const again = await spindle(['cancel', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: FAILED_PRECONDITION: /);
  });

  it('Ctrl-C stops following (exit 130) and leaves the job running, with a hint', async () => {
    const child = spawn(process.execPath, [CLI, '--addr', up.address, 'fetch', '-o', 'slow2', web.url('/slow.csv')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const jobId = await new Promise<string>((resolve) => {
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        const m = /^job (\S+) /m.exec(stderr);
        if (m?.[1]) resolve(m[1]);
      });
    });
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(130);
    expect(stderr).toContain(`stopped following job ${jobId}; it keeps running.`);
    expect(stderr).toMatch(new RegExp(`spindle watch ${jobId} --after-seq \\d+`));
    const jobs = await spindle(['--json', 'jobs']);
    const job = (JSON.parse(jobs.stdout) as { jobs: { id: string; state: string }[] }).jobs.find((j) => j.id === jobId);
    expect(['JOB_STATE_QUEUED', 'JOB_STATE_RUNNING']).toContain(job?.state);
    expect((await spindle(['cancel', jobId])).code).toBe(0);
  });

  it('jobs lists the jobs, filterable by state', async () => {
    const all = await spindle(['--json', 'jobs', '--limit', '100']);
    expect(all.code, all.stderr).toBe(0);
    const { jobs } = JSON.parse(all.stdout) as { jobs: { id: string; state: string }[] };
    expect(jobs.length).toBeGreaterThanOrEqual(6);
    const failed = await spindle(['jobs', '--state', 'failed']);
    expect(failed.code).toBe(0);
    for (const j of jobs.filter((x) => x.state === 'JOB_STATE_FAILED')) expect(failed.stdout).toContain(j.id);
    for (const j of jobs.filter((x) => x.state === 'JOB_STATE_SUCCEEDED')) expect(failed.stdout).not.toContain(j.id);
  });

  it('results exports a finished job as CSV or JSON, to stdout or a file', async () => {
    const files = [path.join(dataRoot, 'in', 'b.csv')];
    const job = await spindle(['stats', '--detach', ...files]);
    const id = job.stdout.trim();
    expect((await spindle(['watch', id])).code).toBe(0);
    const csv = await spindle(['results', id]);
    expect(csv.code, csv.stderr).toBe(0);
    expect(parseCsv(csv.stdout)[0]?.slice(0, 3)).toEqual(['file', 'rows', 'columns']);
    const json = await spindle(['results', id, '--format', 'json', '-o', 'r.json']);
    expect(json.code, json.stderr).toBe(0);
    const table = JSON.parse(readFileSync(path.join(tmp, 'r.json'), 'utf8')) as { rows: number }[];
    expect(table).toHaveLength(1);
    expect(table[0]?.rows).toBe(3);
    const columns = await spindle(['results', id, '--table', 'columns']);
    expect(columns.code, columns.stderr).toBe(0);
    const [header, ...lines] = parseCsv(columns.stdout);
    expect(header?.slice(0, 6)).toEqual(['file', 'rows', 'columns', 'error', 'column', 'type']);
    expect(lines.length).toBeGreaterThanOrEqual(1);
  });

  it('stats --columns-output writes the per-column statistics next to the summary', async () => {
    const files = [path.join(dataRoot, 'in', 'b.csv')];
    const run = await spindle(['stats', '-o', 's.csv', '--columns-output', 'c.csv', ...files]);
    expect(run.code, run.stderr).toBe(0);
    const [header, ...lines] = parseCsv(readFileSync(path.join(tmp, 'c.csv'), 'utf8'));
    expect(header).toContain('median');
    expect(header).toContain('distinct');
    expect(lines.every((l) => l[0] === files[0])).toBe(true);
    expect(parseCsv(readFileSync(path.join(tmp, 's.csv'), 'utf8'))[0]?.slice(0, 4)).toEqual(['file', 'rows', 'columns', 'error']);
  });

  it('watch replays a finished job and resumes after a sequence number', async () => {
    const job = await spindle(['fetch', '--detach', '-o', 'w', web.url('/b.csv')]);
    const id = job.stdout.trim();
    const seqsOf = (stdout: string): number[] =>
      stdout
        .trim()
        .split('\n')
        .flatMap((l) => (JSON.parse(l) as { event?: { seq: number } }).event?.seq ?? []);
    const all = await spindle(['--json', 'watch', id]);
    expect(all.code, all.stderr).toBe(0);
    const seqs = seqsOf(all.stdout);
    expect(seqs.length).toBeGreaterThan(1);
    const last = Math.max(...seqs);
    const tail = await spindle(['--json', 'watch', id, '--after-seq', String(last - 1)]);
    expect(tail.code, tail.stderr).toBe(0);
    const tailSeqs = seqsOf(tail.stdout);
    expect(tailSeqs).toContain(last);
    expect(tailSeqs.every((s) => s > last - 1)).toBe(true);
  });

  it('unknown job ids are NOT_FOUND (exit 1)', async () => {
    const r = await spindle(['watch', randomUUID()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: NOT_FOUND: /);
  });

  it('up exits non-zero when a service dies, and stops the others', async () => {
    const other = await startUp(['--port', '0', '--state', path.join(tmp, 'state2'), '--data-root', dataRoot]);
    const stats = other.processes.find((p) => p.name === 'stats-worker')!;
    process.kill(stats.pid, 'SIGKILL');
    const { code } = await other.exited;
    expect(code).toBe(1);
    expect(other.stderr()).toContain('stats-worker was killed by SIGKILL');
    for (const p of other.processes) expect(processAlive(p.pid), p.name).toBe(false);
    expect(await isListening(other.address)).toBe(false);
  }, 90_000);

  it('up stops everything gracefully on SIGINT and exits 0', async () => {
    up.child.kill('SIGINT');
    const { code } = await up.exited;
    expect(code, up.stderr()).toBe(0);
    for (const p of up.processes) expect(processAlive(p.pid), p.name).toBe(false);
    expect(await isListening(up.address)).toBe(false);
    expect(existsSync(path.join(tmp, 'state', 'spindle.log'))).toBe(true);
  }, 90_000);
});
