#!/usr/bin/env node
import { loadConfigOrExit, createLogger, installShutdown } from '@spindle/runtime';
import { loadConfig } from './config';
import { startCoordinator } from './server';

async function main(): Promise<void> {
  const config = loadConfigOrExit('spindle-coordinator', () => loadConfig());
  const logger = createLogger('coordinator', config.logLevel);
  const coordinator = await startCoordinator(config, logger);
  installShutdown(() => coordinator.stop(), { logger, hardDeadlineMs: config.shutdownGraceMs + 10_000 });
}

main().catch((err: unknown) => {
  console.error('spindle-coordinator: failed to start:', err);
  process.exit(1);
});
