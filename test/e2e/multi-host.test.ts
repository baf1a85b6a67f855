import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { createJobServiceClient, JobState, TaskState, WorkerKind, type JobServiceClient } from '@spindle/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, unary, waitFor } from '../helpers/grpc';
import { SERVICE_MAIN, ServiceProcess } from '../helpers/processes';

/**
 * Several hosts on one machine: the coordinator and each worker run in their own
 * network namespace with its own IP, joined by a bridge, so every gRPC stream and
 * download crosses a real (virtual) network link. Needs root and iproute2; CI has
 * both and sets SPINDLE_REQUIRE_NETNS=1 so this cannot silently skip there.
 */
function netnsAvailable(): boolean {
  try {
    if (process.getuid?.() !== 0) throw new Error('not root');
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    if (process.env.SPINDLE_REQUIRE_NETNS === '1') throw new Error(`network namespaces unavailable: ${String(err)}`);
    return false;
  }
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
const tryIp = (...args: string[]) => {
  try {
    ip(...args);
  } catch {
    // already gone
  }
};

// Names are short (interface names are at most 15 bytes) and unique per test process.
const id = (process.pid % 100_000).toString(36);
const subnet = `10.231.${process.pid % 250}`;
const BRIDGE = `spbr${id}`;
const HOSTS = { c: 1, f1: 2, f2: 3, s: 4 } as const;
type Host = keyof typeof HOSTS;
const ns = (h: Host) => `sp-${h}-${id}`;
const veth = (h: Host) => `spv${h}${id}`;
const addr = (h: Host) => `${subnet}.${HOSTS[h]}`;
const GATEWAY = `${subnet}.254`;

/**
 * Host names the fetch workers' resolver answers with forbidden addresses: `ip netns exec`
 * mounts /etc/netns/<namespace>/hosts over /etc/hosts for the processes it starts.
 */
const FORBIDDEN_NAMES = { 'loopback-alias.test': '127.0.0.1', 'metadata-alias.test': '169.254.169.254' } as const;
const netnsEtc = (h: Host) => path.join('/etc/netns', ns(h));

function createNetwork(): void {
  for (const h of ['f1', 'f2'] as const) {
    fs.mkdirSync(netnsEtc(h), { recursive: true });
    const names = Object.entries(FORBIDDEN_NAMES).map(([name, address]) => `${address} ${name}`);
    fs.writeFileSync(path.join(netnsEtc(h), 'hosts'), ['127.0.0.1 localhost', ...names, ''].join('\n'));
  }
  ip('link', 'add', BRIDGE, 'type', 'bridge');
  ip('addr', 'add', `${GATEWAY}/24`, 'dev', BRIDGE);
  ip('link', 'set', BRIDGE, 'up');
  for (const h of Object.keys(HOSTS) as Host[]) {
    ip('netns', 'add', ns(h));
    ip('link', 'add', veth(h), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns(h));
    ip('link', 'set', veth(h), 'master', BRIDGE, 'up');
    ip('-n', ns(h), 'addr', 'add', `${addr(h)}/24`, 'dev', 'eth0');
    ip('-n', ns(h), 'link', 'set', 'eth0', 'up');
    ip('-n', ns(h), 'link', 'set', 'lo', 'up');
  }
}

function destroyNetwork(): void {
  for (const h of Object.keys(HOSTS) as Host[]) {
    tryIp('netns', 'del', ns(h));
    fs.rmSync(netnsEtc(h), { recursive: true, force: true });
  }
  tryIp('link', 'del', BRIDGE);
}

/** A service started inside a namespace (`ip netns exec`). */
function inNamespace(h: Host, name: keyof typeof SERVICE_MAIN, env: Record<string, string>): ServiceProcess {
  return new ServiceProcess(name, env, ['ip', 'netns', 'exec', ns(h), process.execPath, SERVICE_MAIN[name]]);
}

describe.skipIf(!netnsAvailable())('multi-host: services in separate network namespaces', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spindle-netns-'));
  const dataRoot = path.join(dir, 'data');
  const procs: ServiceProcess[] = [];
  let server: http.Server;
  let base = '';
  let client: JobServiceClient;
  const csv = 'k,v\n' + Array.from({ length: 200 }, (_, i) => `${i},${i * 0.5}`).join('\n') + '\n';

  beforeAll(async () => {
    fs.mkdirSync(dataRoot, { recursive: true });
    destroyNetwork();
    createNetwork();
    // The "internet": an HTTP server on the bridge, reachable from every namespace.
    server = http.createServer((req, res) => {
      if (req.url === '/slow.bin') {
        // 40 bytes over ~2 s: long enough to cut the link of the worker holding it.
        res.writeHead(200, { 'content-length': 40 });
        let n = 0;
        const t = setInterval(() => {
          if (res.destroyed || n === 40) return clearInterval(t);
          res.write('x');
          if (++n === 40) res.end();
        }, 50);
        return;
      }
      // Redirects to names that resolve to forbidden addresses (see FORBIDDEN_NAMES).
      const port = (server.address() as { port: number }).port;
      if (req.url === '/to-loopback-name') return void res.writeHead(302, { location: `http://loopback-alias.test:${port}/x` }).end();
      if (req.url === '/to-metadata-name') return void res.writeHead(302, { location: 'http://metadata-alias.test/latest/' }).end();
      const m = /^\/data(\d+)\.csv$/.exec(req.url ?? '');
      if (!m) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/csv' }).end(csv);
    });
    await new Promise<void>((r) => server.listen(0, GATEWAY, r));
    base = `http://${GATEWAY}:${(server.address() as { port: number }).port}`;

    const coordinator = inNamespace('c', 'coordinator', {
      SPINDLE_LISTEN_ADDR: `${addr('c')}:7070`,
      SPINDLE_DB_PATH: path.join(dir, 'coordinator.db'),
      SPINDLE_HEARTBEAT_INTERVAL_MS: '200',
      SPINDLE_LEASE_TIMEOUT_MS: '1500',
    });
    procs.push(coordinator);
    await coordinator.waitForLog('coordinator listening');
    const workerEnv = {
      SPINDLE_COORDINATOR_ADDR: `${addr('c')}:7070`,
      SPINDLE_DATA_ROOT: dataRoot,
      SPINDLE_HEALTH_ADDR: 'off',
      // The test's HTTP server is on a private address inside this test network.
      SPINDLE_FETCH_ALLOW_PRIVATE: 'true',
      SPINDLE_WORKER_THREADS: '1',
    };
    for (const h of ['f1', 'f2'] as const) procs.push(inNamespace(h, 'fetch', { ...workerEnv, SPINDLE_WORKER_ID: `fetch-${h}` }));
    procs.push(inNamespace('s', 'stats', { ...workerEnv, SPINDLE_WORKER_ID: 'stats-s' }));
    await Promise.all(procs.slice(1).map((p) => p.waitForLog('worker connected')));
    client = createJobServiceClient(`${addr('c')}:7070`);
  });

  afterAll(async () => {
    client?.close();
    await Promise.all(procs.map((p) => p.stop(5000)));
    await new Promise((r) => server?.close(r));
    destroyNetwork();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sees each worker at its own address and runs a fetch-then-stats job across hosts', async () => {
    const { workers } = await unary(client.listWorkers.bind(client), { kind: WorkerKind.WORKER_KIND_UNSPECIFIED });
    const peers = Object.fromEntries(workers.map((w) => [w.workerId, w.peer.replace(/^ipv4:/, '').split(':')[0]]));
    expect(peers).toEqual({ 'fetch-f1': addr('f1'), 'fetch-f2': addr('f2'), 'stats-s': addr('s') });

    const messages = await collect(
      client.runJob({
        requestId: '',
        spec: {
          name: 'across hosts',
          kind: {
            $case: 'fetchThenStats',
            value: {
              fetch: {
                outputDir: 'hosts',
                items: Array.from({ length: 6 }, (_, i) => ({ url: `${base}/data${i}.csv`, fileName: '', sha256: '', expectedSize: 0 })),
              },
            },
          },
        },
      }),
    );
    const last = messages[messages.length - 1]!.message;
    expect(last?.$case === 'event' && last.value.event).toMatchObject({ $case: 'stateChanged', value: { state: JobState.JOB_STATE_SUCCEEDED } });
    const jobId = (messages[0]!.message as { value: { id: string } }).value.id;
    const { tasks } = await unary(client.listResults.bind(client), { jobId, pageSize: 100, pageToken: '', state: 0 });
    expect(tasks).toHaveLength(12);
    for (const t of tasks.filter((x) => x.outcome?.$case === 'stats')) {
      expect(t.outcome).toMatchObject({ $case: 'stats', value: { rows: 200, columns: 2 } });
    }
  });

  it('refuses names that resolve to forbidden addresses, directly and through a redirect (DNS is checked)', async () => {
    const port = (server.address() as { port: number }).port;
    const urls = [`${base}/to-loopback-name`, `${base}/to-metadata-name`, `http://loopback-alias.test:${port}/direct`];
    const messages = await collect(
      client.runJob({
        requestId: '',
        spec: {
          name: 'forbidden names',
          retry: { maxAttempts: 1, initialBackoffMs: 0, maxBackoffMs: 0 },
          kind: { $case: 'fetch', value: { outputDir: 'names', items: urls.map((url) => ({ url, fileName: '', sha256: '', expectedSize: 0 })) } },
        },
      }),
    );
    const jobId = (messages[0]!.message as { value: { id: string } }).value.id;
    const { tasks } = await unary(client.listResults.bind(client), { jobId, pageSize: 10, pageToken: '', state: 0 });
    // POLICY, not CONNECT: no connection to the resolved address was tried (loopback would
    // have been refused by the kernel, the metadata address would have timed out).
    expect(tasks.map((t) => (t.outcome?.$case === 'error' ? [t.outcome.value.code, t.outcome.value.httpStatus] : t.outcome?.$case))).toEqual([
      ['POLICY', 302],
      ['POLICY', 302],
      ['POLICY', 0],
    ]);
    const messagesOf = tasks.map((t) => (t.outcome?.$case === 'error' ? t.outcome.value.message : ''));
    expect(messagesOf[0]).toContain('loopback-alias.test');
    expect(messagesOf[1]).toContain('metadata-alias.test');
    expect(fs.existsSync(path.join(dataRoot, 'names')) ? fs.readdirSync(path.join(dataRoot, 'names')) : []).toEqual([]);
  });

  it('re-queues the task of a worker whose network link is cut, and another host finishes it', async () => {
    const { job } = await unary(client.submitJob.bind(client), {
      requestId: '',
      spec: {
        name: 'cut link',
        retry: { maxAttempts: 3, initialBackoffMs: 50, maxBackoffMs: 100 },
        kind: { $case: 'fetch', value: { outputDir: 'cut', items: [{ url: `${base}/slow.bin`, fileName: '', sha256: '', expectedSize: 0 }] } },
      },
    });
    const running = await waitFor(async () => {
      const { tasks } = await unary(client.listResults.bind(client), { jobId: job!.id, pageSize: 1, pageToken: '', state: TaskState.TASK_STATE_RUNNING });
      return tasks[0];
    }, 10_000, 'the download to start');
    const victim: Host = running.workerId === 'fetch-f1' ? 'f1' : 'f2';
    ip('link', 'set', veth(victim), 'down');
    try {
      const done = await waitFor(async () => {
        const j = (await unary(client.getJob.bind(client), { jobId: job!.id })).job!;
        return j.state === JobState.JOB_STATE_SUCCEEDED || j.state === JobState.JOB_STATE_FAILED ? j : undefined;
      }, 20_000, 'the job to finish');
      expect(done.state).toBe(JobState.JOB_STATE_SUCCEEDED);
      const { tasks } = await unary(client.listResults.bind(client), { jobId: job!.id, pageSize: 1, pageToken: '', state: 0 });
      expect(tasks[0]!.attempt).toBe(2);
      expect(tasks[0]!.workerId).not.toBe(running.workerId);
      expect(fs.readFileSync(path.join(dataRoot, 'cut', 'slow.bin'), 'utf8')).toBe('x'.repeat(40));
    } finally {
      ip('link', 'set', veth(victim), 'up');
    }
  });
});
