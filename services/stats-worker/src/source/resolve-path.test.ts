import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStatsError } from '../errors';
import { isInside, resolveSourcePath } from './resolve-path';

let base: string;
let root: string;
let realRoot: string;

beforeAll(async () => {
  base = await fs.mkdtemp(path.join(os.tmpdir(), 'spindle-resolve-'));
  root = path.join(base, 'data');
  await fs.mkdir(path.join(root, 'sub'), { recursive: true });
  await fs.writeFile(path.join(root, 'a.csv'), 'x\n1\n');
  await fs.writeFile(path.join(root, 'sub', 'b.csv'), 'x\n2\n');
  await fs.writeFile(path.join(root, '..dots.csv'), 'x\n3\n');
  await fs.writeFile(path.join(base, 'secret.csv'), 'x\n4\n');
  await fs.symlink(path.join(base, 'secret.csv'), path.join(root, 'out-link.csv'));
  await fs.symlink(path.join(root, 'sub', 'b.csv'), path.join(root, 'in-link.csv'));
  await fs.symlink(base, path.join(root, 'out-dir'));
  execFileSync('mkfifo', [path.join(root, 'pipe.csv')]);
  realRoot = await fs.realpath(root);
});

afterAll(async () => {
  await fs.rm(base, { recursive: true, force: true });
});

async function codeOf(source: string): Promise<string> {
  try {
    await resolveSourcePath(source, root, realRoot);
    return 'OK';
  } catch (err) {
    if (!isStatsError(err)) throw err;
    // Messages name the source (the caller sees which of its files failed).
    if (/^[\x20-\x7e]+$/.test(source)) expect(err.message).toContain(source);
    return err.code;
  }
}

describe('resolveSourcePath', () => {
  it('resolves a relative path, an absolute path inside the root and a symlink inside it', async () => {
    const rel = await resolveSourcePath('sub/b.csv', root, realRoot);
    expect(rel.realPath).toBe(path.join(realRoot, 'sub', 'b.csv'));
    expect(rel.size).toBe(4);
    expect((await resolveSourcePath(path.join(root, 'a.csv'), root, realRoot)).realPath).toBe(
      path.join(realRoot, 'a.csv'),
    );
    expect((await resolveSourcePath('in-link.csv', root, realRoot)).realPath).toBe(
      path.join(realRoot, 'sub', 'b.csv'),
    );
    expect(await codeOf('sub/../a.csv')).toBe('OK');
    expect(await codeOf('..dots.csv')).toBe('OK');
  });

  it.each([
    ['../secret.csv', 'PATH_FORBIDDEN'],
    ['sub/../../secret.csv', 'PATH_FORBIDDEN'],
    ['out-link.csv', 'PATH_FORBIDDEN'],
    ['out-dir/secret.csv', 'PATH_FORBIDDEN'],
    ['missing.csv', 'FILE_NOT_FOUND'],
    ['a.csv/x', 'FILE_NOT_FOUND'],
    ['sub', 'INVALID_SPEC'],
    ['pipe.csv', 'INVALID_SPEC'],
    ['', 'INVALID_SPEC'],
    ['a\0.csv', 'INVALID_SPEC'],
  ])('%j → %s', async (source, code) => {
    expect(await codeOf(source)).toBe(code);
  });

  it('refuses an absolute path elsewhere without looking at it', async () => {
    expect(await codeOf(path.join(base, 'secret.csv'))).toBe('PATH_FORBIDDEN');
    expect(await codeOf('/etc/passwd')).toBe('PATH_FORBIDDEN');
    // Outside the root, a missing file is PATH_FORBIDDEN too: no probing for files out there.
    expect(await codeOf('/no/such/file.csv')).toBe('PATH_FORBIDDEN');
  });

  it('isInside compares whole path segments', () => {
    expect(isInside('/data/x', '/data')).toBe(true);
    expect(isInside('/data', '/data')).toBe(true);
    expect(isInside('/data/..x', '/data')).toBe(true);
    expect(isInside('/database/x', '/data')).toBe(false);
    expect(isInside('/x', '/data')).toBe(false);
  });
});
