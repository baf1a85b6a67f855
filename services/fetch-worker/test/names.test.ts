import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExistingFilePolicy, type FetchTask } from '@spindle/sdk';
import { fetchOptions, fetchTask, listDir, startServer, taskContext, useExecutor } from './helpers';

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** Every file under `dir`, as relative POSIX paths. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
  }
  return out.sort();
}

describe('fetch executor: file names', () => {
  const fx = useExecutor({ threads: 1, slots: 4, allowLoopback: true });

  it.each([
    ['a file name that climbs out', { fileName: '../../../outside.txt' }, '/x', 'names1/outside.txt'],
    ['an absolute file name', { fileName: '/etc/cron.d/job' }, '/x', 'names1/job'],
    ['a Windows path', { fileName: 'C:\\Windows\\evil.dll' }, '/x', 'names1/evil.dll'],
    ['an encoded traversal in the URL', {}, '/dir/..%2F..%2F..%2Fescape.txt', 'names1/escape.txt'],
    ['control characters', { fileName: 'bad\r\nname\u0000.txt' }, '/x', 'names1/bad__name_.txt'],
    ['a hidden name', { fileName: '.bashrc' }, '/x', 'names1/_.bashrc'],
  ])('keeps %s inside the output folder', async (_label, fields, urlPath, expected) => {
    fx.server = await startServer((_req, res) => res.end('payload'));
    const outcome = await fx.executor.run(fetchTask(`${fx.server.origin}${urlPath}`, { outputDir: 'names1', ...fields }), taskContext());
    expect(outcome).toMatchObject({ $case: 'fetch', value: { path: expected } });
    expect((await tree(fx.dataRoot)).filter((f) => !f.startsWith('names1/'))).toEqual([]);
    await fs.rm(path.join(fx.dataRoot, expected));
  });

  it.each([
    ['attachment; filename="report.csv"', 'report.csv'],
    ['attachment; filename="../../../../etc/evil.sh"', 'evil.sh'],
    ["attachment; filename*=UTF-8''%E2%82%AC%20rates.txt; filename=\"rates.txt\"", '€ rates.txt'],
    ['attachment; filename=".profile"', '_.profile'],
    ['inline', 'download'],
  ])('names a file from Content-Disposition %j when the task asks for it', async (header, expected) => {
    fx.server = await startServer((_req, res) => res.writeHead(200, { 'content-disposition': header }).end('cd'));
    const dir = `cd-${sha256(header).slice(0, 8)}`;
    const outcome = await fx.executor.run(
      fetchTask(`${fx.server.origin}/dir/`, { outputDir: dir, fileName: 'download', nameFromResponse: true }),
      taskContext(),
    );
    expect(outcome).toMatchObject({ $case: 'fetch', value: { path: `${dir}/${expected}` } });
    expect(await listDir(path.join(fx.dataRoot, dir))).toEqual([expected]);
  });

  it('keeps the planned name when the Content-Disposition name is taken, and ignores it unless asked', async () => {
    fx.server = await startServer((_req, res) => res.writeHead(200, { 'content-disposition': 'attachment; filename="taken.txt"' }).end('new'));
    await fs.mkdir(path.join(fx.dataRoot, 'cd-taken'), { recursive: true });
    await fs.writeFile(path.join(fx.dataRoot, 'cd-taken', 'taken.txt'), 'old');
    const task = (nameFromResponse: boolean, fileName: string): FetchTask =>
      fetchTask(`${fx.server!.origin}/get`, { outputDir: 'cd-taken', fileName, nameFromResponse });
    expect(await fx.executor.run(task(true, 'download (1)'), taskContext())).toMatchObject({
      $case: 'fetch',
      value: { path: 'cd-taken/download (1)' },
    });
    expect(await fx.executor.run(task(false, 'get'), taskContext())).toMatchObject({ $case: 'fetch', value: { path: 'cd-taken/get' } });
    expect(await fs.readFile(path.join(fx.dataRoot, 'cd-taken', 'taken.txt'), 'utf8')).toBe('old');
  });

  it('a repeated attempt finds the Content-Disposition file it wrote before: no copy under the placeholder', async () => {
    fx.server = await startServer((_req, res) => res.writeHead(200, { 'content-disposition': 'attachment; filename="report.csv"' }).end('a,b\n1,2\n'));
    const task = fetchTask(`${fx.server.origin}/dir/`, { outputDir: 'cd-again', fileName: 'download', nameFromResponse: true });
    // Attempt 1's result never reached the coordinator, which runs attempt 2.
    expect(await fx.executor.run(task, taskContext({ attempt: 1 }))).toMatchObject({
      $case: 'fetch',
      value: { path: 'cd-again/report.csv', skipped: false },
    });
    expect(await fx.executor.run(task, taskContext({ attempt: 2 }))).toMatchObject({
      $case: 'fetch',
      value: { path: 'cd-again/report.csv', skipped: true },
    });
    expect(await listDir(path.join(fx.dataRoot, 'cd-again'))).toEqual(['report.csv']);
  });
});

