import { z } from 'zod';
import { compileWorkerConfig, parseEnv, workerEnvSchema, type WorkerConfig } from '@spindle/runtime';

const envSchema = workerEnvSchema.extend({
  /** Longest CSV line (or quoted field) accepted, in bytes; longer fails the file. */
  SPINDLE_STATS_MAX_LINE_BYTES: z.coerce.number().int().min(1024).max(1 << 30).default(1 << 20),
});

/** The stats worker's validated configuration. */
export interface StatsWorkerConfig extends WorkerConfig {
  maxLineBytes: number;
}

/** Reads the configuration from environment variables; throws ConfigError or RangeError. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): StatsWorkerConfig {
  const e = parseEnv(envSchema, env);
  return Object.freeze({ ...compileWorkerConfig('stats', e), maxLineBytes: e.SPINDLE_STATS_MAX_LINE_BYTES });
}
