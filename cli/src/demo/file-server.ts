import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

/** A file the server offers. */
export interface ServedFile {
  name: string;
  size: number;
  sha256: string;
  url: string;
}

/** A static HTTP server for the demo's CSV files on 127.0.0.1 (any free port). */
export interface FileServer {
  readonly files: readonly ServedFile[];
  readonly baseUrl: string;
  close(): Promise<void>;
}

/**
 * Serves every `*.csv` in `dir` by its name (GET and HEAD), nothing else: the
 * set of files is fixed at start, so no request path can reach another file.
 */
export async function serveCsvFiles(dir: string): Promise<FileServer> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.csv')).sort();
  const entries = await Promise.all(
    names.map(async (name) => {
      const body = await readFile(path.join(dir, name));
      return { name, size: body.length, sha256: createHash('sha256').update(body).digest('hex') };
    }),
  );
  const byName = new Map(entries.map((e) => [e.name, e]));

  const server: Server = createServer((req, res) => {
    let name = '';
    try {
      name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.slice(1));
    } catch {
      // A malformed escape names no file: 404 below.
    }
    const entry = byName.get(name);
    if (!entry || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(entry ? 405 : 404, { 'content-type': 'text/plain' }).end(entry ? 'method not allowed\n' : 'not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8', 'content-length': entry.size });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(path.join(dir, entry.name))
      .on('error', () => res.destroy())
      .pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    files: entries.map((e) => ({ ...e, url: `${baseUrl}/${encodeURIComponent(e.name)}` })),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets of the fetch worker would hold close() open.
        server.closeAllConnections();
      }),
  };
}
