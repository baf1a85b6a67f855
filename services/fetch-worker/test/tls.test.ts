import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchTask, listDir, makeDataRoot, taskContext, useExecutor } from './helpers';

const fixtures = path.join(__dirname, 'fixtures');
/** Self-signed, for 127.0.0.1 and localhost (fixtures/tls/README.md). */
const certFile = path.join(fixtures, 'tls', 'cert.pem');
const body = randomBytes(3 * 1024 * 1024 + 5); // streamed to disk, not held in memory
const sha256 = createHash('sha256').update(body).digest('hex');

async function startHttps(host: string): Promise<{ server: https.Server; origin: string }> {
  const server = https.createServer({ cert: readFileSync(certFile), key: readFileSync(path.join(fixtures, 'tls', 'key.pem')) }, (req, res) => {
    if (req.url !== '/file.bin') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  server.listen(0, host);
  await once(server, 'listening');
  return { server, origin: `https://${host}:${(server.address() as AddressInfo).port}` };
}

async function stop(server: https.Server): Promise<void> {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
}

describe('fetch executor over HTTPS', () => {
  let trusted: { server: https.Server; origin: string };
  // The same certificate on an address it does not name (127.0.0.0/8 is all loopback).
  let misnamed: { server: https.Server; origin: string };
  beforeAll(async () => {
    trusted = await startHttps('127.0.0.1');
    misnamed = await startHttps('127.0.0.2');
  });
  afterAll(async () => {
    await stop(trusted.server);
    await stop(misnamed.server);
  });

  describe('in this process, which does not trust the test certificate', () => {
    const fx = useExecutor({ threads: 1, slots: 2, allowLoopback: true });

    it('fails a server with an untrusted certificate as TLS, not retryable, and writes nothing', async () => {
      const url = `${trusted.origin}/file.bin`;
      const outcome = await fx.executor.run(fetchTask(url, { outputDir: 'untrusted' }), taskContext());
      expect(outcome).toMatchObject({
        $case: 'error',
        value: { code: 'TLS', retryable: false, message: expect.stringMatching(/self[- ]signed/i) },
      });
      expect(await listDir(path.join(fx.dataRoot, 'untrusted'))).toEqual([]);
    });
  });

  describe('in a process started with NODE_EXTRA_CA_CERTS naming the test certificate', () => {
    let dataRoot: string;
    beforeAll(async () => {
      dataRoot = await makeDataRoot();
    });
    afterAll(async () => {
      await fs.rm(dataRoot, { recursive: true, force: true });
    });

    it('downloads byte for byte from the trusted server, and fails the one whose certificate names another host', async () => {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [path.join(fixtures, 'https-download.js'), dataRoot, `${trusted.origin}/file.bin`, `${misnamed.origin}/file.bin`],
        { env: { ...process.env, NODE_EXTRA_CA_CERTS: certFile }, timeout: 60_000 },
      );
      const [good, bad] = stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown);
      expect(good).toMatchObject({ $case: 'fetch', value: { path: 'out0/file.bin', bytes: body.length, sha256, httpStatus: 200 } });
      expect((await fs.readFile(path.join(dataRoot, 'out0', 'file.bin'))).equals(body)).toBe(true);
      expect(bad).toMatchObject({
        $case: 'error',
        value: { code: 'TLS', retryable: false, message: expect.stringMatching(/altnames|does not match/i) },
      });
      expect(await listDir(path.join(dataRoot, 'out1'))).toEqual([]);
    });
  });
});
