import { SpindleError } from '@spindle/runtime';
import { ExportFormat, JobKind, ResultsTable, TaskError, TaskKind, type StatsResult, type Task } from '@spindle/sdk';
import type { JobManager } from '../jobs/job-manager';
import { columnsTableToCsv, columnsTableToJson } from './columns-table';
import { statsTableToCsv, statsTableToJson } from './stats-table';

/** One line of a fetch job's results table. */
interface FetchRow {
  index: number;
  url: string;
  state: string;
  path: string;
  bytes: number | '';
  sha256: string;
  http_status: number | '';
  duration_ms: number | '';
  attempts: number;
  error: string;
}

function csvField(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function errorText(e: TaskError): string {
  return `${e.code}: ${e.message}`;
}

function fetchRow(t: Task): FetchRow {
  const o = t.outcome;
  const ok = o?.$case === 'fetch' ? o.value : undefined;
  return {
    index: t.index,
    url: t.target,
    state: taskStateName(t),
    path: ok?.path ?? '',
    bytes: ok ? ok.bytes : '',
    sha256: ok?.sha256 ?? '',
    http_status: ok ? ok.httpStatus : o?.$case === 'error' && o.value.httpStatus ? o.value.httpStatus : '',
    duration_ms: ok ? ok.durationMs : '',
    attempts: t.attempt,
    error: o?.$case === 'error' ? errorText(o.value) : '',
  };
}

function taskStateName(t: Task): string {
  return ['unspecified', 'pending', 'running', 'succeeded', 'failed', 'cancelled'][t.state] ?? String(t.state);
}

/**
 * The results table of a job. Stats and fetch-then-stats jobs: one row per file (SUMMARY,
 * stats-table.ts) or per (file, column) (COLUMNS, columns-table.ts), built as danfojs-node
 * DataFrames; fetch jobs: one row per URL (COLUMNS is INVALID_ARGUMENT there).
 */
export async function exportResults(
  jobs: JobManager,
  jobId: string,
  format: ExportFormat,
  table: ResultsTable = ResultsTable.RESULTS_TABLE_SUMMARY,
): Promise<{ contentType: string; body: Buffer }> {
  if (format !== ExportFormat.EXPORT_FORMAT_CSV && format !== ExportFormat.EXPORT_FORMAT_JSON) {
    throw new SpindleError('INVALID_ARGUMENT', `format: unknown export format ${format}`, { field: 'format' });
  }
  const columnsTable = table === ResultsTable.RESULTS_TABLE_COLUMNS;
  if (!columnsTable && table !== ResultsTable.RESULTS_TABLE_SUMMARY && table !== ResultsTable.RESULTS_TABLE_UNSPECIFIED) {
    throw new SpindleError('INVALID_ARGUMENT', `table: unknown results table ${table}`, { field: 'table' });
  }
  const kind = jobs.jobKind(jobId);
  const json = format === ExportFormat.EXPORT_FORMAT_JSON;
  if (kind === JobKind.JOB_KIND_FETCH) {
    if (columnsTable) {
      throw new SpindleError('INVALID_ARGUMENT', 'table: a fetch job has no per-column statistics', { field: 'table' });
    }
    const rows = [...jobs.iterateTasks(jobId)].map(fetchRow);
    if (json) return { contentType: 'application/json', body: Buffer.from(JSON.stringify(rows, null, 2)) };
    const header = Object.keys(fetchRow({ index: 0, target: '', state: 0, attempt: 0 } as Task));
    const lines = [header.join(',')];
    for (const r of rows) lines.push(header.map((h) => csvField(r[h as keyof FetchRow])).join(','));
    return { contentType: 'text/csv', body: Buffer.from(lines.join('\n') + '\n') };
  }
  // Stats tables: one row per item. In a fetch-then-stats job a failed download has
  // no stats task; its row carries the fetch error.
  const byIndex = new Map<number, { index: number; source: string; result?: StatsResult; error?: TaskError }>();
  for (const t of jobs.iterateTasks(jobId)) {
    const o = t.outcome;
    if (t.kind === TaskKind.TASK_KIND_FETCH) {
      if (o?.$case === 'error') byIndex.set(t.index, { index: t.index, source: t.target, error: o.value });
      else if (!o) byIndex.set(t.index, { index: t.index, source: t.target, error: unfinished(t) });
      continue;
    }
    if (o?.$case === 'stats') byIndex.set(t.index, { index: t.index, source: t.target, result: o.value });
    else if (o?.$case === 'error') byIndex.set(t.index, { index: t.index, source: t.target, error: o.value });
    else byIndex.set(t.index, { index: t.index, source: t.target, error: unfinished(t) });
  }
  const rows = [...byIndex.values()].sort((a, b) => a.index - b.index);
  if (columnsTable) {
    if (json) return { contentType: 'application/json', body: Buffer.from(columnsTableToJson(rows)) };
    return { contentType: 'text/csv', body: Buffer.from(columnsTableToCsv(rows)) };
  }
  if (json) return { contentType: 'application/json', body: Buffer.from(await statsTableToJson(rows)) };
  return { contentType: 'text/csv', body: Buffer.from(await statsTableToCsv(rows)) };
}

function unfinished(t: Task): TaskError {
  return TaskError.create({ code: 'NOT_FINISHED', message: `task is ${taskStateName(t)}` });
}
