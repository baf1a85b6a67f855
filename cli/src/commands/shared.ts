import type { CsvDialect, ExportFormat, ResultsTable, RetryPolicy } from '@spindle/sdk';
import type { SpindleClient } from '../api/client';
import type { GlobalOptions } from '../context';
import type { SubmitOptions } from '../jobs/run';
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
