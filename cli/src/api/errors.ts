import { status, type ServiceError } from '@grpc/grpc-js';
import { CliError, ExitCode } from '../errors';

/*
 * gRPC errors as the user sees them. Apart from ../errors so that start-up, `--help`
 * and usage errors load no grpc-js (about 35 ms of the CLI's start).
 */

/** True for the errors grpc-js hands to call callbacks and stream 'error' events. */
export function isServiceError(err: unknown): err is ServiceError {
  return (
    err instanceof Error &&
    typeof (err as Partial<ServiceError>).code === 'number' &&
    'details' in err &&
    'metadata' in err
  );
}

/** The canonical name of a gRPC status code, e.g. `NOT_FOUND`. */
export function statusName(code: number): string {
  return status[code] ?? `CODE_${code}`;
}

/**
 * Turns a gRPC error into the message and exit code the user sees:
 * UNAVAILABLE means the coordinator could not be reached (exit 3); anything else
 * is `<STATUS>: <details>` (exit 1).
 *
 * @param neverConnected true when the channel never reached READY: a deadline
 *   that ran out while still connecting is an unreachable coordinator too.
 */
export function fromServiceError(err: ServiceError, address: string, neverConnected = false): CliError {
  if (err.code === status.UNAVAILABLE || (err.code === status.DEADLINE_EXCEEDED && neverConnected)) {
    const text = withoutResolutionNote(err.details ?? '');
    const details = text ? `: ${text}` : '';
    return new CliError(`cannot reach coordinator at ${address}${details}`, ExitCode.Unreachable);
  }
  return new CliError(`${statusName(err.code)}: ${err.details || err.message}`, ExitCode.Failure);
}

/** `details` without the empty "Resolution note:" grpc-js appends to connection errors. */
export function withoutResolutionNote(details: string): string {
  return details.replace(/\s*Resolution note:\s*$/, '').trim();
}
