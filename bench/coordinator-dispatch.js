#!/usr/bin/env node
// Coordinator dispatch throughput: one in-process coordinator (real SQLite file, real
// gRPC over loopback) and W protocol-level workers in this process that answer every
// assignment at once. Measures submit→all-done wall time for N tasks, i.e. the
// coordinator's per-task cost (assign + result + events + SQLite writes), not any
// download or CSV work.
//
//   node bench/coordinator-dispatch.js [tasks=20000] [workers=2] [credits=32]
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { silentLogger } = require('@spindle/runtime');
const { loadConfig, startCoordinator } = require('@spindle/coordinator');
const sdk = require('@spindle/sdk');

async function main() {
  const [tasks = 20000, workers = 2, credits = 32] = process.argv.slice(2).map(Number);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spindle-bench-'));
  const coord = await startCoordinator(
    loadConfig({ SPINDLE_LISTEN_ADDR: '127.0.0.1:0', SPINDLE_DB_PATH: path.join(dir, 'c.db'), SPINDLE_METRICS_ADDR: 'off', SPINDLE_LOG_LEVEL: 'silent' }),
    silentLogger(),
  );
  const clients = [];
  let ready = 0;
  await new Promise((resolve) => {
    for (let w = 0; w < workers; w++) {
      const client = sdk.createWorkerServiceClient(coord.address);
      clients.push(client);
      const call = client.connect();
      call.on('data', (m) => {
        if (m.message.$case === 'welcome') {
          call.write({ message: { $case: 'credit', value: { credits } } });
          if (++ready === workers) resolve();
        } else if (m.message.$case === 'assign') {
          const a = m.message.value;
          call.write({ message: { $case: 'result', value: { taskId: a.taskId, attempt: a.attempt, outcome: { $case: 'stats', value: sdk.StatsResult.create({ source: 's', rows: 1, columns: 1, bytes: 1 }) } } } });
          call.write({ message: { $case: 'credit', value: { credits: 1 } } });
        }
      });
      call.on('error', () => {});
      call.write({ message: { $case: 'hello', value: { workerId: `bench-${w}`, kind: sdk.WorkerKind.WORKER_KIND_STATS, version: 'bench', slots: credits, hostname: 'bench', protocolVersion: 1 } } });
    }
  });
  const jobs = sdk.createJobServiceClient(coord.address);
  const spec = { name: 'bench', kind: { $case: 'stats', value: { sources: Array.from({ length: tasks }, (_, i) => ({ source: { $case: 'path', value: `f${i}.csv` } })) } } };
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let submitMs = 0;
  await new Promise((resolve, reject) => {
    const s = jobs.runJob({ requestId: '', spec });
    s.on('data', (m) => {
      if (m.message.$case === 'job') submitMs = Number(process.hrtime.bigint() - t0) / 1e6;
    });
    s.on('end', resolve);
    s.on('error', reject);
  });
  const totalMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const rss = process.memoryUsage().rss / 2 ** 20;
  const cpu = process.cpuUsage(cpu0);
  // CPU time of this process (coordinator + the protocol-level workers): steadier than
  // wall time on a shared machine.
  const cpuUsPerTask = (cpu.user + cpu.system) / tasks;
  console.log(JSON.stringify({ tasks, workers, credits, submitMs: +submitMs.toFixed(1), totalMs: +totalMs.toFixed(1), tasksPerSecond: Math.round(tasks / (totalMs / 1000)), cpuUsPerTask: Math.round(cpuUsPerTask), rssMiB: +rss.toFixed(0) }));
  jobs.close();
  for (const c of clients) c.close();
  await coord.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
