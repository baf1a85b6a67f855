import { Counter, Gauge } from 'prom-client';
import type { WorkerKind } from '@spindle/sdk';
import type { Logger } from 'pino';
import { createGrpcServer } from './grpc-server';
import { createMetricsRegistry, startMetricsServer } from './metrics';
import type { TaskExecutor } from './task-executor';
import type { WorkerConfig } from './worker-config';
import { WorkerConnection } from './worker-connection';

/**
 * The health service name a worker's readiness is reported under: SERVING while the
 * coordinator has welcomed this worker and it is not draining. The empty name ""
 * (liveness) is SERVING for as long as the process runs.
 */
export const READINESS_SERVICE = 'spindle.v1.WorkerService';

/** A running worker process, as started by {@link runWorker}. */
export interface RunningWorker {
  readonly connection: WorkerConnection;
  /** Bound gRPC health address, or 'off'. */
  readonly healthAddress: string;
  /** Bound metrics address, or 'off'. */
  readonly metricsAddress: string;
  /** Health NOT_SERVING → drain (grace) → close pool → stop servers. Idempotent. */
  stop(): Promise<void>;
  /** Settles once the worker has stopped, whoever started the stop (a signal or the coordinator). */
  readonly stopped: Promise<void>;
}

/**
 * Composes a worker: health + metrics servers, the coordinator connection, and
 * an executor. Health: see {@link READINESS_SERVICE}.
 */
export async function runWorker(options: {
  kind: WorkerKind;
  kindName: 'fetch' | 'stats';
  version: string;
  config: WorkerConfig;
  executor: TaskExecutor;
  logger: Logger;
}): Promise<RunningWorker> {
  const { config, logger, executor } = options;
  const registry = createMetricsRegistry(`spindle_${options.kindName}_worker_`);
  const tasksFinished = new Counter({
    name: `spindle_${options.kindName}_worker_tasks_finished_total`,
    help: 'Task attempts finished, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const connection = new WorkerConnection({
    coordinatorAddress: config.coordinatorAddress,
    workerId: config.workerId,
    kind: options.kind,
    version: options.version,
    executor,
    onTaskFinished: (outcome) => tasksFinished.inc({ outcome: outcome.$case === 'error' ? outcome.value.code : 'ok' }),
    logger,
  });
  new Gauge({
    name: `spindle_${options.kindName}_worker_tasks_running`,
    help: 'Tasks running now',
    registers: [registry],
    collect() {
      this.set(connection.runningCount);
    },
  });

  const grpc =
    config.healthAddress === 'off'
      ? undefined
      : createGrpcServer({ serviceNames: [READINESS_SERVICE], reflectionServices: ['grpc.health.v1.Health'] });
  const healthAddress = grpc ? await grpc.listen(config.healthAddress) : 'off';
  const metrics = config.metricsAddress === 'off' ? undefined : await startMetricsServer(config.metricsAddress, registry);
  // Liveness ("") is SERVING for the life of the process, so a coordinator outage or a
  // drain never gets a worker restarted; readiness follows the coordinator session.
  grpc?.setStatus('', true);
  connection.on('ready', () => grpc?.setStatus(READINESS_SERVICE, true));
  connection.on('disconnected', () => grpc?.setStatus(READINESS_SERVICE, false));
  logger.info(
    {
      workerId: config.workerId,
      coordinator: config.coordinatorAddress,
      dataRoot: config.dataRoot,
      slots: executor.slots,
      health: healthAddress,
      metrics: metrics?.address ?? 'off',
    },
    'worker starting',
  );
  connection.start();

  let stopping: Promise<void> | undefined;
  let markStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (markStopped = resolve));
  const stop = () =>
    (stopping ??= (async () => {
      grpc?.setStatus(READINESS_SERVICE, false);
      await connection.drain(config.drainGraceMs);
      await executor.close();
      await grpc?.shutdown(1000);
      await metrics?.close();
      markStopped();
    })());
  connection.on('shutdown', () => {
    void stop();
  });
  return { connection, stop, stopped, healthAddress, metricsAddress: metrics?.address ?? 'off' };
}
