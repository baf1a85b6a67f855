#!/usr/bin/env node
// Prints the download tables of bench/RESULTS.md from the harness JSON written by
// bench/downloads/run.sh: per workload every tool's median wall time, files/s, MB/s and peak
// RSS, Spindle's speed relative to each peer (peer time ÷ Spindle time: > 1 = Spindle is
// faster), the fetch worker's and coordinator's peak RSS, and how far Spindle is from the
// `cp -r` floor (Spindle time ÷ cp time) and the loopback limit.
//
//   node bench/downloads/report.js RESULTS.json PEAKS_FILE
'use strict';
const fs = require('node:fs');

const [jsonFile, peaksFile] = process.argv.slice(2);
const { meta, results } = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
const peaks = new Map(
  fs
    .readFileSync(peaksFile, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [group, worker, coordinator] = l.split('|');
      return [group, { worker, coordinator }];
    }),
);

const fmt = (x, d = 3) => (x === undefined || x === null ? '' : x.toFixed(d));
const byWorkload = new Map();
for (const r of results) {
  if (r.group !== 'download') continue;
  if (!byWorkload.has(r.workload)) byWorkload.set(r.workload, []);
  byWorkload.get(r.workload).push(r);
}
const probe = (re) => results.find((r) => r.group === 'probe' && re.test(`${r.workload} | ${r.tool}`) && r.median_s);

console.log(`Run: ${meta.date}, ${meta.machine}, ${meta.runs} timed rounds after 1 warm-up, load ${meta.load_min.toFixed(2)}–${meta.load_max.toFixed(2)}; ${Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
console.log('');
console.log('| workload → disk | tool | median s | min–max s | files/s | MB/s | peer s ÷ Spindle (-q) s | client CPU s | client peak RSS MiB | fetch worker / coordinator peak RSS MiB |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
const summary = [];
for (const [workload, rows] of byWorkload) {
  // The -q case is Spindle's row for the ratios: the peers run silent too.
  const spindle = rows.find((r) => r.tool.startsWith('spindle fetch -q (') && r.median_s);
  const lines = rows.find((r) => r.tool.startsWith('spindle fetch, a line') && r.median_s);
  const noCa = rows.find((r) => r.tool.startsWith('spindle fetch -q, node without') && r.median_s);
  const order = (r) =>
    r === spindle ? 0 : r.tool.startsWith('spindle') ? 1 : r.tool.startsWith('curl') ? 2 : r.tool.startsWith('aria2c') ? 3 : r.baseline ? 4 : 5;
  for (const r of [...rows].sort((a, b) => order(a) - order(b))) {
    if (!r.median_s) {
      console.log(`| ${workload} | ${r.tool} | FAILED | | | | | | | ${String(r.verify).slice(0, 80)} |`);
      continue;
    }
    const m = r.median_s;
    const isSpindle = r.tool.startsWith('spindle');
    const ratio = spindle && r !== spindle ? fmt(m / spindle.median_s, 2) : '';
    const p = peaks.get(workload);
    const rss = r.instrumented?.max_rss_kb ? Math.round(r.instrumented.max_rss_kb / 1024) : '';
    console.log(
      `| ${workload} | ${isSpindle ? `**${r.tool}**` : r.tool}${r.baseline ? ' (tutorial)' : ''} | ${fmt(m)} | ${fmt(r.min_s)}–${fmt(r.max_s)} | ` +
        `${Math.round(r.files / m)} | ${fmt(r.bytes / m / 1e6, 1)} | ${ratio} | ${fmt(r.cpu_s, 2)} | ${rss} | ${r === spindle && p ? `${p.worker} / ${p.coordinator}` : ''} |`,
    );
  }
  if (spindle) {
    const w = workload.slice(0, 2).toLowerCase();
    const cp = probe(new RegExp(`^limit: write → disk \\| cp -r ${w}/`));
    const peer = (re) => rows.find((r) => re.test(r.tool) && r.median_s);
    const curl = peer(/^curl/);
    const aria = peer(/^aria2c/);
    const seed = rows.find((r) => r.baseline && r.median_s);
    const hashFloor = peer(/^floor: GET \+ SHA-256/);
    summary.push(
      `| ${workload.split(' ')[0]} | ${fmt(spindle.median_s)} | ${curl ? fmt(curl.median_s / spindle.median_s, 2) : ''} | ` +
        `${aria ? fmt(aria.median_s / spindle.median_s, 2) : ''} | ${seed ? fmt(seed.median_s / spindle.median_s, 2) : ''} | ` +
        `${cp ? `${fmt(cp.median_s)} s → ${fmt(spindle.median_s / cp.median_s, 1)}×` : ''} | ${lines ? fmt(lines.median_s) : ''} | ` +
        `${noCa ? `${fmt(noCa.median_s)} (× curl ${curl ? fmt(curl.median_s / noCa.median_s, 2) : ''})` : ''} | ` +
        `${hashFloor ? `${fmt(hashFloor.median_s)} s → ${fmt(spindle.median_s / hashFloor.median_s, 2)}×` : ''} |`,
    );
  }
}
console.log('');
console.log(
  '| workload | Spindle (-q) median s | × curl --parallel | × aria2c | × tutorial (seed) | `cp -r` floor → Spindle is … slower | Spindle with a line per item, s | Spindle (-q) without NODE_EXTRA_CA_CERTS, s | GET + SHA-256 + write floor → Spindle is … slower |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const line of summary) console.log(line);
console.log('');
console.log('Physical limits measured in the same run:');
console.log('');
console.log('| probe | command | median s | MB/s | files/s |');
console.log('|---|---|---:|---:|---:|');
for (const r of results) {
  if (r.group !== 'probe' || !r.median_s) continue;
  console.log(`| ${r.workload} | \`${r.tool}\` | ${fmt(r.median_s)} | ${Math.round(r.bytes / r.median_s / 1e6)} | ${Math.round(r.files / r.median_s)} |`);
}
