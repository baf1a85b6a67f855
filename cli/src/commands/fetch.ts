import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { ExportFormat, type FetchJobSpec, type FetchOptions, type JobSpec } from '@spindle/sdk';
import { withClient } from '../api/client';
import type { Runner } from '../cli';
import type { CliContext, GlobalOptions } from '../context';
import { UsageError } from '../errors';
import { parseDuration, parseSize } from '../input/options';
import { collectFetchItems, type FetchItemInput } from '../input/urls';
import { submitAndFollow } from '../jobs/run';
import { describeFailures, renderStatsTable, summarizeJob } from '../output/summary';
import { addDialectOptions, addSubmitOptions, dialectOf, exportResultsTo, retryPolicy, submitOptions } from './shared';

/** Options of `spindle fetch`. */
export interface FetchCommandOptions {
  input?: string;
  outputDir?: string;
  sha256?: string;
  timeout?: number;
  maxBytes?: number;
  /** Then compute the statistics of each downloaded file (a fetch_then_stats job). */
  stats: boolean;
  results?: string;
  delimiter?: string;
  header: boolean;
  name?: string;
  attempts?: number;
  requestId?: string;
  detach: boolean;
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

/** Builds the FetchJobSpec for `items` and the command's options. */
export function buildFetchSpec(
  items: readonly FetchItemInput[],
  opts: Pick<FetchCommandOptions, 'outputDir' | 'timeout' | 'maxBytes'>,
): FetchJobSpec {
  const options: FetchOptions = {
    maxBytes: opts.maxBytes ?? 0,
    maxRedirects: 0,
    connectTimeoutMs: 0,
    headersTimeoutMs: 0,
    idleTimeoutMs: 0,
    totalTimeoutMs: opts.timeout ?? 0,
    perHostConcurrency: 0,
    ifExists: 0,
  };
  return {
    items: items.map((i) => ({ url: i.url, fileName: i.fileName, sha256: i.sha256, expectedSize: 0 })),
    outputDir: opts.outputDir === undefined ? '' : checkOutputDir(opts.outputDir),
    options,
  };
}

/** The job `spindle fetch` submits: fetch, or fetch_then_stats with `--stats`. */
export function buildFetchJob(items: readonly FetchItemInput[], opts: FetchCommandOptions): JobSpec {
  if (!opts.stats && (opts.results !== undefined || opts.delimiter !== undefined || !opts.header)) {
    throw new UsageError('--results, --delimiter and --no-header need --stats');
  }
  const fetch = buildFetchSpec(items, opts);
  const noun = `${items.length} URL${items.length === 1 ? '' : 's'}`;
  return {
    kind: opts.stats
      ? { $case: 'fetchThenStats', value: { fetch, dialect: dialectOf(opts) } }
      : { $case: 'fetch', value: fetch },
    name: opts.name ?? (opts.stats ? `fetch and analyse ${noun}` : `fetch ${noun}`),
    retry: retryPolicy(opts.attempts),
  };
}

/** `spindle fetch`: downloads URLs on the fetch workers (then analyses them with --stats) and waits. */
export async function runFetch(
  ctx: CliContext,
  globals: GlobalOptions,
  urls: readonly string[],
  opts: FetchCommandOptions,
): Promise<number> {
  // Everything is checked before connecting: bad input submits nothing.
  const items = await collectFetchItems({ args: urls, inputFile: opts.input, sha256: opts.sha256 }, ctx);
  const spec = buildFetchJob(items, opts);
  const results = opts.results === undefined ? undefined : path.resolve(ctx.cwd, opts.results);
  return withClient(globals.addr, async (client) => {
    const outcome = await submitAndFollow(ctx, client, spec, submitOptions(globals, opts));
    if (outcome.kind !== 'finished') return outcome.exitCode;
    if (results !== undefined) {
      await exportResultsTo(client, outcome.job.id, ExportFormat.EXPORT_FORMAT_CSV, results, ctx.signal);
    }
    if (!globals.json) {
      if (opts.stats) ctx.stdout.write('\n' + renderStatsTable(outcome.tasks) + '\n');
      const failures = describeFailures(outcome.tasks);
      if (failures.length > 0) ctx.stderr.write(`failed:\n${failures.join('\n')}\n`);
      ctx.stdout.write(summarizeJob(outcome.job, outcome.tasks) + '\n');
      if (results !== undefined) ctx.stdout.write(`results written to ${results}\n`);
    }
    return outcome.exitCode;
  });
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
    .addOption(new Option('--max-bytes <size>', 'largest body accepted, e.g. 100MiB').argParser(parseSize))
    .option('--stats', 'then compute the statistics of each downloaded CSV file', false)
    .option('--results <file>', 'with --stats: write the results table as CSV to this file');
  addSubmitOptions(addDialectOptions(cmd)).action(async (urls: string[], _opts: unknown, command: Command) =>
    run(command, (globals) => runFetch(ctx, globals, urls, command.opts<FetchCommandOptions>())),
  );
}
