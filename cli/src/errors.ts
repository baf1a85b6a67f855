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
