import * as http from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';

/** A Prometheus registry with Node's default process metrics. */
export function createMetricsRegistry(prefix: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix });
  return registry;
}

/** Serves `GET /metrics` in the Prometheus text format. Resolves with the bound address. */
export function startMetricsServer(
  address: string,
  registry: Registry,
): Promise<{ address: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  const sep = address.lastIndexOf(':');
  const host = address.slice(0, sep).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(sep + 1));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address();
      const bound = typeof a === 'object' && a ? `${host}:${a.port}` : address;
      resolve({
        address: bound,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
