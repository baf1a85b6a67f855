import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkOutputDir, isInside, OutputDirs } from './output-path';

describe('checkOutputDir', () => {
  it.each([
    ['out', 'out'],
    ['a/b/c', 'a/b/c'],
    ['./a//b/', 'a/b'],
    ['a\\b', 'a/b'],
    ['..a/b..', '..a/b..'],
    ['.', ''],
  ])('accepts %j as %j', (dir, rel) => {
    expect(checkOutputDir(dir, 'job')).toEqual({ ok: true, rel });
  });

  it('defaults to jobs/<job id>, sanitizing the id', () => {
    expect(checkOutputDir('', 'j-1')).toEqual({ ok: true, rel: 'jobs/j-1' });
    expect(checkOutputDir('', '../x')).toEqual({ ok: true, rel: 'jobs/x' });
    expect(checkOutputDir('', '')).toEqual({ ok: true, rel: '' });
  });

  it.each(['/etc', '//server/share', '\\\\server\\share', 'C:/x', 'c:x', '..', 'a/..', 'a/../b', '..\\..\\x'])(
    'refuses %j with PATH_FORBIDDEN',
    (dir) => {
      expect(checkOutputDir(dir, 'job')).toMatchObject({ ok: false, code: 'PATH_FORBIDDEN' });
    },
  );

  it('refuses a NUL byte with INVALID_SPEC', () => {
    expect(checkOutputDir('a\0b', 'job')).toMatchObject({ ok: false, code: 'INVALID_SPEC' });
  });
});

describe('isInside', () => {
  it('tells a folder below the root from a sibling with a common prefix', () => {
    expect(isInside('/data', '/data')).toBe(true);
    expect(isInside('/data', '/data/a/b')).toBe(true);
    expect(isInside('/data', '/data/..a')).toBe(true);
    expect(isInside('/data', '/database')).toBe(false);
    expect(isInside('/data', '/')).toBe(false);
  });
});

describe('OutputDirs', () => {
  let root: string;
  let outside: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'spindle-dirs-'));
    outside = await fs.mkdtemp(path.join(os.tmpdir(), 'spindle-outside-'));
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
    await fs.rm(outside, { recursive: true, force: true });
  });

  it('creates nested folders and returns their absolute path', async () => {
    const dirs = new OutputDirs(root);
    const abs = await dirs.ensure('a/b');
    expect(abs).toBe(path.join(root, 'a', 'b'));
    expect((await fs.stat(abs)).isDirectory()).toBe(true);
  });

  it('creates a missing data root', async () => {
    const dirs = new OutputDirs(path.join(root, 'not-yet'));
    expect(await dirs.ensure('')).toBe(path.join(root, 'not-yet'));
  });

  it('refuses a folder reached through a symlink that leaves the root', async () => {
    await fs.symlink(outside, path.join(root, 'link'));
    const dirs = new OutputDirs(root);
    await expect(dirs.ensure('link/x')).rejects.toMatchObject({ code: 'PATH_FORBIDDEN' });
  });

  it('accepts a symlinked data root', async () => {
    const linkedRoot = path.join(outside, 'root-link');
    await fs.symlink(root, linkedRoot);
    const dirs = new OutputDirs(linkedRoot);
    expect(await dirs.ensure('ok')).toBe(path.join(linkedRoot, 'ok'));
  });

  it('recreates a folder after forget()', async () => {
    const dirs = new OutputDirs(root);
    const abs = await dirs.ensure('gone');
    await fs.rm(abs, { recursive: true });
    dirs.forget('gone');
    await dirs.ensure('gone');
    expect((await fs.stat(abs)).isDirectory()).toBe(true);
  });
});
