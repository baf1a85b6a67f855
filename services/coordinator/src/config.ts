import * as path from 'node:path';
import { z } from 'zod';
import { HostPort, OptionalHostPort, parseEnv } from '@spindle/runtime';

const envSchema = z.object({
  /** gRPC listen address of JobService + WorkerService + health + reflection. */
  SPINDLE_LISTEN_ADDR: HostPort.default('127.0.0.1:7070'),
  /** SQLite file with jobs, tasks, results and events. */
  SPINDLE_DB_PATH: z.string().min(1).default('.spindle/coordinator.db'),
  /** Prometheus /metrics listen address, or "off". */
  SPINDLE_METRICS_ADDR: OptionalHostPort.default('127.0.0.1:0'),
  /** Heartbeat interval asked of workers. */
  SPINDLE_HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  /** A worker silent this long loses its tasks to the queue. */
  SPINDLE_LEASE_TIMEOUT_MS: z.coerce.number().int().min(500).max(3_600_000).default(20_000),
  /** Most items (URLs or files) in one job. */
  SPINDLE_MAX_ITEMS_PER_JOB: z.coerce.number().int().min(1).max(10_000_000).default(100_000),
  /** Least time between two progress events of a job. */
  SPINDLE_PROGRESS_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(250),
  /**
   * Longest server Retry-After (HTTP 429/503) a retry waits out; a longer one fails the
   * item at once. At most a day, the longest the fetch worker reports.
   */
  SPINDLE_MAX_RETRY_AFTER_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(600_000),
  /** How long running client calls get to finish on shutdown. */
  SPINDLE_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(5_000),
  SPINDLE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** The coordinator's validated configuration (see docs/configuration.md). */
export interface CoordinatorConfig {
  listenAddress: string;
  dbPath: string;
  metricsAddress: string | 'off';
  heartbeatIntervalMs: number;
  leaseTimeoutMs: number;
  maxItemsPerJob: number;
  progressIntervalMs: number;
  maxRetryAfterMs: number;
  shutdownGraceMs: number;
  logLevel: string;
}

/** Reads the coordinator's configuration from environment variables; throws ConfigError. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): CoordinatorConfig {
  const e = parseEnv(envSchema, env);
  if (e.SPINDLE_HEARTBEAT_INTERVAL_MS * 2 > e.SPINDLE_LEASE_TIMEOUT_MS) {
    throw new RangeError(
      'SPINDLE_LEASE_TIMEOUT_MS must be at least twice SPINDLE_HEARTBEAT_INTERVAL_MS ' +
        `(${e.SPINDLE_LEASE_TIMEOUT_MS} < 2 × ${e.SPINDLE_HEARTBEAT_INTERVAL_MS})`,
    );
  }
  return Object.freeze({
    listenAddress: e.SPINDLE_LISTEN_ADDR,
    dbPath: e.SPINDLE_DB_PATH === ':memory:' ? ':memory:' : path.resolve(e.SPINDLE_DB_PATH),
    metricsAddress: e.SPINDLE_METRICS_ADDR,
    heartbeatIntervalMs: e.SPINDLE_HEARTBEAT_INTERVAL_MS,
    leaseTimeoutMs: e.SPINDLE_LEASE_TIMEOUT_MS,
    maxItemsPerJob: e.SPINDLE_MAX_ITEMS_PER_JOB,
    progressIntervalMs: e.SPINDLE_PROGRESS_INTERVAL_MS,
    maxRetryAfterMs: e.SPINDLE_MAX_RETRY_AFTER_MS,
    shutdownGraceMs: e.SPINDLE_SHUTDOWN_GRACE_MS,
    logLevel: e.SPINDLE_LOG_LEVEL,
  });
}
