import * as path from 'node:path';
import { ExistingFilePolicy, ExportFormat, type FetchJobSpec, type FetchOptions, type JobSpec, type RetryPolicy } from '@spindle/sdk';
import { withClient } from '../api/client';
import type { CliContext, GlobalOptions } from '../context';
import { UsageError } from '../errors';
import type { IfExistsName } from '../input/options';
import { collectFetchItems, type FetchItemInput } from '../input/urls';
import { submitAndFollow } from '../jobs/run';
import { describeFailures, renderStatsTable, summarizeFetchJob, summarizeJob } from '../output/summary';
import { checkOutputFile, dialectOf, exportFinishedJob, retryPolicy, submitOptions } from './shared';

/** Options of `spindle fetch`. */
export interface FetchCommandOptions {
  input?: string;
  outputDir?: string;
  sha256?: string;
  /** Expected size of the single URL given, in bytes. */
  size?: number;
  timeout?: number;
  connectTimeout?: number;
  headersTimeout?: number;
  idleTimeout?: number;
  maxBytes?: number;
  maxRedirects?: number;
  /** Per-host concurrency on each worker. */
  perHost?: number;
  ifExists?: IfExistsName;
  /** First retry delay and its cap, in ms. */
  backoff?: number;
  maxBackoff?: number;
  /** Then compute the statistics of each downloaded file (a fetch_then_stats job). */
  stats: boolean;
  results?: string;
  delimiter?: string;
  header: boolean;
  name?: string;
  attempts?: number;
  requestId?: string;
  detach: boolean;
  /** No line per downloaded item; failures and the summary only. */
  quiet?: boolean;
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

/** The API's policy for each `--if-exists` value. */
const IF_EXISTS: Readonly<Record<IfExistsName, ExistingFilePolicy>> = {
  overwrite: ExistingFilePolicy.EXISTING_FILE_POLICY_OVERWRITE,
  skip: ExistingFilePolicy.EXISTING_FILE_POLICY_SKIP_IDENTICAL,
  rename: ExistingFilePolicy.EXISTING_FILE_POLICY_RENAME,
};

/** Builds the FetchJobSpec for `items` and the command's options. */
export function buildFetchSpec(
  items: readonly FetchItemInput[],
  opts: Pick<
    FetchCommandOptions,
    | 'outputDir'
    | 'size'
    | 'timeout'
    | 'connectTimeout'
    | 'headersTimeout'
    | 'idleTimeout'
    | 'maxBytes'
    | 'maxRedirects'
    | 'perHost'
    | 'ifExists'
  >,
): FetchJobSpec {
  if (opts.size !== undefined && items.length !== 1) {
    throw new UsageError('--size needs exactly one URL');
  }
  const options: FetchOptions = {
    maxBytes: opts.maxBytes ?? 0,
    maxRedirects: opts.maxRedirects,
    connectTimeoutMs: opts.connectTimeout ?? 0,
    headersTimeoutMs: opts.headersTimeout ?? 0,
    idleTimeoutMs: opts.idleTimeout ?? 0,
    totalTimeoutMs: opts.timeout ?? 0,
    perHostConcurrency: opts.perHost ?? 0,
    ifExists: opts.ifExists === undefined ? ExistingFilePolicy.EXISTING_FILE_POLICY_UNSPECIFIED : IF_EXISTS[opts.ifExists],
  };
  return {
    items: items.map((i) => ({ url: i.url, fileName: i.fileName, sha256: i.sha256, expectedSize: opts.size ?? 0 })),
    outputDir: opts.outputDir === undefined ? '' : checkOutputDir(opts.outputDir),
    options,
  };
}

/** The retry policy from `--attempts`, `--backoff` and `--max-backoff`; undefined = the coordinator's defaults. */
export function fetchRetryPolicy(opts: Pick<FetchCommandOptions, 'attempts' | 'backoff' | 'maxBackoff'>): RetryPolicy | undefined {
  const base = retryPolicy(opts.attempts);
  if (base === undefined && opts.backoff === undefined && opts.maxBackoff === undefined) return undefined;
  return {
    maxAttempts: base?.maxAttempts ?? 0,
    initialBackoffMs: opts.backoff ?? 0,
    maxBackoffMs: opts.maxBackoff ?? 0,
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
    retry: fetchRetryPolicy(opts),
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
  const repeated = items.length - new Set(items.map((i) => i.url)).size;
  if (repeated > 0) {
    // Allowed (each copy gets its own name), but usually a mistake in the list.
    ctx.stderr.write(
      `note: ${repeated} URL${repeated === 1 ? ' is' : 's are'} given more than once; each copy is downloaded, under its own name ("name (1).ext")\n`,
    );
  }
  const spec = buildFetchJob(items, opts);
  const results = opts.results === undefined ? undefined : path.resolve(ctx.cwd, opts.results);
  if (results !== undefined) await checkOutputFile(results, '--results');
  return withClient(globals.addr, async (client) => {
    const outcome = await submitAndFollow(ctx, client, spec, {
      ...submitOptions(globals, opts),
      // A plain fetch is summarised from the job's counters: only failures need listing.
      results: opts.stats ? 'all' : 'failed',
      quiet: opts.quiet === true,
    });
    if (outcome.kind !== 'finished') return outcome.exitCode;
    // The summary first: a failed export must not hide how the job went.
    if (!globals.json) {
      if (opts.stats) ctx.stdout.write('\n' + renderStatsTable(outcome.tasks) + '\n');
      const failures = describeFailures(outcome.tasks);
      if (failures.length > 0) ctx.stderr.write(`failed:\n${failures.join('\n')}\n`);
      ctx.stdout.write((opts.stats ? summarizeJob(outcome.job, outcome.tasks) : summarizeFetchJob(outcome.job)) + '\n');
    }
    if (results !== undefined) {
      await exportFinishedJob(client, outcome.job.id, ExportFormat.EXPORT_FORMAT_CSV, results, ctx.signal);
      if (!globals.json) ctx.stdout.write(`results written to ${results}\n`);
    }
    return outcome.exitCode;
  });
}
