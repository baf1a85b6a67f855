import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, LookupFunction, Socket } from 'node:net';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fetchConnector, READ_BYTES } from './connector';

const BLOCK = 1024 * 1024;
/** Block i of a body: a random MiB with i in its first four bytes, so lost or reordered blocks show. */
const pattern = randomBytes(BLOCK);
function block(i: number): Buffer {
  const b = Buffer.from(pattern);
  b.writeUInt32BE(i, 0);
  return b;
}
function sha256Of(blocks: number): string {
  const h = createHash('sha256');
  for (let i = 0; i < blocks; i++) h.update(block(i));
  return h.digest('hex');
}

/** Writes `blocks` blocks as the connection takes them, then ends the response. */
async function writeBlocks(res: http.ServerResponse, blocks: number): Promise<void> {
  for (let i = 0; i < blocks; i++) {
    if (res.destroyed) return;
    if (!res.write(block(i))) await once(res, 'drain');
  }
  res.end();
}

function serve(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const blocks = Number(url.searchParams.get('blocks') ?? '0');
  if (url.pathname === '/small') {
    res.end('hello');
  } else if (url.pathname === '/sized') {
    res.setHeader('content-length', blocks * BLOCK);
    void writeBlocks(res, blocks);
  } else if (url.pathname === '/chunked') {
    void writeBlocks(res, blocks); // no length: chunked encoding
  } else if (url.pathname === '/cut') {
    // Announces two blocks, sends one, then drops the connection.
    res.setHeader('content-length', 2 * BLOCK);
    res.write(block(0), () => res.socket?.destroy());
  } else {
    res.statusCode = 404;
    res.end();
  }
}

async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
}

async function consume(body: AsyncIterable<Buffer>): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const chunk of body) {
    h.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: h.digest('hex'), bytes };
}

describe('fetchConnector', () => {
  let server: http.Server;
  let origin: string;
  let connections = 0;
  let agent: Agent | null = null;

  beforeAll(async () => {
    server = http.createServer(serve);
    server.on('connection', () => connections++);
    server.keepAliveTimeout = 60_000;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => closeServer(server));
  afterEach(async () => {
    await agent?.destroy();
    agent = null;
    connections = 0;
  });

  function agentWith(readBuffer: Buffer, extra: Record<string, unknown> = {}): Agent {
    agent = new Agent({ connect: fetchConnector({ timeout: 10_000, ...extra }, readBuffer) });
    return agent;
  }

  it('reads plain HTTP into the given read buffer and delivers every body byte for byte, on one kept-alive connection', async () => {
    const readBuffer = Buffer.alloc(READ_BYTES);
    const dispatcher = agentWith(readBuffer);

    const small = await request(`${origin}/small`, { dispatcher });
    expect(await small.body.text()).toBe('hello');
    // The whole small response came in one read, into the read buffer.
    expect(readBuffer.toString('latin1', 0, 15)).toBe('HTTP/1.1 200 OK');

    let afterFirst = 0;
    for (const [kind, blocks] of [
      ['sized', 24],
      ['chunked', 24],
      ['sized', 1],
      ['chunked', 0],
    ] as const) {
      const res = await request(`${origin}/${kind}?blocks=${blocks}`, { dispatcher });
      expect(res.statusCode).toBe(200);
      expect(await consume(res.body)).toEqual({ sha256: sha256Of(blocks), bytes: blocks * BLOCK });
      afterFirst ||= connections;
    }
    // Every later response came over the connection of the first large one.
    expect(connections).toBe(afterFirst);
  });

  it('stops reading while the body is not consumed, and loses nothing when it is again', async () => {
    const blocks = 64; // more than the client's and the server's socket buffers can hold
    let serverSocket: Socket | null = null;
    server.once('request', (_req: http.IncomingMessage, res: http.ServerResponse) => (serverSocket = res.socket));
    const res = await request(`${origin}/sized?blocks=${blocks}`, { dispatcher: agentWith(Buffer.alloc(READ_BYTES)) });
    const it = res.body[Symbol.asyncIterator]();
    const first = (await it.next()) as IteratorResult<Buffer>;
    expect(first.done).toBe(false);
    // Nothing is consumed for a while. A client that kept reading would take all
    // 64 MiB into memory in that time; with backpressure the server stalls.
    await sleep(300);
    const written = (serverSocket as Socket | null)?.bytesWritten ?? 0;
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(blocks * BLOCK);

    const h = createHash('sha256').update(first.value);
    let bytes = first.value.length;
    for (let r = await it.next(); r.done !== true; r = await it.next()) {
      const chunk = r.value as Buffer;
      h.update(chunk);
      bytes += chunk.length;
    }
    expect({ sha256: h.digest('hex'), bytes }).toEqual({ sha256: sha256Of(blocks), bytes: blocks * BLOCK });
  });

  it('fails a body cut short by the server instead of ending it early', async () => {
    const res = await request(`${origin}/cut`, { dispatcher: agentWith(Buffer.alloc(READ_BYTES)) });
    await expect(consume(res.body)).rejects.toThrow(/other side closed|terminated|socket/i);
  });

  it('connects where the given lookup says, and fails when it refuses', async () => {
    const port = (server.address() as AddressInfo).port;
    const toLoopback: LookupFunction = (_host, _options, callback) =>
      (callback as (err: Error | null, address: Array<{ address: string; family: number }>) => void)(null, [
        { address: '127.0.0.1', family: 4 },
      ]);
    const allowed = await request(`http://spindle.test:${port}/small`, { dispatcher: agentWith(Buffer.alloc(READ_BYTES), { lookup: toLoopback }) });
    expect(await allowed.body.text()).toBe('hello');
    await agent?.destroy();

    const refusing: LookupFunction = (_host, _options, callback) => callback(new Error('refused by policy'), '', 0);
    await expect(
      request(`http://spindle.test:${port}/small`, { dispatcher: agentWith(Buffer.alloc(READ_BYTES), { lookup: refusing }) }),
    ).rejects.toThrow('refused by policy');
  });

  describe('over TLS', () => {
    const fixtures = path.join(__dirname, '..', '..', 'test', 'fixtures', 'tls');
    const cert = fs.readFileSync(path.join(fixtures, 'cert.pem'));
    let tlsServer: https.Server;
    let tlsOrigin: string;

    beforeAll(async () => {
      tlsServer = https.createServer({ cert, key: fs.readFileSync(path.join(fixtures, 'key.pem')) }, serve);
      tlsServer.listen(0, '127.0.0.1');
      await once(tlsServer, 'listening');
      tlsOrigin = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}`;
    });
    afterAll(() => closeServer(tlsServer));

    it("keeps undici's own TLS connections, which never touch the read buffer", async () => {
      const readBuffer = Buffer.alloc(READ_BYTES);
      const dispatcher = agentWith(readBuffer, { ca: cert });
      const res = await request(`${tlsOrigin}/sized?blocks=4`, { dispatcher });
      expect(await consume(res.body)).toEqual({ sha256: sha256Of(4), bytes: 4 * BLOCK });
      expect(readBuffer.equals(Buffer.alloc(READ_BYTES))).toBe(true);
    });

    it('fails the handshake with a certificate it does not trust', async () => {
      await expect(request(`${tlsOrigin}/small`, { dispatcher: agentWith(Buffer.alloc(READ_BYTES)) })).rejects.toThrow(/self[- ]signed/i);
    });
  });
});
