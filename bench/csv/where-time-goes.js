#!/usr/bin/env node
// Where a stats thread's time goes: runs the engine single-threaded over a file (as one range
// does) under V8's sampling profiler and groups self time by module: parsing with the fused
// number conversion (the engine's fast path and the reader), per-cell dispatch of the slow
// path, moments, quantile sketch, distinct counting, I/O and GC. Not a test.
//
//   node bench/csv/where-time-goes.js FILE [runs=3]
'use strict';
/* global performance */
const fs = require('node:fs');
const inspector = require('node:inspector');
const path = require('node:path');
const { StatsEngine } = require('../../services/stats-worker/dist/stats/engine.js');

const GROUPS = [
  ['parse + number conversion (fast path)', /stats\/engine\.js|csv\/reader\.js|csv\/text-guard\.js/],
  ['slow-path cells (quoted, exponents, text, dates)', /stats\/column-profile\.js|stats\/parse-number\.js|stats\/parse-temporal\.js/],
  ['moments (Welford blocks, Chan merge)', /stats\/accumulator\.js/],
  ['quartiles (exact buffer, sketch)', /sketch\/quantile/],
  ['distinct (exact sets, HyperLogLog, hashing)', /sketch\/(distinct|hash|hyperloglog)\.js/],
];

function post(session, method, params) {
  return new Promise((resolve, reject) =>
    session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
  );
}

async function main() {
  const [file, runs = '3'] = process.argv.slice(2);
  const size = fs.statSync(file).size;
  const run = () => {
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.allocUnsafe(1 << 20);
    const engine = new StatsEngine({});
    let pos = 0;
    let n;
    while ((n = fs.readSync(fd, buf, 0, buf.length, pos)) > 0) {
      engine.push(buf.subarray(0, n));
      pos += n;
    }
    fs.closeSync(fd);
    return engine.end();
  };
  run(); // warm-up: JIT
  const session = new inspector.Session();
  session.connect();
  await post(session, 'Profiler.enable');
  await post(session, 'Profiler.setSamplingInterval', { interval: 200 });
  await post(session, 'Profiler.start');
  const t0 = performance.now();
  for (let i = 0; i < Number(runs); i++) run();
  const ms = (performance.now() - t0) / Number(runs);
  const { profile } = await post(session, 'Profiler.stop');
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const url = byId.get(id).callFrame.url;
    const name = byId.get(id).callFrame.functionName;
    const group =
      GROUPS.find(([, re]) => re.test(url))?.[0] ??
      (name === '(garbage collector)' ? 'garbage collection' : /read/.test(name) ? 'file reads' : 'other');
    totals.set(group, (totals.get(group) ?? 0) + dt);
    all += dt;
  });
  console.log(`${path.basename(file)}: ${(size / 1e6).toFixed(0)} MB, ${ms.toFixed(0)} ms per pass on one thread (${(size / 1e3 / ms).toFixed(0)} MB/s)`);
  for (const [group, t] of [...totals].sort((a, b) => b[1] - a[1])) {
    console.log(`  ${((100 * t) / all).toFixed(0).padStart(3)} %  ${((ms * t) / all).toFixed(0).padStart(4)} ms  ${group}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
