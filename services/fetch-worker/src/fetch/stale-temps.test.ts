import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { STALE_TEMP_MS, sweepStaleTemps } from './stale-temps';

describe('sweepStaleTemps', () => {
  let dir = '';
  afterEach(async () => {
    if (dir !== '') await fs.rm(dir, { recursive: true, force: true });
  });

  it("removes the worker's temporary files nothing wrote to for long, and nothing else", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'spindle-stale-'));
    const old = new Date(Date.now() - STALE_TEMP_MS - 60_000);
    const files = {
      stalePart: '.data.bin.job-f-0.1.part',
      staleResume: '.data.bin.job-f-0.resume',
      staleMeta: '.data.bin.job-f-0.resume.json',
      freshPart: '.other.bin.job-f-1.2.part',
      userFile: 'data.bin',
      userHidden: '.notes.part',
      userPart: 'movie.1.part',
    };
    for (const name of Object.values(files)) await fs.writeFile(path.join(dir, name), 'x');
    for (const name of [files.stalePart, files.staleResume, files.staleMeta, files.userFile, files.userHidden, files.userPart]) {
      await fs.utimes(path.join(dir, name), old, old);
    }
    // A folder and a link with temporary-looking names are never touched.
    await fs.mkdir(path.join(dir, '.dir.job-f-2.1.part'));
    await fs.symlink(path.join(dir, files.userFile), path.join(dir, '.link.job-f-3.1.part'));

    expect(await sweepStaleTemps(dir)).toBe(3);
    expect((await fs.readdir(dir)).sort()).toEqual(
      ['.dir.job-f-2.1.part', '.link.job-f-3.1.part', files.freshPart, files.userHidden, files.userFile, files.userPart].sort(),
    );
  });

  it('returns 0 for a folder that does not exist', async () => {
    expect(await sweepStaleTemps(path.join(os.tmpdir(), 'spindle-no-such-folder-' + process.pid))).toBe(0);
  });
});
