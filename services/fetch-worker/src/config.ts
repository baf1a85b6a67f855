import { BoolEnv, compileWorkerConfig, parseEnv, workerEnvSchema, type WorkerConfig } from '@spindle/runtime';

const envSchema = workerEnvSchema.extend({
  /** Allow targets on 127.0.0.0/8 and ::1 (the local demo and tests need it). */
  SPINDLE_FETCH_ALLOW_LOOPBACK: BoolEnv.default(false),
  /** Allow targets in private ranges (10/8, 172.16/12, 192.168/16, fc00::/7). */
  SPINDLE_FETCH_ALLOW_PRIVATE: BoolEnv.default(false),
});

/** The fetch worker's validated configuration. */
export interface FetchWorkerConfig extends WorkerConfig {
  allowLoopback: boolean;
  allowPrivate: boolean;
}

/** Reads the configuration from environment variables; throws ConfigError or RangeError. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): FetchWorkerConfig {
  const e = parseEnv(envSchema, env);
  return Object.freeze({
    ...compileWorkerConfig('fetch', e),
    allowLoopback: e.SPINDLE_FETCH_ALLOW_LOOPBACK,
    allowPrivate: e.SPINDLE_FETCH_ALLOW_PRIVATE,
  });
}
