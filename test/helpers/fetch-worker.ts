import { runWorker, silentLogger, type RunningWorker } from '@spindle/runtime';
import { WorkerKind } from '@spindle/sdk';
import { createFetchExecutor, executorOptionsOf, loadConfig } from '@spindle/fetch-worker';
import { waitFor } from './grpc';

/**
 * A real fetch worker in this process (its threads, its gRPC session), connected to the
 * coordinator at `coordinatorAddress`, downloading into `dataRoot`, loopback allowed (test
 * servers are on 127.0.0.1); `env` overrides its settings. Resolves once it is connected.
 */
export async function startFetchWorker(
  coordinatorAddress: string,
  dataRoot: string,
  env: Record<string, string> = {},
): Promise<RunningWorker> {
  const config = loadConfig({
    SPINDLE_COORDINATOR_ADDR: coordinatorAddress,
    SPINDLE_DATA_ROOT: dataRoot,
    SPINDLE_HEALTH_ADDR: 'off',
    SPINDLE_METRICS_ADDR: 'off',
    SPINDLE_FETCH_ALLOW_LOOPBACK: 'true',
    SPINDLE_DRAIN_GRACE_MS: '1000',
    SPINDLE_SHUTDOWN_DEADLINE_MS: '5000',
    ...env,
  });
  const worker = await runWorker({
    kind: WorkerKind.WORKER_KIND_FETCH,
    kindName: 'fetch',
    version: 'test',
    config,
    executor: createFetchExecutor(executorOptionsOf(config)),
    logger: silentLogger(),
  });
  await waitFor(() => worker.connection.isReady, 10_000, 'fetch worker connected');
  return worker;
}
