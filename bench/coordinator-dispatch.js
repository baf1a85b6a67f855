#!/usr/bin/env node
// Coordinator dispatch throughput: one in-process coordinator (real SQLite file, real
// gRPC over loopback) and W protocol-level fetch workers in this process that answer
// every assignment at once, and a client that submits a fetch job of N URLs and waits
// for it (SubmitJob + WatchJob without per-task events, as `spindle fetch -q` does).
// Measures submit→all-done wall time and CPU, i.e. the coordinator's per-task cost
// (planning, assign + result + events + SQLite writes), not any download work.
// PROTOCOL=1 makes the workers speak protocol 1 (one message per assignment and
// result) instead of 2 (batches: one message per dispatch pass and per turn).
//
//   [PROTOCOL=1|2] node bench/coordinator-dispatch.js [tasks=20000] [workers=2] [credits=32]
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { silentLogger } = require('@spindle/runtime');
const { loadConfig, startCoordinator } = require('@spindle/coordinator');
const sdk = require('@spindle/sdk');

function fetchResult(a) {
  const name = a.spec.value.fileName;
  return sdk.FetchResult.create({ url: a.spec.value.url, path: `out/${name}`, bytes: 1, sha256: 'a'.repeat(64), httpStatus: 200, contentType: 'application/octet-stream', durationMs: 1 });
}

async function main() {
  const [tasks = 20000, workers = 2, credits = 32] = process.argv.slice(2).map(Number);
  const protocol = Number(process.env.PROTOCOL ?? 2);
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
        const kind = m.message.$case;
        if (kind === 'welcome') {
          call.write({ message: { $case: 'credit', value: { credits } } });
          if (++ready === workers) resolve();
          return;
        }
        const assigned = kind === 'assign' ? [m.message.value] : kind === 'assignments' ? m.message.value.assignments : [];
        if (assigned.length === 0) return;
        const results = assigned.map((a) => ({ taskId: a.taskId, attempt: a.attempt, outcome: { $case: 'fetch', value: fetchResult(a) } }));
        if (protocol >= 2) call.write({ message: { $case: 'results', value: { results } } });
        else for (const r of results) call.write({ message: { $case: 'result', value: r } });
        call.write({ message: { $case: 'credit', value: { credits: assigned.length } } });
      });
      call.on('error', () => {});
      call.write({ message: { $case: 'hello', value: { workerId: `bench-${w}`, kind: sdk.WorkerKind.WORKER_KIND_FETCH, version: 'bench', slots: credits, hostname: 'bench', protocolVersion: protocol } } });
    }
  });
  const jobs = sdk.createJobServiceClient(coord.address);
  const spec = sdk.JobSpec.create({
    name: 'bench',
    kind: { $case: 'fetch', value: sdk.FetchJobSpec.create({ outputDir: 'out', items: Array.from({ length: tasks }, (_, i) => sdk.FetchItem.create({ url: `http://127.0.0.1:9/data/t${String(i).padStart(5, '0')}.bin` })) }) },
  });
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let submitMs = 0;
  await new Promise((resolve, reject) => {
    jobs.submitJob({ requestId: '', spec }, (err, res) => {
      if (err) return reject(err);
      submitMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const s = jobs.watchJob({ jobId: res.job.id, afterSeq: 0, skipTaskEvents: true });
      s.on('data', () => {});
      s.on('end', resolve);
      s.on('error', reject);
    });
  });
  const totalMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const rss = process.memoryUsage().rss / 2 ** 20;
  const cpu = process.cpuUsage(cpu0);
  // CPU time of this process (coordinator + the protocol-level workers): steadier than
  // wall time on a shared machine.
  const cpuUsPerTask = (cpu.user + cpu.system) / tasks;
  console.log(JSON.stringify({ protocol, tasks, workers, credits, submitMs: +submitMs.toFixed(1), totalMs: +totalMs.toFixed(1), tasksPerSecond: Math.round(tasks / (totalMs / 1000)), cpuUsPerTask: Math.round(cpuUsPerTask), rssMiB: +rss.toFixed(0) }));
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
