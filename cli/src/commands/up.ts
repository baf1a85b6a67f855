import * as path from 'node:path';
import type { CliContext, GlobalOptions } from '../context';
import { ExitCode } from '../errors';
import { writeJsonLine } from '../output/json';
import { LocalStack } from '../stack/local-stack';
import { describeExit } from '../stack/service-process';

/** Options of `spindle up`. */
export interface UpCommandOptions {
  dataRoot?: string;
  state: string;
  port?: number;
  host: string;
  logLevel: string;
  allowLoopback: boolean;
  metricsAddr?: string;
  stopTimeout: number;
}

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** The port part of host:port. */
export function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

/**
 * `spindle up`: runs the coordinator and one worker of each kind until SIGINT or
 * SIGTERM (exit 0 after a graceful stop), or until a service dies (exit 1).
 */
export async function runUp(ctx: CliContext, globals: GlobalOptions, opts: UpCommandOptions): Promise<number> {
  const stateDir = path.resolve(ctx.cwd, opts.state);
  const dataRoot = path.resolve(ctx.cwd, opts.dataRoot ?? '.');
  const port = opts.port ?? portOf(globals.addr);
  const stack = await LocalStack.start({
    stateDir,
    dataRoot,
    host: opts.host,
    port,
    logLevel: opts.logLevel,
    allowLoopback: opts.allowLoopback,
    metricsAddr: opts.metricsAddr,
    baseEnv: ctx.env,
    signal: ctx.signal,
  });
  const unregister = ctx.onExit(() => stack.killNow());
  try {
    if (globals.json) {
      writeJsonLine(ctx.stdout, {
        event: 'ready',
        address: stack.address,
        dataRoot,
        stateDir,
        logFile: stack.logFile,
        processes: stack.processes(),
      });
    } else {
      ctx.stdout.write(
        `spindle is up: coordinator listening on ${stack.address}\n` +
          `  data root  ${dataRoot}\n` +
          `  state      ${stateDir}\n` +
          `  logs       ${stack.logFile}\n` +
          `use it from another shell with:  export SPINDLE_ADDR=${stack.address}\n` +
          `press Ctrl-C to stop\n`,
      );
    }
    const first = await Promise.race([stack.unexpectedExit, aborted(ctx.signal).then(() => undefined)]);
    if (first) {
      ctx.stderr.write(`error: ${first.service} ${describeExit(first.exit)}; stopping the others\n`);
      await stack.stop(opts.stopTimeout);
      ctx.stderr.write(stack.tails() + '\n');
      if (globals.json) writeJsonLine(ctx.stdout, { event: 'failed', service: first.service, ...first.exit });
      return ExitCode.Failure;
    }
    ctx.stderr.write('stopping: workers first, then the coordinator…\n');
    await stack.stop(opts.stopTimeout);
    if (globals.json) writeJsonLine(ctx.stdout, { event: 'stopped' });
    else ctx.stdout.write('spindle stopped\n');
    return ExitCode.Ok;
  } finally {
    unregister();
  }
}