describe('fetch executor: when the file already exists (if_exists)', () => {
  const fx = useExecutor({ threads: 1, slots: 4, allowLoopback: true });
  const body = randomBytes(5000);

  async function existing(dir: string, content: Buffer | string): Promise<string> {
    await fs.mkdir(path.join(fx.dataRoot, dir), { recursive: true });
    const file = path.join(fx.dataRoot, dir, 'f.bin');
    await fs.writeFile(file, content);
    return file;
  }

  const withPolicy = (dir: string, ifExists: ExistingFilePolicy, fields: Partial<FetchTask> = {}): FetchTask =>
    fetchTask(`${fx.server!.origin}/f.bin`, { outputDir: dir, options: fetchOptions({ ifExists }), ...fields });

  it('OVERWRITE (and the default) replaces the file atomically', async () => {
    fx.server = await startServer((_req, res) => res.end(body));
    const file = await existing('ow', 'old content');
    expect(await fx.executor.run(withPolicy('ow', ExistingFilePolicy.EXISTING_FILE_POLICY_UNSPECIFIED), taskContext())).toMatchObject({
      $case: 'fetch',
      value: { path: 'ow/f.bin', skipped: false },
    });
    expect(sha256(await fs.readFile(file))).toBe(sha256(body));
    expect(await listDir(path.join(fx.dataRoot, 'ow'))).toEqual(['f.bin']);
  });

  it('RENAME keeps the file and writes "f (1).bin", then "f (2).bin"', async () => {
    let n = 0;
    fx.server = await startServer((_req, res) => res.end(`version ${++n}`));
    const file = await existing('rn', 'old content');
    const policy = ExistingFilePolicy.EXISTING_FILE_POLICY_RENAME;
    expect(await fx.executor.run(withPolicy('rn', policy), taskContext())).toMatchObject({ value: { path: 'rn/f (1).bin' } });
    expect(await fx.executor.run(withPolicy('rn', policy), taskContext())).toMatchObject({ value: { path: 'rn/f (2).bin' } });
    expect(await fs.readFile(file, 'utf8')).toBe('old content');
    expect(await listDir(path.join(fx.dataRoot, 'rn'))).toEqual(['f (1).bin', 'f (2).bin', 'f.bin']);
  });

  it('RENAME adds no copy when a name on the way already holds the same body (a repeated attempt)', async () => {
    fx.server = await startServer((_req, res) => res.end(body));
    const file = await existing('rn-same', 'old content');
    const policy = ExistingFilePolicy.EXISTING_FILE_POLICY_RENAME;
    const first = await fx.executor.run(withPolicy('rn-same', policy), taskContext({ attempt: 1 }));
    expect(first).toMatchObject({ value: { path: 'rn-same/f (1).bin', skipped: false } });
    // The same task again (its first result never reached the coordinator), then a re-run.
    for (const attempt of [2, 1]) {
      expect(await fx.executor.run(withPolicy('rn-same', policy), taskContext({ attempt }))).toMatchObject({
        $case: 'fetch',
        value: { path: 'rn-same/f (1).bin', skipped: true, sha256: sha256(body) },
      });
    }
    expect(await fs.readFile(file, 'utf8')).toBe('old content');
    expect(await listDir(path.join(fx.dataRoot, 'rn-same'))).toEqual(['f (1).bin', 'f.bin']);
  });

  it('SKIP_IDENTICAL with an expected SHA-256 decides without any request', async () => {
    fx.server = await startServer((_req, res) => res.end(body));
    const file = await existing('sk1', body);
    const before = await fs.stat(file);
    const outcome = await fx.executor.run(
      withPolicy('sk1', ExistingFilePolicy.EXISTING_FILE_POLICY_SKIP_IDENTICAL, { sha256: sha256(body) }),
      taskContext(),
    );
    expect(outcome).toMatchObject({
      $case: 'fetch',
      value: { path: 'sk1/f.bin', skipped: true, bytes: body.length, sha256: sha256(body), httpStatus: 0 },
    });
    expect(fx.server.requests).toEqual([]);
    expect((await fs.stat(file)).ino).toBe(before.ino);
  });

  it('SKIP_IDENTICAL downloads and replaces a file whose SHA-256 differs', async () => {
    fx.server = await startServer((_req, res) => res.end(body));
    const file = await existing('sk2', randomBytes(body.length));
    const outcome = await fx.executor.run(
      withPolicy('sk2', ExistingFilePolicy.EXISTING_FILE_POLICY_SKIP_IDENTICAL, { sha256: sha256(body) }),
      taskContext(),
    );
    expect(outcome).toMatchObject({ $case: 'fetch', value: { skipped: false } });
    expect(sha256(await fs.readFile(file))).toBe(sha256(body));
  });

  it('SKIP_IDENTICAL without a checksum keeps an identical file (compared after the download)', async () => {
    fx.server = await startServer((_req, res) => res.end(body));
    const file = await existing('sk3', body);
    const before = await fs.stat(file);
    const outcome = await fx.executor.run(withPolicy('sk3', ExistingFilePolicy.EXISTING_FILE_POLICY_SKIP_IDENTICAL), taskContext());
    expect(outcome).toMatchObject({ $case: 'fetch', value: { skipped: true, httpStatus: 200, sha256: sha256(body) } });
    expect((await fs.stat(file)).ino).toBe(before.ino);
    expect(await listDir(path.join(fx.dataRoot, 'sk3'))).toEqual(['f.bin']);
  });

  it.each([
    ['Content-Length', {}],
    ['the expected size', { expectedSize: body.length }],
  ])('SKIP_IDENTICAL replaces a file of the same size (%s) but other content', async (_what, fields) => {
    fx.server = await startServer((_req, res) => res.end(body));
    const dir = `sk-size-${Object.keys(fields).length}`;
    const file = await existing(dir, randomBytes(body.length));
    const outcome = await fx.executor.run(withPolicy(dir, ExistingFilePolicy.EXISTING_FILE_POLICY_SKIP_IDENTICAL, fields), taskContext());
    expect(outcome).toMatchObject({ $case: 'fetch', value: { skipped: false, sha256: sha256(body) } });
    expect(sha256(await fs.readFile(file))).toBe(sha256(body));
    expect(await listDir(path.join(fx.dataRoot, dir))).toEqual(['f.bin']);
  });

  it('SKIP_IDENTICAL without a checksum or length compares the downloaded body', async () => {
    fx.server = await startServer((_req, res) => {
      res.writeHead(200); // chunked: no Content-Length
      res.end(body);
    });
    const same = await existing('sk4', body);
    const sameIno = (await fs.stat(same)).ino;
    expect(await fx.executor.run(withPolicy('sk4', ExistingFilePolicy.EXISTING_FILE_POLICY_SKIP_IDENTICAL), taskContext())).toMatchObject({
      value: { skipped: true },
    });
    expect((await fs.stat(same)).ino).toBe(sameIno);
    const other = await existing('sk5', randomBytes(body.length));
    expect(await fx.executor.run(withPolicy('sk5', ExistingFilePolicy.EXISTING_FILE_POLICY_SKIP_IDENTICAL), taskContext())).toMatchObject({
      value: { skipped: false },
    });
    expect(sha256(await fs.readFile(other))).toBe(sha256(body));
    expect(await listDir(path.join(fx.dataRoot, 'sk5'))).toEqual(['f.bin']);
  });
});
