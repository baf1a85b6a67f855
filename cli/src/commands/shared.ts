import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { ResultsTable, type CsvDialect, type ExportFormat, type RetryPolicy } from '@spindle/sdk';
import type { SpindleClient } from '../api/client';
import type { GlobalOptions } from '../context';
import type { SubmitOptions } from '../jobs/run';
import { CliError, UsageError, errorMessage } from '../errors';
import { writeFileAtomic } from '../output/files';

/** The dialect from `--delimiter` and `--no-header`. */
export function dialectOf(opts: { delimiter?: string | undefined; header: boolean }): CsvDialect {
  return { delimiter: opts.delimiter ?? '', noHeader: !opts.header };
}

/** The retry policy from `--attempts`, or undefined for the coordinator's default. */
export function retryPolicy(attempts: number | undefined): RetryPolicy | undefined {
  return attempts === undefined ? undefined : { maxAttempts: attempts, initialBackoffMs: 0, maxBackoffMs: 0 };
}

/** The submit options from global and command options. */
export function submitOptions(
  globals: GlobalOptions,
  opts: { requestId?: string | undefined; detach: boolean },
): SubmitOptions {
  return { requestId: opts.requestId, detach: opts.detach, json: globals.json, progress: globals.progress };
}

/** Streams one of the job's results tables (default: the summary) into `file` (atomically). */
export async function exportResultsTo(
  client: SpindleClient,
  jobId: string,
  format: ExportFormat,
  file: string,
  signal: AbortSignal,
  table?: ResultsTable,
): Promise<void> {
  await writeFileAtomic(file, client.exportResults(jobId, format, { signal, table }), { signal });
}

/**
 * Checks, before anything is submitted, that the results file of `option` can be
 * written: its folder exists and is writable, and it is not itself a folder.
 * Otherwise the job would run to its end and only then fail to export.
 * @throws UsageError naming the option and the problem.
 */
export async function checkOutputFile(file: string, option: string): Promise<void> {
  const dir = path.dirname(file);
  const fail = (problem: string): never => {
    throw new UsageError(`${option}: cannot write ${file}: ${problem}`);
  };
  const dirStat = await stat(dir).catch(() => undefined);
  if (dirStat === undefined) return fail(`folder ${dir} does not exist`);
  if (!dirStat.isDirectory()) fail(`${dir} is not a folder`);
  // writeFileAtomic creates a temp file in the folder, then renames it over the target.
  await access(dir, constants.W_OK | constants.X_OK).catch(() => fail(`folder ${dir} is not writable`));
  const fileStat = await stat(file).catch(() => undefined);
  if (fileStat?.isDirectory()) fail('it is a folder');
}

/**
 * {@link exportResultsTo} for a job that just ended; a failure names the job and the
 * command that retries the export, since the job itself is done.
 */
export async function exportFinishedJob(
  client: SpindleClient,
  jobId: string,
  format: ExportFormat,
  file: string,
  signal: AbortSignal,
  table?: ResultsTable,
): Promise<void> {
  try {
    await exportResultsTo(client, jobId, format, file, signal, table);
  } catch (err) {
    if (signal.aborted || !(err instanceof CliError)) throw err;
    const tableOption = table === ResultsTable.RESULTS_TABLE_COLUMNS ? ' --table columns' : '';
    throw new CliError(
      `${errorMessage(err)}\njob ${jobId} ended; export its results again with:\n` +
        `  spindle results ${jobId}${tableOption} -o ${JSON.stringify(file)}`,
      err.exitCode,
    );
  }
}
