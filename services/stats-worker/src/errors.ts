/**
 * Task error codes the stats worker produces (a subset of TaskError.code in the proto).
 * File errors are not retryable (the same file gives the same answer on any worker); INTERNAL,
 * NETWORK, TIMEOUT and HTTP 408/429/5xx are.
 */
export type StatsErrorCode =
  | 'INVALID_SPEC'
  | 'FILE_NOT_FOUND'
  | 'PATH_FORBIDDEN'
  | 'CSV_MALFORMED'
  | 'HTTP_STATUS'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'CANCELLED'
  | 'INTERNAL';

/**
 * An expected failure of one stats task, thrown by the pure modules and turned into a
 * `TaskError` outcome by the executor. Across worker threads it travels as
 * `{ code, message }`, never as an instance: match on `code`, not `instanceof`.
 */
export class StatsError extends Error {
  override readonly name = 'StatsError';

  constructor(
    readonly code: StatsErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** True for a {@link StatsError}, also one from another realm (matched on name and code). */
export function isStatsError(err: unknown): err is StatsError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { name?: unknown }).name === 'StatsError' &&
    typeof (err as { code?: unknown }).code === 'string'
  );
}

/** The message of anything thrown. */
export function getErrorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
