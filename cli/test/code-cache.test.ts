import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/helpers/temp-dir';
import { defaultCodeCacheFile, LEGACY_SHARED_FILE } from '../src/code-cache';

/** The built module: the hook replaces the module loader, so it runs in child processes only. */
const CODE_CACHE = path.resolve(__dirname, '..', 'dist', 'code-cache.js');

interface RunResult {
  status: number | null;
  stats: { hits: number; misses: number };
  result: unknown;
  stderr: string;
}

/** In a child process: installs the cache with `file`, then requires the fixture `main.js` of `dir`. */
function run(dir: string, file: string): RunResult {
  const script =
    `const stats = require(${JSON.stringify(CODE_CACHE)}).installCodeCache(${JSON.stringify(file)});` +
    `const result = require(${JSON.stringify(path.join(dir, 'main.js'))});` +
    `console.log(JSON.stringify({ stats, result }));`;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  const out = child.stdout.trim() ? (JSON.parse(child.stdout) as Pick<RunResult, 'stats' | 'result'>) : undefined;
  return { status: child.status, stats: out?.stats ?? { hits: -1, misses: -1 }, result: out?.result, stderr: child.stderr };
}

function fixture(): string {
  const dir = makeTempDir('spindle-code-cache-');
  writeFileSync(
    path.join(dir, 'main.js'),
    "const dep = require('./dep');\n" +
      'module.exports = { sum: dep.add(2, 3), resolved: path(require.resolve("./dep")), main: require.main === undefined,\n' +
      '  name: __filename.endsWith("main.js"), self: module.exports === exports };\n' +
      "function path(p) { return require('node:path').basename(p); }\n",
  );
  writeFileSync(path.join(dir, 'dep.js'), '#!/usr/bin/env node\nexports.add = (a, b) => a + b;\n');
  return dir;
}

describe('code cache', () => {
  it('caches compiled modules at exit and uses them on the next run, with the same results', () => {
    const dir = fixture();
    const file = path.join(dir, 'cache', 'code.bin');
    const want = { sum: 5, resolved: 'dep.js', main: true, name: true, self: true };
    const first = run(dir, file);
    expect(first).toMatchObject({ status: 0, stats: { hits: 0, misses: 2 }, result: want });
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const second = run(dir, file);
    expect(second).toMatchObject({ status: 0, stats: { hits: 2, misses: 0 }, result: want });
  });

  it('compiles a changed module from source, and caches it anew', () => {
    const dir = fixture();
    const file = path.join(dir, 'cache', 'code.bin');
    run(dir, file);
    // Same length on purpose: V8 alone would not notice the change.
    writeFileSync(path.join(dir, 'dep.js'), '#!/usr/bin/env node\nexports.add = (a, b) => a * b;\n');
    expect(run(dir, file)).toMatchObject({ status: 0, stats: { hits: 1, misses: 1 }, result: { sum: 6 } });
    expect(run(dir, file)).toMatchObject({ status: 0, stats: { hits: 2, misses: 0 }, result: { sum: 6 } });
  });

  it('never fails because of the cache: corrupt, unwritable, or in a folder of someone else', () => {
    const dir = fixture();
    const corrupt = path.join(dir, 'corrupt', 'code.bin');
    mkdirSync(path.dirname(corrupt), { mode: 0o700 });
    writeFileSync(corrupt, 'not a cache');
    expect(run(dir, corrupt)).toMatchObject({ status: 0, stats: { hits: 0, misses: 2 }, result: { sum: 5 } });
    // /proc refuses new folders (and Node's recursive mkdir would loop there forever).
    expect(run(dir, '/proc/spindle-no-such/code.bin')).toMatchObject({ status: 0, result: { sum: 5 } });
    const open = path.join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(run(dir, path.join(open, 'code.bin'))).toMatchObject({ status: 0, result: { sum: 5 } });
    expect(existsSync(path.join(open, 'code.bin'))).toBe(false);
  });

  it('drops the entries of modules that are gone when it saves, so the file does not only grow', () => {
    const entries = (file: string) => {
      const buf = readFileSync(file);
      return Object.keys(JSON.parse(buf.subarray(4, 4 + buf.readUInt32LE(0)).toString('utf8')) as object).sort();
    };
    const a = fixture();
    const b = fixture();
    const file = path.join(makeTempDir('spindle-code-cache-'), 'cache', 'code.bin');
    run(a, file);
    run(b, file);
    const files = (dir: string) => [path.join(dir, 'dep.js'), path.join(dir, 'main.js')];
    expect(entries(file)).toEqual([...files(a), ...files(b)].sort());
    rmSync(a, { recursive: true });
    // A change in b makes the run save again; a's modules are not there any more.
    writeFileSync(path.join(b, 'dep.js'), 'exports.add = (a, b) => a - b;\n');
    expect(run(b, file)).toMatchObject({ status: 0, stats: { hits: 1, misses: 1 }, result: { sum: -1 } });
    expect(entries(file)).toEqual(files(b).sort());
  });

  it('keeps one file per installation and Node version', () => {
    expect(path.basename(defaultCodeCacheFile())).toMatch(
      new RegExp(`^code-cache-${process.version.replace(/\./g, '\\.')}-${process.arch}-[0-9a-f]{12}\\.bin$`),
    );
  });

  it('removes the file all installations used to share when it saves', () => {
    const dir = fixture();
    const file = path.join(dir, 'cache', 'code.bin');
    mkdirSync(path.dirname(file), { mode: 0o700 });
    const legacy = path.join(path.dirname(file), LEGACY_SHARED_FILE);
    writeFileSync(legacy, 'an old shared cache');
    expect(run(dir, file)).toMatchObject({ status: 0, stats: { misses: 2 }, result: { sum: 5 } });
    expect(existsSync(file)).toBe(true);
    expect(existsSync(legacy)).toBe(false);
  });

  it('leaves syntax errors to Node', () => {
    const dir = fixture();
    writeFileSync(path.join(dir, 'dep.js'), 'exports.add = (a, b) => ;\n');
    const res = run(dir, path.join(dir, 'cache', 'code.bin'));
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/SyntaxError/);
  });
});
