import pino, { type Logger } from 'pino';
import { redactUrlQueries } from './redact';

export type { Logger } from 'pino';

/**
 * A structured JSON logger on stdout. Every line carries `service`, so the logs of
 * a local process group (`spindle up`) can be told apart. The query strings of URLs
 * are redacted from every line, whichever field or message they are in (see
 * redact.ts: a presigned URL's query is its credential).
 */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    hooks: { streamWrite: redactUrlQueries },
  });
}

/** A logger that drops everything (tests, libraries used without one). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
