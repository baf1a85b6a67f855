import { z } from 'zod';
import { BoolEnv, compileWorkerConfig, parseEnv, workerEnvSchema, type WorkerConfig } from '@spindle/runtime';
import { FETCH_EXECUTOR_DEFAULTS, type FetchExecutorOptions } from './executor';

const d = FETCH_EXECUTOR_DEFAULTS;
const positive = z.coerce.number().int().positive();

const envSchema = workerEnvSchema.extend({
  /** Allow targets on 127.0.0.0/8 and ::1 (the local demo and tests need it). */
  SPINDLE_FETCH_ALLOW_LOOPBACK: BoolEnv.default(false),
  /** Allow targets in private ranges (10/8, 172.16/12, 192.168/16, fc00::/7). */
  SPINDLE_FETCH_ALLOW_PRIVATE: BoolEnv.default(false),
  /** Tasks queued in the worker beyond its slots (extra credits). */
  SPINDLE_FETCH_PREFETCH: z.coerce.number().int().min(0).max(10_000).default(d.prefetch),
  /** Default per-host concurrency (0 = only the slots limit). */
  SPINDLE_FETCH_PER_HOST_CONCURRENCY: z.coerce.number().int().min(0).max(10_000).default(d.perHostConcurrency),
  /** Default limits and timeouts of a download (a job's FetchOptions override them). */
  SPINDLE_FETCH_MAX_BYTES: positive.max(Number.MAX_SAFE_INTEGER).default(d.maxBytes),
  SPINDLE_FETCH_MAX_REDIRECTS: z.coerce.number().int().min(0).max(100).default(d.maxRedirects),
  SPINDLE_FETCH_CONNECT_TIMEOUT_MS: positive.default(d.connectTimeoutMs),
  SPINDLE_FETCH_HEADERS_TIMEOUT_MS: positive.default(d.headersTimeoutMs),
  SPINDLE_FETCH_IDLE_TIMEOUT_MS: positive.default(d.idleTimeoutMs),
  SPINDLE_FETCH_TOTAL_TIMEOUT_MS: positive.default(d.totalTimeoutMs),
  /** How long a partial body kept for resumption waits for the next attempt. */
  SPINDLE_FETCH_RESUME_TTL_MS: positive.default(d.resumeTtlMs),
  /** A synchronous write slower than this sends a fetch thread to the thread pool for a while; 0 = always the pool. */
  SPINDLE_FETCH_SYNC_WRITE_LIMIT_MS: z.coerce.number().int().min(0).max(60_000).default(d.syncWriteLimitMs),
});

/** The fetch worker's validated configuration. */
export interface FetchWorkerConfig extends WorkerConfig {
  allowLoopback: boolean;
  allowPrivate: boolean;
  prefetch: number;
  perHostConcurrency: number;
  maxBytes: number;
  maxRedirects: number;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  idleTimeoutMs: number;
  totalTimeoutMs: number;
  resumeTtlMs: number;
  syncWriteLimitMs: number;
}

/** Reads the configuration from environment variables; throws ConfigError or RangeError. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): FetchWorkerConfig {
  const e = parseEnv(envSchema, env);
  return Object.freeze({
    ...compileWorkerConfig('fetch', e),
    allowLoopback: e.SPINDLE_FETCH_ALLOW_LOOPBACK,
    allowPrivate: e.SPINDLE_FETCH_ALLOW_PRIVATE,
    prefetch: e.SPINDLE_FETCH_PREFETCH,
    perHostConcurrency: e.SPINDLE_FETCH_PER_HOST_CONCURRENCY,
    maxBytes: e.SPINDLE_FETCH_MAX_BYTES,
    maxRedirects: e.SPINDLE_FETCH_MAX_REDIRECTS,
    connectTimeoutMs: e.SPINDLE_FETCH_CONNECT_TIMEOUT_MS,
    headersTimeoutMs: e.SPINDLE_FETCH_HEADERS_TIMEOUT_MS,
    idleTimeoutMs: e.SPINDLE_FETCH_IDLE_TIMEOUT_MS,
    totalTimeoutMs: e.SPINDLE_FETCH_TOTAL_TIMEOUT_MS,
    resumeTtlMs: e.SPINDLE_FETCH_RESUME_TTL_MS,
    syncWriteLimitMs: e.SPINDLE_FETCH_SYNC_WRITE_LIMIT_MS,
  });
}

/** The executor options a configuration stands for. */
export function executorOptionsOf(config: FetchWorkerConfig): FetchExecutorOptions {
  return {
    dataRoot: config.dataRoot,
    // I/O-bound: many downloads per thread; two threads keep both cores busy.
    threads: config.threads ?? d.threads,
    slots: config.slots ?? d.slots,
    prefetch: config.prefetch,
    perHostConcurrency: config.perHostConcurrency,
    allowLoopback: config.allowLoopback,
    allowPrivate: config.allowPrivate,
    maxBytes: config.maxBytes,
    maxRedirects: config.maxRedirects,
    connectTimeoutMs: config.connectTimeoutMs,
    headersTimeoutMs: config.headersTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    totalTimeoutMs: config.totalTimeoutMs,
    resumeTtlMs: config.resumeTtlMs,
    syncWriteLimitMs: config.syncWriteLimitMs,
  };
}
