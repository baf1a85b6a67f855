import { spawnSync } from 'node:child_process';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../test/helpers/temp-dir';
import { BUNDLE_FILE, freshBundle } from '../src/bundle';
import { CLI } from './helpers';

const DIST = path.dirname(CLI);

/** Runs the built CLI with `args`; reports which of its files Node loaded. */
function loadedFiles(args: string[]): { status: number | null; stdout: string; stderr: string; loaded: string[] } {
  const dir = makeTempDir('spindle-bundle-');
  const preload = path.join(dir, 'loaded.js');
  const out = path.join(dir, 'loaded.json');
  writeFileSync(
    preload,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(require.cache))));\n`,
  );
  const child = spawnSync(process.execPath, ['--require', preload, CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
  const loaded = (JSON.parse(readFileSync(out, 'utf8')) as string[]).filter((f) => f.startsWith(DIST + path.sep));
  return { status: child.status, stdout: child.stdout, stderr: child.stderr, loaded: loaded.map((f) => path.relative(DIST, f)) };
}

describe('the CLI bundle', () => {
  it('is what the built CLI runs: start-up, then one file, with paths as the modules have them', () => {
    const r = loadedFiles(['--version']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // --version reads the CLI's package.json next to its modules' folder.
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync(path.join(DIST, '..', 'package.json'), 'utf8')) as { version: string }).version);
    expect(r.loaded.sort()).toEqual(['bundle.js', 'code-cache.js', 'main.js', BUNDLE_FILE, 'startup.js'].sort());
  });

  it('names a missing file the way the modules do (a command loaded from the bundle)', () => {
    const r = loadedFiles(['fetch', '-i', path.join(makeTempDir('spindle-bundle-'), 'missing.txt')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: cannot read URL list .*missing\.txt: ENOENT/);
    expect(r.loaded).toContain(BUNDLE_FILE);
    expect(r.loaded).not.toContain('program.js');
  });
});

describe('freshBundle', () => {
  function tree(): { dist: string; info: string; sdkInfo: string; at: (file: string, seconds: number) => void } {
    const dist = makeTempDir('spindle-bundle-dist-');
    const sdk = makeTempDir('spindle-bundle-sdk-');
    const at = (file: string, seconds: number): void => {
      writeFileSync(file, '');
      utimesSync(file, seconds, seconds);
    };
    return { dist, info: path.join(dist, '.tsbuildinfo'), sdkInfo: path.join(sdk, '.tsbuildinfo'), at };
  }

  it('is the bundle when it was made after the last compile of every package in it', () => {
    const t = tree();
    t.at(t.info, 1_000);
    t.at(t.sdkInfo, 1_000);
    t.at(path.join(t.dist, BUNDLE_FILE), 1_001);
    expect(freshBundle(t.dist, [t.info, t.sdkInfo])).toBe(path.join(t.dist, BUNDLE_FILE));
  });

  it('is undefined after a compile of the CLI or of the SDK that the bundle has not caught up with', () => {
    const t = tree();
    t.at(path.join(t.dist, BUNDLE_FILE), 1_000);
    t.at(t.info, 1_001);
    t.at(t.sdkInfo, 999);
    expect(freshBundle(t.dist, [t.info, t.sdkInfo])).toBeUndefined();
    t.at(t.info, 999);
    t.at(t.sdkInfo, 1_001);
    expect(freshBundle(t.dist, [t.info, t.sdkInfo])).toBeUndefined();
  });

  it('is undefined without a bundle, and the bundle where no build info is left (an installation)', () => {
    const t = tree();
    expect(freshBundle(t.dist, [t.info, t.sdkInfo])).toBeUndefined();
    t.at(path.join(t.dist, BUNDLE_FILE), 1_000);
    expect(freshBundle(t.dist, [t.info, t.sdkInfo])).toBe(path.join(t.dist, BUNDLE_FILE));
  });
});
