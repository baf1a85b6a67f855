import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { HostPort, OptionalHostPort } from './config';

/** Environment variables every worker understands (see docs/configuration.md). */
export const workerEnvSchema = z.object({
  /** Coordinator to dial. */
  SPINDLE_COORDINATOR_ADDR: HostPort.default('127.0.0.1:7070'),
  /** Root folder of the shared data volume; task paths are resolved inside it. */
  SPINDLE_DATA_ROOT: z.string().default('.'),
  /** Unique worker id (a pod name in Kubernetes). Default: kind-hostname-pid. */
  SPINDLE_WORKER_ID: z.string().max(200).optional(),
  /** Concurrent tasks (credits granted to the coordinator). */
  SPINDLE_WORKER_SLOTS: z.coerce.number().int().min(1).max(10_000).optional(),
  /** worker_threads in the pool. */
  SPINDLE_WORKER_THREADS: z.coerce.number().int().min(1).max(256).optional(),
  /** gRPC health (+ reflection) listen address for probes; port 0 = any; "off". */
  SPINDLE_HEALTH_ADDR: OptionalHostPort.default('127.0.0.1:0'),
  /** Prometheus /metrics listen address; "off" disables. */
  SPINDLE_METRICS_ADDR: OptionalHostPort.default('127.0.0.1:0'),
  /** How long running tasks may take to finish after SIGTERM before they are cancelled. */
  SPINDLE_DRAIN_GRACE_MS: z.coerce.number().int().min(0).default(20_000),
  /** Hard deadline of the whole shutdown; the process exits non-zero past it. */
  SPINDLE_SHUTDOWN_DEADLINE_MS: z.coerce.number().int().min(1000).default(30_000),
  SPINDLE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** The validated, compiled configuration shared by all workers. */
export interface WorkerConfig {
  coordinatorAddress: string;
  dataRoot: string;
  workerId: string;
  slots: number | undefined;
  threads: number | undefined;
  healthAddress: string | 'off';
  metricsAddress: string | 'off';
  drainGraceMs: number;
  shutdownDeadlineMs: number;
  logLevel: string;
}

/** Compiles parsed env into a {@link WorkerConfig}; checks fields against each other. */
export function compileWorkerConfig(kind: string, env: z.output<typeof workerEnvSchema>): WorkerConfig {
  if (env.SPINDLE_DRAIN_GRACE_MS >= env.SPINDLE_SHUTDOWN_DEADLINE_MS) {
    throw new RangeError(
      'SPINDLE_DRAIN_GRACE_MS must be less than SPINDLE_SHUTDOWN_DEADLINE_MS ' +
        `(${env.SPINDLE_DRAIN_GRACE_MS} >= ${env.SPINDLE_SHUTDOWN_DEADLINE_MS})`,
    );
  }
  return Object.freeze({
    coordinatorAddress: env.SPINDLE_COORDINATOR_ADDR,
    dataRoot: path.resolve(env.SPINDLE_DATA_ROOT),
    workerId: env.SPINDLE_WORKER_ID ?? `${kind}-${os.hostname()}-${process.pid}`,
    slots: env.SPINDLE_WORKER_SLOTS,
    threads: env.SPINDLE_WORKER_THREADS,
    healthAddress: env.SPINDLE_HEALTH_ADDR,
    metricsAddress: env.SPINDLE_METRICS_ADDR,
    drainGraceMs: env.SPINDLE_DRAIN_GRACE_MS,
    shutdownDeadlineMs: env.SPINDLE_SHUTDOWN_DEADLINE_MS,
    logLevel: env.SPINDLE_LOG_LEVEL,
  });
}
