#!/usr/bin/env node
import * as os from 'node:os';
import { loadConfigOrExit, createLogger, installShutdown, runWorker } from '@spindle/runtime';
import { WorkerKind } from '@spindle/sdk';
import { loadConfig } from './config';
import { createStatsExecutor } from './executor';

const VERSION = '0.1.0';

async function main(): Promise<void> {
  const config = loadConfigOrExit('spindle-stats-worker', () => loadConfig());
  const logger = createLogger('stats-worker', config.logLevel);
  // CPU-bound: one thread per core by default, one file per thread at a time.
  const threads = config.threads ?? Math.max(1, os.availableParallelism());
  const executor = createStatsExecutor({
    dataRoot: config.dataRoot,
    threads,
    maxLineBytes: config.maxLineBytes,
    readChunkBytes: config.readChunkBytes,
    limits: config.limits,
    rangeBytes: config.rangeBytes,
    egress: {
      allowLoopback: config.allowLoopback,
      allowPrivate: config.allowPrivate,
      headersTimeoutMs: config.httpTimeoutMs,
      bodyTimeoutMs: config.httpTimeoutMs,
      totalTimeoutMs: config.httpTotalTimeoutMs,
    },
  });
  const worker = await runWorker({
    kind: WorkerKind.WORKER_KIND_STATS,
    kindName: 'stats',
    version: VERSION,
    config,
    executor,
    logger,
  });
  installShutdown(() => worker.stop(), { logger, hardDeadlineMs: config.shutdownDeadlineMs });
  // The coordinator may ask this worker to leave (Shutdown message).
  await worker.stopped;
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error('spindle-stats-worker: failed to start:', err);
  process.exit(1);
});
