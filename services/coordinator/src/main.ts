#!/usr/bin/env node
import { ConfigError, createLogger, installShutdown } from '@spindle/runtime';
import { loadConfig } from './config';
import { startCoordinator } from './server';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof RangeError) {
      console.error(`spindle-coordinator: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger('coordinator', config.logLevel);
  const coordinator = await startCoordinator(config, logger);
  installShutdown(() => coordinator.stop(), { logger, hardDeadlineMs: config.shutdownGraceMs + 10_000 });
}

main().catch((err: unknown) => {
  console.error('spindle-coordinator: failed to start:', err);
  process.exit(1);
});
