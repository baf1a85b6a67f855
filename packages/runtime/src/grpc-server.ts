import { Server, ServerCredentials, type ServerOptions } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { addReflection } from './reflection';

/** Options for {@link createGrpcServer}. */
export interface GrpcServerOptions {
  /** Fully-qualified names of the application services, each given a health status. */
  serviceNames: string[];
  /** Services listed by reflection; default: every service in the descriptor set. */
  reflectionServices?: string[];
  /** Extra grpc-js server options. */
  serverOptions?: ServerOptions;
}

/** A grpc-js server with standard health checking and reflection already added. */
export interface GrpcServer {
  readonly server: Server;
  /** Sets the health of "" (the whole server) and of every application service. */
  setServing(serving: boolean): void;
  /** Sets the health of one name ("" is the whole server). */
  setStatus(service: string, serving: boolean): void;
  /** Binds and starts; resolves with the bound "host:port" (port 0 picks a free one). */
  listen(address: string): Promise<string>;
  /**
   * Stops accepting calls and waits for running calls, then cancels whatever is
   * still running when `graceMs` has passed.
   */
  shutdown(graceMs: number): Promise<void>;
}

/**
 * Builds the server every Spindle process serves: grpc.health.v1.Health (starting
 * NOT_SERVING until {@link GrpcServer.setServing}) and server reflection.
 */
export function createGrpcServer(options: GrpcServerOptions): GrpcServer {
  const server = new Server({
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    // Workers ping every 20 s; allow it without ENHANCE_YOUR_CALM.
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    ...options.serverOptions,
  });
  const names = ['', ...options.serviceNames];
  const health = new HealthImplementation(
    Object.fromEntries(names.map((n): [string, ServingStatus] => [n, 'NOT_SERVING'])),
  );
  health.addToServer(server);
  addReflection(server, options.reflectionServices);

  return {
    server,
    setServing(serving) {
      for (const n of names) health.setStatus(n, serving ? 'SERVING' : 'NOT_SERVING');
    },
    setStatus(service, serving) {
      health.setStatus(service, serving ? 'SERVING' : 'NOT_SERVING');
    },
    listen(address) {
      return new Promise((resolve, reject) => {
        server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => {
          if (err) return reject(err);
          const host = address.slice(0, address.lastIndexOf(':'));
          resolve(`${host}:${port}`);
        });
      });
    },
    shutdown(graceMs) {
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
