import * as path from 'node:path';
import { ExportFormat, ResultsTable, type JobSpec, type StatsSource } from '@spindle/sdk';
import { withClient } from '../api/client';
import type { CliContext, GlobalOptions } from '../context';
import { UsageError, errorMessage } from '../errors';
import { checkUrl } from '../input/urls';
import { submitAndFollow } from '../jobs/run';
import { describeFailures, renderStatsTable, summarizeJob } from '../output/summary';
import { checkOutputFile, dialectOf, exportFinishedJob, retryPolicy, submitOptions } from './shared';

/** Options of `spindle stats`. */
export interface StatsCommandOptions {
  output?: string;
  /** Where to write the per-column statistics table (CSV). */
  columnsOutput?: string;
  delimiter?: string;
  /** False with --no-header. */
  header: boolean;
  name?: string;
  attempts?: number;
  requestId?: string;
  detach: boolean;
}

/**
 * Turns command-line files into sources: http(s) URLs stay URLs; anything else is
 * a path, made absolute against `cwd` (the stats worker accepts absolute paths
 * inside its data root).
 */
export function toStatsSources(files: readonly string[], cwd: string): StatsSource[] {
  if (files.length === 0) throw new UsageError('no files given: pass one or more CSV files');
  return files.map((f): StatsSource => {
    if (/^https?:\/\//i.test(f)) {
      try {
        return { source: { $case: 'url', value: checkUrl(f) } };
      } catch (err) {
        throw new UsageError(errorMessage(err));
      }
    }
    if (f.trim() === '') throw new UsageError('empty file name');
    return { source: { $case: 'path', value: path.resolve(cwd, f) } };
  });
}

/** `spindle stats`: computes statistics of CSV files on the stats workers and waits. */
export async function runStats(
  ctx: CliContext,
  globals: GlobalOptions,
  files: readonly string[],
  opts: StatsCommandOptions,
): Promise<number> {
  const sources = toStatsSources(files, ctx.cwd);
  const output = opts.output === undefined ? undefined : path.resolve(ctx.cwd, opts.output);
  const columnsOutput = opts.columnsOutput === undefined ? undefined : path.resolve(ctx.cwd, opts.columnsOutput);
  if (output !== undefined) await checkOutputFile(output, '--output');
  if (columnsOutput !== undefined) await checkOutputFile(columnsOutput, '--columns-output');
  const spec: JobSpec = {
    kind: { $case: 'stats', value: { sources, dialect: dialectOf(opts) } },
    name: opts.name ?? `stats ${sources.length} file${sources.length === 1 ? '' : 's'}`,
    retry: retryPolicy(opts.attempts),
  };
  return withClient(globals.addr, async (client) => {
    const outcome = await submitAndFollow(ctx, client, spec, submitOptions(globals, opts));
    if (outcome.kind !== 'finished') return outcome.exitCode;
    // The summary first: a failed export must not hide how the job went.
    if (!globals.json) {
      ctx.stdout.write('\n' + renderStatsTable(outcome.tasks, { cwd: ctx.cwd }) + '\n');
      const failures = describeFailures(outcome.tasks);
      if (failures.length > 0) ctx.stderr.write(`failed:\n${failures.join('\n')}\n`);
      ctx.stdout.write(summarizeJob(outcome.job, outcome.tasks) + '\n');
    }
    if (output !== undefined) {
      await exportFinishedJob(client, outcome.job.id, ExportFormat.EXPORT_FORMAT_CSV, output, ctx.signal);
      if (!globals.json) ctx.stdout.write(`results written to ${output}\n`);
    }
    if (columnsOutput !== undefined) {
      const columns = ResultsTable.RESULTS_TABLE_COLUMNS;
      await exportFinishedJob(client, outcome.job.id, ExportFormat.EXPORT_FORMAT_CSV, columnsOutput, ctx.signal, columns);
      if (!globals.json) ctx.stdout.write(`per-column statistics written to ${columnsOutput}\n`);
    }
    return outcome.exitCode;
  });
}
