import type { Readable } from 'node:stream';

/** A stream the CLI writes to; `isTTY` and `columns` decide how progress is shown. */
export interface Output {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
  /** Passes on at once what an output that batches its writes holds (see BatchedOutput). */
  flush?(): void;
}

/**
 * Everything a command needs from the process, passed in so that commands can be
 * run in-process by tests and never touch `process` themselves.
 */
export interface CliContext {
  readonly stdout: Output;
  readonly stderr: Output;
  readonly stdin: Readable;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Aborted on the first SIGINT/SIGTERM, with an `Interrupted` reason. */
  readonly signal: AbortSignal;
  /**
   * Registers a synchronous last-resort cleanup run when the process exits
   * (kill child processes, remove temp folders), for exits that skip the normal
   * path. Returns a function that unregisters it.
   */
  onExit(hook: () => void): () => void;
}

/** Options every command accepts. */
export interface GlobalOptions {
  /** Coordinator address, host:port. */
  addr: string;
  /** Machine-readable output. */
  json: boolean;
  /** Progress bars on a terminal; false forces plain lines. */
  progress: boolean;
}
