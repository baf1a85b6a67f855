#!/usr/bin/env node
import './startup';
import { loadConfigOrExit, createLogger, installShutdown, runWorker } from '@spindle/runtime';
import { WorkerKind } from '@spindle/sdk';
import { executorOptionsOf, loadConfig } from './config';
import { startHeapGovernor } from './heap-governor';
import { createFetchExecutor } from './index';

const VERSION = '0.1.0';

async function main(): Promise<void> {
  const config = loadConfigOrExit('spindle-fetch-worker', () => loadConfig());
  const logger = createLogger('fetch-worker', config.logLevel);
  startHeapGovernor();
  const executor = createFetchExecutor({
    ...executorOptionsOf(config),
    onThreadError: (err) => logger.error({ err: err.message }, 'fetch thread error'),
  });
  const worker = await runWorker({
    kind: WorkerKind.WORKER_KIND_FETCH,
    kindName: 'fetch',
    version: VERSION,
    config,
    executor,
    logger,
  });
  installShutdown(() => worker.stop(), { logger, hardDeadlineMs: config.shutdownDeadlineMs });
  await worker.stopped;
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error('spindle-fetch-worker: failed to start:', err);
  process.exit(1);
});
