import { z } from 'zod';
import { BoolEnv, compileWorkerConfig, parseEnv, workerEnvSchema, type WorkerConfig } from '@spindle/runtime';
import type { EngineLimits } from './stats/limits';

const envSchema = workerEnvSchema.extend({
  /** Longest CSV line (or quoted field) accepted, in bytes; longer fails the file. */
  SPINDLE_STATS_MAX_LINE_BYTES: z.coerce.number().int().min(1024).max(1 << 30).default(1 << 20),
  /** Size of each file read, in bytes. */
  SPINDLE_STATS_READ_CHUNK_BYTES: z.coerce.number().int().min(4096).max(64 << 20).default(1 << 20),
  /** Numbers kept per file for exact medians/quartiles (shared by its columns). */
  SPINDLE_STATS_EXACT_QUANTILE_VALUES: z.coerce.number().int().min(0).max(1e9).default(262_144),
  /** Distinct values counted exactly per file (shared by its columns). */
  SPINDLE_STATS_EXACT_DISTINCT_VALUES: z.coerce.number().int().min(0).max(1e9).default(65_536),
  /** Most columns a file may have. */
  SPINDLE_STATS_MAX_COLUMNS: z.coerce.number().int().min(1).max(100_000).default(1024),
  /** Target size of the byte ranges a large local file is split into, in bytes. */
  SPINDLE_STATS_RANGE_BYTES: z.coerce.number().int().min(64 * 1024).default(64 << 20),
  /** URL sources: allow loopback / private addresses. */
  SPINDLE_STATS_ALLOW_LOOPBACK: BoolEnv.default(false),
  SPINDLE_STATS_ALLOW_PRIVATE: BoolEnv.default(false),
  /** URL sources: time to the response headers, and longest silence in the body, in ms. */
  SPINDLE_STATS_HTTP_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  /** URL sources: longest a source may take from the request to its last byte, in ms. */
  SPINDLE_STATS_HTTP_TOTAL_TIMEOUT_MS: z.coerce.number().int().min(100).default(30 * 60_000),
});

/** The stats worker's validated configuration. */
export interface StatsWorkerConfig extends WorkerConfig {
  maxLineBytes: number;
  readChunkBytes: number;
  limits: EngineLimits;
  rangeBytes: number;
  allowLoopback: boolean;
  allowPrivate: boolean;
  httpTimeoutMs: number;
  httpTotalTimeoutMs: number;
}

/** Reads the configuration from environment variables; throws ConfigError or RangeError. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): StatsWorkerConfig {
  const e = parseEnv(envSchema, env);
  return Object.freeze({
    ...compileWorkerConfig('stats', e),
    maxLineBytes: e.SPINDLE_STATS_MAX_LINE_BYTES,
    readChunkBytes: e.SPINDLE_STATS_READ_CHUNK_BYTES,
    limits: Object.freeze({
      exactQuantileValues: e.SPINDLE_STATS_EXACT_QUANTILE_VALUES,
      exactDistinctValues: e.SPINDLE_STATS_EXACT_DISTINCT_VALUES,
      maxColumns: e.SPINDLE_STATS_MAX_COLUMNS,
    }),
    rangeBytes: e.SPINDLE_STATS_RANGE_BYTES,
    allowLoopback: e.SPINDLE_STATS_ALLOW_LOOPBACK,
    allowPrivate: e.SPINDLE_STATS_ALLOW_PRIVATE,
    httpTimeoutMs: e.SPINDLE_STATS_HTTP_TIMEOUT_MS,
    httpTotalTimeoutMs: e.SPINDLE_STATS_HTTP_TOTAL_TIMEOUT_MS,
  });
}
