#!/usr/bin/env node
// The fetch worker's executor alone: FetchExecutor (main thread + its fetch threads) driven
// directly, without coordinator or gRPC, downloading every URL of a list into a fresh folder.
// Prints, per run, the wall time and the CPU time per file of each thread of this process:
// the main thread (the executor), each fetch thread, and the rest (V8's platform threads —
// mostly GC — and libuv's thread pool). CPU comes from /proc/self/task/<tid>/schedstat
// (nanoseconds on the CPU; stat's utime+stime, in clock ticks, where schedstat is missing).
// Linux only. Feeds tasks the way the worker's connection does: tasks outstanding topped up
// to `executor.credits()` once per event-loop turn, an AbortController per task, and progress
// handled like the connection handles it (the update merged into the task's pending one, a
// timer armed for its sending, cleared when the task settles). Run `npm run build` first.
//
//   node bench/downloads/executor.js URL_LIST OUT_PARENT [--runs 5] [--warmup 1]
//        [--threads 2] [--slots 16] [--no-heap-governor]
//
// OUT_PARENT: a folder to create the data root in (a temporary folder, removed at the end);
// every run writes into its own new subfolder, removed after the run. The URLs must be
// loopback or public (loopback is allowed here). Output file names are the URLs' last
// path segments, as the coordinator plans them (duplicates are not renamed).
// SPINDLE_FETCH_WORKER=DIR loads another build of the fetch worker package (a folder with
// its package.json and dist/, e.g. a copy of an earlier build) to compare before and after.
'use strict';
/* global AbortController, setImmediate, clearTimeout */
const fs = require('node:fs');
const path = require('node:path');
const pkg = process.env.SPINDLE_FETCH_WORKER ? path.resolve(process.env.SPINDLE_FETCH_WORKER) : '@spindle/fetch-worker';
const { createFetchExecutor } = require(pkg);
const { startHeapGovernor } = require(`${pkg}/dist/heap-governor`);

function parseArgs(argv) {
  const opts = { runs: 5, warmup: 1, threads: 2, slots: 16, heapGovernor: true, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--no-heap-governor') opts.heapGovernor = false;
    else if (a === '--runs' || a === '--warmup' || a === '--threads' || a === '--slots') {
      opts[a.slice(2)] = Number(argv[++i]);
    } else opts.positional.push(a);
  }
  if (opts.positional.length !== 2) {
    console.error('usage: executor.js URL_LIST OUT_PARENT [--runs N] [--warmup N] [--threads N] [--slots N] [--no-heap-governor]');
    process.exit(2);
  }
  return opts;
}

