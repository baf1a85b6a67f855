import { status, type ServiceError } from '@grpc/grpc-js';

/** Exit codes of the `spindle` command. */
export const ExitCode = {
  /** Everything asked for succeeded. */
  Ok: 0,
  /** An item failed, the job was cancelled, or the coordinator returned an error. */
  Failure: 1,
  /** The command line or its input was wrong; nothing was submitted. */
  Usage: 2,
  /** The coordinator could not be reached. */
  Unreachable: 3,
  /** Interrupted by SIGINT (128 + 2, the shell convention). */
  Interrupted: 130,
} as const;

/**
 * An error whose message is meant for the user as-is (no stack trace), with the
 * exit code the command should end with.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.Failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A usage or input problem found before anything was sent: exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.Usage);
    this.name = 'UsageError';
  }
}

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
    // grpc-js appends an empty "Resolution note:" to connection errors.
    const text = (err.details ?? '').replace(/\s*Resolution note:\s*$/, '').trim();
    const details = text ? `: ${text}` : '';
    return new CliError(`cannot reach coordinator at ${address}${details}`, ExitCode.Unreachable);
  }
  return new CliError(`${statusName(err.code)}: ${err.details || err.message}`, ExitCode.Failure);
}

/** The message of any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** True when `err` is the reason an AbortSignal was aborted with, or an AbortError. */
export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err instanceof Interrupted);
}

/** The abort reason main.ts uses for SIGINT/SIGTERM. */
export class Interrupted extends Error {
  constructor(readonly signalName: NodeJS.Signals) {
    super(`interrupted by ${signalName}`);
    this.name = 'Interrupted';
  }
}
