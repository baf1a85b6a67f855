#!/usr/bin/env node
// Prints the CSV statistics table of bench/RESULTS.md from the harness JSON files written by
// bench/csv/run.sh: medians, ratios against DuckDB and the tutorial's pandas program, MB/s,
// rows/s, peak RSS, and how far Spindle's means/minima/maxima are from pandas'.
//
//   node bench/csv/report.js RESULTS_DIR PEAKS_FILE
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [dir, peaksFile] = process.argv.slice(2);
const peaks = Object.fromEntries(
  fs.readFileSync(peaksFile, 'utf8').trim().split('\n').map((l) => {
    const [slug, worker, coordinator] = l.split(' ');
    return [slug, { worker, coordinator }];
  }),
);

function loadLong(file) {
  const out = new Map();
  if (!file || !fs.existsSync(file)) return out;
  const [header, ...lines] = fs.readFileSync(file, 'utf8').trim().split('\n');
  const names = header.split(',');
  for (const line of lines) {
    // The bench files have no quoted cells.
    const cells = line.split(',');
    const row = Object.fromEntries(names.map((n, i) => [n, cells[i]]));
    if (row.column) out.set(`${row.file}/${row.column}`, row);
  }
  return out;
}

const rows = [];
for (const file of fs.readdirSync(dir).filter((f) => /^spindle-csv-.*\.json$/.test(f)).sort()) {
  const slug = file.replace(/^spindle-csv-|\.json$/g, '');
  const { results } = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  const csv = results.filter((r) => r.group === 'csv');
  const find = (re) => csv.find((r) => re.test(r.tool) && r.median_s);
  const duck = find(/^duckdb node-api \(2/);
  const pandas = find(/seed/);
  const pandasRef = loadLong(pandas?.result);
  for (const r of csv) {
    if (!r.median_s) {
      rows.push(`| ${r.workload} | ${r.tool} | FAILED | | | | | | | | | ${String(r.verify).slice(0, 80)} |`);
      continue;
    }
    const m = r.median_s;
    const spindle = r.tool.startsWith('spindle');
    let diff = '';
    if (spindle && pandasRef.size) {
      const mine = loadLong(r.result);
      let worst = 0;
      let common = 0;
      for (const [key, ref] of pandasRef) {
        const got = mine.get(key);
        if (!got) continue;
        common++;
        for (const stat of ['mean', 'min', 'max']) {
          const a = Number(ref[stat]);
          const b = Number(got[stat]);
          worst = Math.max(worst, Math.abs(a - b) / Math.max(Math.abs(a), 1e-12));
        }
      }
      const extra = [...mine.keys()].filter((k) => !pandasRef.has(k)).map((k) => k.split('/')[1]);
      diff = `${worst.toExponential(1)} (${common} cols)${extra.length ? `; also numeric: ${[...new Set(extra)].join(',')}` : ''}`;
    }
    const i = r.instrumented ?? {};
    rows.push(
      `| ${r.workload} | ${spindle ? '**spindle**' : r.tool} | ${m.toFixed(3)} | ${r.min_s.toFixed(3)}–${r.max_s.toFixed(3)} | ` +
        `${(r.bytes / m / 1e6).toFixed(0)} | ${(r.rows / m / 1e6).toFixed(2)} M | ` +
        `${duck ? (duck.median_s / m).toFixed(2) : ''} | ${pandas ? (pandas.median_s / m).toFixed(2) : ''} | ` +
        `${r.cpu_s.toFixed(2)} | ${i.max_rss_kb ? Math.round(i.max_rss_kb / 1024) : ''} | ` +
        `${spindle ? `${peaks[slug]?.worker ?? '?'} / ${peaks[slug]?.coordinator ?? '?'}` : ''} | ${diff} |`,
    );
  }
}
console.log(
  '| workload | tool | median s | min–max s | MB/s | rows/s | × DuckDB | × pandas seed | client CPU s | client peak RSS MiB | stats worker / coordinator peak RSS MiB | vs pandas: max rel. diff of mean/min/max |',
);
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const r of rows) console.log(r);
