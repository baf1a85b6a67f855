import * as path from 'node:path';
import { Option, type Command } from 'commander';
import type { FetchJobSpec, FetchOptions, JobSpec, RetryPolicy } from '@spindle/sdk';
import { withClient } from '../api/client';
import type { Runner } from '../cli';
import type { CliContext, GlobalOptions } from '../context';
import { UsageError } from '../errors';
import { intInRange, parseDuration, parseSize } from '../input/options';
import { collectFetchItems, type FetchItemInput } from '../input/urls';
import { submitAndFollow, type SubmitOptions } from '../jobs/run';
import { describeFailures, summarizeJob } from '../output/summary';

/** Options of `spindle fetch`. */
export interface FetchCommandOptions {
  input?: string;
  outputDir?: string;
  sha256?: string;
  name?: string;
  attempts?: number;
  timeout?: number;
  maxBytes?: number;
  requestId?: string;
  detach: boolean;
}

/** Options shared by the commands that submit a job. */
export function addSubmitOptions(cmd: Command): Command {
  return cmd
    .option('--name <label>', 'label shown in job listings')
    .addOption(new Option('--attempts <n>', 'attempts per item, first one included').argParser(intInRange(1, 100)))
    .option('--request-id <id>', 'idempotency key: re-running with the same id returns the first job (default: random)')
    .option('--detach', 'print the job id and return without waiting', false);
}

/**
 * Checks `-o/--output-dir`: relative to the worker's data root, no "..".
 * @throws UsageError otherwise.
 */
export function checkOutputDir(dir: string): string {
  const normalized = dir.replace(/\\/g, '/');
  if (path.posix.isAbsolute(normalized) || path.win32.isAbsolute(dir)) {
    throw new UsageError(`--output-dir must be relative to the worker data root, got ${dir}`);
  }
  if (normalized.split('/').includes('..')) throw new UsageError(`--output-dir must not contain "..", got ${dir}`);
  return normalized.replace(/\/+$/, '');
}

/** The retry policy from `--attempts`, or undefined for the coordinator's default. */
export function retryPolicy(attempts: number | undefined): RetryPolicy | undefined {
  return attempts === undefined ? undefined : { maxAttempts: attempts, initialBackoffMs: 0, maxBackoffMs: 0 };
}

/** Builds the FetchJobSpec for `items` and the command's options. */
export function buildFetchSpec(items: readonly FetchItemInput[], opts: FetchCommandOptions): FetchJobSpec {
  const options: FetchOptions = {
    maxBytes: opts.maxBytes ?? 0,
    maxRedirects: 0,
    connectTimeoutMs: 0,
    headersTimeoutMs: 0,
    idleTimeoutMs: 0,
    totalTimeoutMs: opts.timeout ?? 0,
  };
  return {
    items: items.map((i) => ({ url: i.url, fileName: i.fileName, sha256: i.sha256, expectedSize: 0 })),
    outputDir: opts.outputDir === undefined ? '' : checkOutputDir(opts.outputDir),
    options,
  };
}

/** `spindle fetch`: downloads URLs on the fetch workers and waits. */
export async function runFetch(
  ctx: CliContext,
  globals: GlobalOptions,
  urls: readonly string[],
  opts: FetchCommandOptions,
): Promise<number> {
  // Everything is checked before connecting: bad input submits nothing.
  const items = await collectFetchItems({ args: urls, inputFile: opts.input, sha256: opts.sha256 }, ctx);
  const spec: JobSpec = {
    kind: { $case: 'fetch', value: buildFetchSpec(items, opts) },
    name: opts.name ?? `fetch ${items.length} URL${items.length === 1 ? '' : 's'}`,
    retry: retryPolicy(opts.attempts),
  };
  return withClient(globals.addr, async (client) => {
    const outcome = await submitAndFollow(ctx, client, spec, submitOptions(globals, opts));
    if (outcome.kind !== 'finished') return outcome.exitCode;
    if (!globals.json) {
      const failures = describeFailures(outcome.tasks);
      if (failures.length > 0) ctx.stderr.write(`failed:\n${failures.join('\n')}\n`);
      ctx.stdout.write(summarizeJob(outcome.job, outcome.tasks) + '\n');
    }
    return outcome.exitCode;
  });
}

/** The submit options from global and command options. */
export function submitOptions(
  globals: GlobalOptions,
  opts: { requestId?: string | undefined; detach: boolean },
): SubmitOptions {
  return { requestId: opts.requestId, detach: opts.detach, json: globals.json, progress: globals.progress };
}

export function registerFetch(program: Command, ctx: CliContext, run: Runner): void {
  const cmd = program
    .command('fetch')
    .description('download URLs on the fetch workers and wait for them')
    .argument('[urls...]', 'http or https URLs')
    .option('-i, --input <file>', "URL list, one per line: URL [SHA256] [FILE_NAME] ('-' = stdin)")
    .option('-o, --output-dir <dir>', 'folder under the worker data root (default: jobs/<job id>)')
    .option('--sha256 <hex>', 'expected SHA-256 of the single URL given')
    .addOption(new Option('--timeout <duration>', 'longest attempt per item, e.g. 30s, 2m').argParser(parseDuration))
    .addOption(new Option('--max-bytes <size>', 'largest body accepted, e.g. 100MiB').argParser(parseSize));
  addSubmitOptions(cmd).action(async (urls: string[], _opts: unknown, command: Command) =>
    run(command, (globals) => runFetch(ctx, globals, urls, command.opts<FetchCommandOptions>())),
  );
}
