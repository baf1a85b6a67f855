#!/usr/bin/env node
// The command the peer harness times for Spindle's CSV statistics: exactly `spindle stats`
// (the CLI's own code, run in this process) against a running coordinator, writing the
// per-column table, then that table converted to the peers' long format
// `file,rows,columns,column,mean,min,max` (numeric columns only, file = base name) so the
// harness's verify_csv.py and cross-check read it like every peer's output.
//
//   SPINDLE_ADDR=127.0.0.1:PORT node bench/csv/spindle-csv.js OUT.csv FILE...
'use strict';
/* global AbortController */
const fs = require('node:fs');
const path = require('node:path');
const { runCli } = require('../../cli/dist/cli.js');

/** A minimal RFC 4180 reader for the exported table. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  return rows;
}

const cell = (v) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

async function main() {
  const [out, ...files] = process.argv.slice(2);
  if (!out || files.length === 0) {
    console.error('usage: SPINDLE_ADDR=host:port spindle-csv.js OUT.csv FILE...');
    process.exit(2);
  }
  const columnsFile = `${out}.columns.csv`;
  const ctx = {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    signal: new AbortController().signal,
    onExit: () => () => undefined,
  };
  const code = await runCli(['stats', '--columns-output', columnsFile, ...files], ctx);
  if (code !== 0) process.exit(code);
  const [header, ...rows] = parseCsv(fs.readFileSync(columnsFile, 'utf8'));
  const at = Object.fromEntries(header.map((h, i) => [h, i]));
  const lines = ['file,rows,columns,column,mean,min,max'];
  for (const r of rows) {
    const numeric = r[at.type] === 'integer' || r[at.type] === 'float';
    const base = [cell(path.basename(r[at.file])), r[at.rows], r[at.columns]].join(',');
    if (numeric) lines.push(`${base},${cell(r[at.column])},${r[at.mean]},${r[at.min]},${r[at.max]}`);
  }
  fs.writeFileSync(out, lines.join('\n') + '\n');
  fs.rmSync(columnsFile, { force: true });
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
