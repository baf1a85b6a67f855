import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * A structured JSON logger on stdout. Every line carries `service`, so the logs of
 * a local process group (`spindle up`) can be told apart.
 */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({ level, base: { service, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** A logger that drops everything (tests, libraries used without one). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