/** CPU time of every thread of this process, in ns, by tid. */
function threadCpu() {
  const out = new Map();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const sched = fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8');
      out.set(tid, Number(sched.split(' ')[0]));
    } catch {
      try {
        const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        // Fields after the ")" of comm: state is field 3, utime 14, stime 15.
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(tid, ((Number(f[11]) + Number(f[12])) * 1e9) / 100);
      } catch {
        // The thread ended between readdir and read.
      }
    }
  }
  return out;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function runOnce(executor, urls, outputDir, runIndex) {
  let next = 0;
  let outstanding = 0;
  let finished = 0;
  let failures = 0;
  let firstError = null;
  let topUpScheduled = false;
  return new Promise((resolve) => {
    const topUp = () => {
      topUpScheduled = false;
      const want = executor.credits ? executor.credits() : executor.slots;
      while (outstanding < want && next < urls.length) {
        const i = next++;
        const url = urls[i];
        const controller = new AbortController();
        const task = { pending: undefined, timer: undefined, running: true };
        outstanding++;
        executor
          .run(
            {
              url,
              outputDir,
              fileName: decodeURIComponent(url.slice(url.lastIndexOf('/') + 1)),
              sha256: '',
              expectedSize: 0,
              options: undefined,
              maxAttempts: 3,
              nameFromResponse: false,
            },
            {
              taskId: `bench-${runIndex}/f/${i}`,
              attempt: 1,
              jobId: `bench-${runIndex}`,
              signal: controller.signal,
              progress: (update) => {
                task.pending = { ...task.pending, ...update };
                task.timer ??= setTimeout(() => {
                  task.timer = undefined;
                  if (task.running) task.pending = undefined; // the connection sends it here
                }, 0);
              },
            },
          )
          .then((outcome) => {
            clearTimeout(task.timer);
            task.running = false;
            outstanding--;
            finished++;
            if (outcome.$case !== 'fetch') {
              failures++;
              firstError ??= outcome.value;
            }
            if (finished === urls.length) resolve({ failures, firstError });
            else if (!topUpScheduled) {
              topUpScheduled = true;
              setImmediate(topUp);
            }
          });
      }
    };
    topUp();
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const [list, outParent] = opts.positional;
  const urls = fs
    .readFileSync(list, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const dataRoot = fs.mkdtempSync(path.join(path.resolve(outParent), 'spindle-executor-bench-'));
  const stopGovernor = opts.heapGovernor ? startHeapGovernor() : () => {};
  const before = new Set(threadCpu().keys());
  const executor = createFetchExecutor({ dataRoot, threads: opts.threads, slots: opts.slots, allowLoopback: true });
  // Worker threads start their OS thread in the constructor: the new tids are the fetch threads.
  const fetchTids = [...threadCpu().keys()].filter((t) => !before.has(t));
  const mainTid = String(process.pid);
  const rows = [];
  try {
    for (let r = 0; r < opts.warmup + opts.runs; r++) {
      const warm = r < opts.warmup;
      const outputDir = `run-${r}`;
      const cpu0 = threadCpu();
      const t0 = process.hrtime.bigint();
      const { failures, firstError } = await runOnce(executor, urls, outputDir, r);
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const cpu1 = threadCpu();
      const perFile = (ns) => ns / 1000 / urls.length;
      const delta = (tid) => (cpu1.get(tid) ?? 0) - (cpu0.get(tid) ?? 0);
      let other = 0;
      for (const tid of cpu1.keys()) if (tid !== mainTid && !fetchTids.includes(tid)) other += delta(tid);
      const row = {
        wallMs,
        main: perFile(delta(mainTid)),
        fetch: fetchTids.map((t) => perFile(delta(t))),
        other: perFile(other),
      };
      row.total = row.main + row.fetch.reduce((a, b) => a + b, 0) + row.other;
      const files = fs.readdirSync(path.join(dataRoot, outputDir));
      console.log(
        `${warm ? 'warm-up' : `run ${r - opts.warmup + 1}`}: ${urls.length} files in ${wallMs.toFixed(0)} ms` +
          ` | CPU µs/file: main ${row.main.toFixed(1)}, fetch threads ${row.fetch.map((x) => x.toFixed(1)).join(' + ')},` +
          ` other ${row.other.toFixed(1)}, total ${row.total.toFixed(1)}` +
          (failures > 0 ? ` | ${failures} FAILED (first: ${firstError.code} ${firstError.message})` : '') +
          (files.length !== urls.length ? ` | ${files.length} entries in the folder` : ''),
      );
      fs.rmSync(path.join(dataRoot, outputDir), { recursive: true, force: true });
      if (!warm) rows.push(row);
    }
    if (rows.length > 0) {
      const fetchSum = rows.map((r) => r.fetch.reduce((a, b) => a + b, 0));
      console.log(
        `median of ${rows.length}: wall ${median(rows.map((r) => r.wallMs)).toFixed(0)} ms` +
          ` | CPU µs/file: main ${median(rows.map((r) => r.main)).toFixed(1)},` +
          ` fetch threads ${fetchTids.map((_, i) => median(rows.map((r) => r.fetch[i])).toFixed(1)).join(' + ')}` +
          ` (sum ${median(fetchSum).toFixed(1)}), other ${median(rows.map((r) => r.other)).toFixed(1)},` +
          ` total ${median(rows.map((r) => r.total)).toFixed(1)}`,
      );
    }
  } finally {
    await executor.close();
    stopGovernor();
    fs.rmSync(dataRoot, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
