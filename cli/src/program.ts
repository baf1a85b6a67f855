/**
 * The `spindle` command, started by main.ts (bundled into one file by the build). The
 * only module that touches process state: signals, exit hooks, and the exit code itself.
 */
import { runCli } from './cli';
import type { CliContext } from './context';
import { ExitCode, Interrupted } from './errors';

const controller = new AbortController();
const exitHooks = new Set<() => void>();

const ctx: CliContext = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
  signal: controller.signal,
  onExit(hook) {
    exitHooks.add(hook);
    return () => void exitHooks.delete(hook);
  },
};

// Children and temp folders must not outlive the CLI, whichever way it ends.
process.on('exit', () => {
  for (const hook of exitHooks) {
    try {
      hook();
    } catch {
      // Best effort: the process is ending anyway.
    }
  }
});

// `spindle results … | head` closes the pipe early: stop quietly, as Unix tools do.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(ExitCode.Ok);
  throw err;
});

let interrupts = 0;
function onSignal(signal: NodeJS.Signals): void {
  interrupts++;
  if (interrupts === 1) {
    // The running command stops what it started (gracefully) and returns.
    controller.abort(new Interrupted(signal));
    return;
  }
  // A progress view may have hidden the cursor and turned off line wrapping; give them back.
  if (process.stderr.isTTY) process.stderr.write('\x1b[?25h\x1b[?7h');
  process.stderr.write(`\n${signal} again: exiting now\n`);
  process.exit(ExitCode.Interrupted);
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

/** Resolves once everything written so far has been handed to the OS. */
function drain(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (!stream.writableNeedDrain) resolve();
    else stream.once('drain', () => resolve());
  });
}

void (async () => {
  const code = await runCli(process.argv.slice(2), ctx);
  await Promise.all([drain(process.stdout), drain(process.stderr)]);
  process.exit(code);
})();
