import type { Logger } from 'pino';

/**
 * Runs `stop` once on the first SIGTERM or SIGINT, bounded by `hardDeadlineMs`;
 * exits 0 when it finishes in time, 1 when it throws, and 124 at the deadline. A second
 * signal exits at once with 128 + signal number. For `main.ts` only: libraries never
 * install signal handlers.
 */
export function installShutdown(
  stop: (signal: string) => Promise<void>,
  options: { logger: Logger; hardDeadlineMs: number },
): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      options.logger.warn({ signal }, 'second signal, exiting now');
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    }
    stopping = true;
    options.logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      options.logger.error({ deadlineMs: options.hardDeadlineMs }, 'shutdown deadline passed, exiting');
      process.exit(124);
    }, options.hardDeadlineMs);
    timer.unref();
    stop(signal).then(
      () => {
        options.logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        options.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * Runs a service's config loader; on a configuration error prints it, prefixed by
 * the program name, and exits 1 before anything starts. For `main.ts` only.
 */
export function loadConfigOrExit<T>(program: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof Error && (err.name === 'ConfigError' || err instanceof RangeError)) {
      console.error(`${program}: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
}
