import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExportFormat, type JobSpec } from '@spindle/sdk';
import { withClient } from '../api/client';
import type { CliContext, GlobalOptions } from '../context';
import { CliError, ExitCode } from '../errors';
import { serveCsvFiles, type FileServer } from '../demo/file-server';
import { submitAndFollow } from '../jobs/run';
import { describeFailures, renderColumnSummary, summarizeJob } from '../output/summary';
import { LocalStack } from '../stack/local-stack';
import { describeExit } from '../stack/service-process';
import { exportResultsTo } from './shared';

/** Options of `spindle demo`. */
export interface DemoCommandOptions {
  output: string;
  dataDir: string;
}

/** The demo's job: download every served file (checked by size and SHA-256), then analyse it. */
export function demoJobSpec(server: FileServer): JobSpec {
  return {
    kind: {
      $case: 'fetchThenStats',
      value: {
        fetch: {
          items: server.files.map((f) => ({ url: f.url, fileName: f.name, sha256: f.sha256, expectedSize: f.size })),
          outputDir: 'demo',
          options: undefined,
        },
        dialect: { delimiter: '', noHeader: false },
      },
    },
    name: `demo: fetch and analyse ${server.files.length} CSV files`,
    retry: undefined,
  };
}

/**
 * `spindle demo`: starts a private stack on temp folders, serves the bundled CSV
 * files over HTTP, runs one fetch_then_stats job over all of them, writes the
 * results table to ./results.csv and prints a summary. Everything it started or
 * created is removed again, also on failure or Ctrl-C.
 */
export async function runDemo(ctx: CliContext, globals: GlobalOptions, opts: DemoCommandOptions): Promise<number> {
  const output = path.resolve(ctx.cwd, opts.output);
  const tmp = os.tmpdir();
  const stateDir = await mkdtemp(path.join(tmp, 'spindle-demo-state-'));
  const dataRoot = await mkdtemp(path.join(tmp, 'spindle-demo-data-'));
  let stack: LocalStack | undefined;
  let server: FileServer | undefined;
  // Last resort if the process ends without reaching `finally` (a second Ctrl-C).
  const unregister = ctx.onExit(() => {
    stack?.killNow();
    for (const dir of [stateDir, dataRoot]) rmSync(dir, { recursive: true, force: true });
  });
  // A service dying mid-run aborts the run, like Ctrl-C does, but with its own reason.
  const failure = new AbortController();
  const signal = AbortSignal.any([ctx.signal, failure.signal]);
  const runCtx: CliContext = { ...ctx, signal };
  const info = (line: string): void => void (globals.json ? ctx.stderr : ctx.stdout).write(line + '\n');

  try {
    const dataDir = path.resolve(ctx.cwd, opts.dataDir);
    server = await serveCsvFiles(dataDir);
    if (server.files.length === 0) throw new CliError(`no CSV files in ${dataDir}`);
    info(`serving ${server.files.length} CSV files at ${server.baseUrl}/`);
    stack = await LocalStack.start({
      stateDir,
      dataRoot,
      port: 0,
      allowLoopback: true,
      baseEnv: ctx.env,
      signal,
    });
    info(`local stack up: coordinator ${stack.address}, data root ${dataRoot}`);
    const running = stack;
    void running.unexpectedExit.then(({ service, exit }) =>
      failure.abort(new CliError(`${service} ${describeExit(exit)} during the demo`)),
    );

    const code = await withClient(stack.address, async (client) => {
      const outcome = await submitAndFollow(runCtx, client, demoJobSpec(server!), {
        detach: false,
        json: globals.json,
        progress: globals.progress,
        detachHint: false,
      });
      if (outcome.kind !== 'finished') {
        if (failure.signal.aborted) throw failure.signal.reason;
        ctx.stderr.write('interrupted: stopping the demo stack and removing its temp folders\n');
        return outcome.exitCode;
      }
      await exportResultsTo(client, outcome.job.id, ExportFormat.EXPORT_FORMAT_CSV, output, signal);
      if (!globals.json) {
        ctx.stdout.write('\n' + renderColumnSummary(outcome.tasks) + '\n');
        const failures = describeFailures(outcome.tasks);
        if (failures.length > 0) ctx.stderr.write(`failed:\n${failures.join('\n')}\n`);
        ctx.stdout.write(summarizeJob(outcome.job, outcome.tasks) + '\n');
      }
      info(`results table written to ${output}`);
      if (outcome.exitCode !== ExitCode.Ok) ctx.stderr.write(running.tails() + '\n');
      return outcome.exitCode;
    });
    return code;
  } catch (err) {
    if (failure.signal.aborted && stack) {
      const reason = failure.signal.reason as CliError;
      throw new CliError(`${reason.message}\n${stack.tails()}`);
    }
    if (err instanceof CliError && stack && err.exitCode !== ExitCode.Interrupted) {
      throw new CliError(`${err.message}\n${stack.tails()}`, err.exitCode);
    }
    throw err;
  } finally {
    await stack?.stop(5_000);
    await server?.close();
    await Promise.all([stateDir, dataRoot].map((d) => rm(d, { recursive: true, force: true })));
    unregister();
  }
}
