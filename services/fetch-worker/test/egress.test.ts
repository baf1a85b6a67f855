import * as fs from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TaskExecutor } from '@spindle/runtime';
import type { FetchTask } from '@spindle/sdk';
import { createFetchExecutor } from '@spindle/fetch-worker';
import { fetchTask, makeDataRoot, startServer, taskContext, type TestServer } from './helpers';

describe('fetch executor: egress policy', () => {
  let dataRoot: string;
  let open: TaskExecutor<FetchTask>;
  let strict: TaskExecutor<FetchTask>;
  let server: TestServer | undefined;

  beforeAll(async () => {
    dataRoot = await makeDataRoot();
    open = createFetchExecutor({ dataRoot, threads: 1, slots: 4, allowLoopback: true, allowPrivate: true });
    strict = createFetchExecutor({ dataRoot, threads: 1, slots: 4 });
  });
  afterAll(async () => {
    await Promise.all([open.close(), strict.close()]);
    await fs.rm(dataRoot, { recursive: true, force: true });
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it.each([
    'http://169.254.169.254/latest/meta-data/',
    'http://[::ffff:169.254.169.254]/',
    'http://[fe80::1]/',
    'http://0.0.0.0/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://100.100.100.200/',
  ])('refuses %s with POLICY even when loopback and private are allowed', async (url) => {
    const outcome = await open.run(fetchTask(url), taskContext());
    expect(outcome).toMatchObject({
      $case: 'error',
      value: { code: 'POLICY', retryable: false, message: expect.stringContaining('refused') },
    });
  });

  it('refuses a literal loopback address when loopback is not allowed, without a request', async () => {
    server = await startServer((_req, res) => res.end('secret'));
    const outcome = await strict.run(fetchTask(`${server.origin}/secret`), taskContext());
    expect(outcome).toMatchObject({ $case: 'error', value: { code: 'POLICY', retryable: false } });
    expect(server.connections()).toBe(0);
  });

  it('refuses a host name that resolves to loopback when loopback is not allowed, without a connection', async () => {
    server = await startServer((_req, res) => res.end('secret'));
    const outcome = await strict.run(fetchTask(`http://localhost:${server.port}/secret`), taskContext());
    expect(outcome).toMatchObject({
      $case: 'error',
      value: { code: 'POLICY', message: expect.stringContaining('localhost') },
    });
    expect(server.connections()).toBe(0);
  });

  it('checks every redirect hop: a redirect to the metadata address is refused', async () => {
    server = await startServer((_req, res) => {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    });
    const outcome = await open.run(fetchTask(`${server.origin}/innocent`), taskContext());
    expect(outcome).toMatchObject({ $case: 'error', value: { code: 'POLICY', httpStatus: 302 } });
    expect(server.requests).toEqual(['GET /innocent']);
  });

  it('refuses a redirect to a non-http scheme', async () => {
    server = await startServer((_req, res) => res.writeHead(301, { location: 'file:///etc/passwd' }).end());
    const outcome = await open.run(fetchTask(`${server.origin}/x`), taskContext());
    expect(outcome).toMatchObject({ $case: 'error', value: { code: 'POLICY' } });
  });

  it('allows loopback when configured (the local demo)', async () => {
    server = await startServer((_req, res) => res.end('fine'));
    const outcome = await open.run(fetchTask(`http://localhost:${server.port}/ok.txt`), taskContext());
    expect(outcome).toMatchObject({ $case: 'fetch', value: { bytes: 4 } });
  });
});
