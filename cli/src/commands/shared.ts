import { Option, type Command } from 'commander';
import type { CsvDialect, ExportFormat, ResultsTable, RetryPolicy } from '@spindle/sdk';
import type { SpindleClient } from '../api/client';
import type { GlobalOptions } from '../context';
import { intInRange, parseDelimiter } from '../input/options';
import type { SubmitOptions } from '../jobs/run';
import { writeFileAtomic } from '../output/files';

/** Options shared by the commands that submit a job. */
export function addSubmitOptions(cmd: Command): Command {
  return cmd
    .option('--name <label>', 'label shown in job listings')
    .addOption(new Option('--attempts <n>', 'attempts per item, first one included').argParser(intInRange(1, 100)))
    .option('--request-id <id>', 'idempotency key: re-running with the same id returns the first job (default: random)')
    .option('--detach', 'print the job id and return without waiting', false);
}

/** The CSV dialect options (`stats`, and `fetch --stats`). */
export function addDialectOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--delimiter <char>', 'CSV field delimiter (default ","; \\t or tab for tabs)').argParser(parseDelimiter),
    )
    .option('--no-header', 'the first CSV line is data; columns are named column_1, column_2, …');
}

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
