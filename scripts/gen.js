#!/usr/bin/env node
// Regenerates everything derived from proto/: the ts-proto SDK sources (sdk/src/gen)
// and the descriptor set the coordinator serves through reflection
// (sdk/descriptors/spindle.binpb). With --check, regenerates into place and fails
// when the result differs from what is committed (CI runs this).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const buf = path.join(root, 'node_modules', '.bin', 'buf');
const run = (args) => execFileSync(buf, args, { cwd: root, stdio: 'inherit' });

run(['lint']);
fs.rmSync(path.join(root, 'sdk/src/gen'), { recursive: true, force: true });
run(['generate']);
fs.mkdirSync(path.join(root, 'sdk/descriptors'), { recursive: true });
// Source info is kept so that `grpcurl describe` shows the proto comments.
run(['build', 'proto', '-o', 'sdk/descriptors/spindle.binpb']);

if (process.argv.includes('--check')) {
  try {
    execFileSync('git', ['diff', '--exit-code', '--stat', '--', 'sdk/src/gen', 'sdk/descriptors'], {
      cwd: root,
      stdio: 'inherit',
    });
    const untracked = execFileSync(
      'git',
      ['ls-files', '--others', '--exclude-standard', '--', 'sdk/src/gen', 'sdk/descriptors'],
      { cwd: root, encoding: 'utf8' },
    ).trim();
    if (untracked) throw new Error(`untracked generated files:\n${untracked}`);
  } catch (err) {
    console.error('generated code is stale: run `npm run gen` and commit the result');
    if (err instanceof Error && err.message) console.error(err.message);
    process.exit(1);
  }
  console.log('generated code is up to date');
}
