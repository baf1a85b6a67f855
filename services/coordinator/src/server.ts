import {
  createGrpcServer,
  createMetricsRegistry,
  startMetricsServer,
  type Logger,
} from '@spindle/runtime';
import { JobServiceDefinition } from '@spindle/sdk';
import type { CoordinatorConfig } from './config';
import { createJobService } from './api/job-service';
import { createWorkerService } from './api/worker-service';
import { workerServiceDefinition } from './api/connect-wire';
import { JobManager } from './jobs/job-manager';
import { createCoordinatorMetrics } from './metrics';
import { SqliteStore } from './store/sqlite-store';

/** A running coordinator. */
export interface Coordinator {
  /** The bound gRPC address ("host:port"). */
  readonly address: string;
  readonly metricsAddress: string;
  readonly jobs: JobManager;
  /**
   * Graceful stop: health NOT_SERVING, reject new jobs (UNAVAILABLE), end worker
   * streams (their tasks stay queued in the store), end client streams, let unary
   * calls finish within the grace, close the store.
   */
  stop(): Promise<void>;
}

const SERVICE_NAMES = ['spindle.v1.JobService', 'spindle.v1.WorkerService'];

/** Opens the store, recovers unfinished jobs, and serves every service on one port. */
export async function startCoordinator(config: CoordinatorConfig, logger: Logger): Promise<Coordinator> {
  const store = new SqliteStore(config.dbPath, (err) =>
    logger.error({ err }, 'store: WAL checkpoint thread failed; checkpoints run in commits again'),
  );
  const registry = createMetricsRegistry('spindle_coordinator_');
  const metrics = createCoordinatorMetrics(registry);
  const jobs = new JobManager({
    store,
    logger,
    metrics,
    limits: { maxItemsPerJob: config.maxItemsPerJob },
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    leaseTimeoutMs: config.leaseTimeoutMs,
    progressIntervalMs: config.progressIntervalMs,
    maxRetryAfterMs: config.maxRetryAfterMs,
  });
  jobs.start();
  const grpc = createGrpcServer({ serviceNames: SERVICE_NAMES });
  grpc.server.addService(JobServiceDefinition, createJobService(jobs, logger));
  grpc.server.addService(workerServiceDefinition, createWorkerService(jobs, logger, metrics));
  let address: string;
  try {
    address = await grpc.listen(config.listenAddress);
  } catch (err) {
    jobs.stop();
    store.close();
    throw err;
  }
  const metricsServer =
    config.metricsAddress === 'off' ? undefined : await startMetricsServer(config.metricsAddress, registry);
  grpc.setServing(true);
  logger.info(
    { address, metrics: metricsServer?.address ?? 'off', db: config.dbPath },
    'coordinator listening',
  );
  let stopping: Promise<void> | undefined;
  return {
    address,
    metricsAddress: metricsServer?.address ?? 'off',
    jobs,
    stop: () =>
      (stopping ??= (async () => {
        grpc.setServing(false);
        jobs.stop();
        await grpc.shutdown(config.shutdownGraceMs);
        await metricsServer?.close();
        store.close();
      })()),
  };
}
