import * as path from 'node:path';
import { ExportFormat, ResultsTable } from '@spindle/sdk';
import { withClient } from '../api/client';
import type { CliContext, GlobalOptions } from '../context';
import { ExitCode } from '../errors';
import { exportResultsTo } from './shared';

/** Options of `spindle results`. */
export interface ResultsCommandOptions {
  format?: 'csv' | 'json';
  /** summary: one row per file (default); columns: one row per file and column (stats jobs). */
  table?: 'summary' | 'columns';
  output?: string;
}

/** `spindle results <id>`: the job's results table (ExportResults) to stdout or a file. */
export async function runResults(
  ctx: CliContext,
  globals: GlobalOptions,
  jobId: string,
  opts: ResultsCommandOptions,
): Promise<number> {
  // --json alone asks for the JSON table; an explicit --format wins.
  const name = opts.format ?? (globals.json ? 'json' : 'csv');
  const format = name === 'json' ? ExportFormat.EXPORT_FORMAT_JSON : ExportFormat.EXPORT_FORMAT_CSV;
  const table = opts.table === 'columns' ? ResultsTable.RESULTS_TABLE_COLUMNS : ResultsTable.RESULTS_TABLE_SUMMARY;
  return withClient(globals.addr, async (client) => {
    if (opts.output !== undefined) {
      const file = path.resolve(ctx.cwd, opts.output);
      await exportResultsTo(client, jobId, format, file, ctx.signal, table);
      ctx.stderr.write(`results of job ${jobId} written to ${file}\n`);
      return ExitCode.Ok;
    }
    let last = '';
    for await (const chunk of client.exportResults(jobId, format, { signal: ctx.signal, table })) {
      const text = chunk.toString('utf8');
      ctx.stdout.write(text);
      if (text.length > 0) last = text;
    }
    // Keep the shell prompt on its own line.
    if (last !== '' && !last.endsWith('\n')) ctx.stdout.write('\n');
    return ExitCode.Ok;
  });
}
