#!/usr/bin/env node
// Marks the packages' bin entry points executable after a build. npm links them at
// install time, before `tsc -b` has produced them, so it cannot chmod them itself.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const { workspaces } = require(path.join(root, 'package.json'));
for (const ws of workspaces) {
  const pkg = require(path.join(root, ws, 'package.json'));
  for (const bin of Object.values(pkg.bin ?? {})) {
    const file = path.join(root, ws, bin);
    if (fs.existsSync(file)) fs.chmodSync(file, 0o755);
  }
}
