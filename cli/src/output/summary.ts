import * as path from 'node:path';
import { TaskKind, TaskState, type ColumnStats, type Job, type Task } from '@spindle/sdk';
import { formatBytes, formatCount, formatDuration, formatNumber, jobStateLabel } from './format';
import { renderTable, type Column } from './table';

interface KindCounts {
  total: number;
  ok: number;
  failed: number;
  cancelled: number;
  bytes: number;
  rows: number;
}

function countKind(tasks: readonly Task[], kind: TaskKind): KindCounts {
  const c: KindCounts = { total: 0, ok: 0, failed: 0, cancelled: 0, bytes: 0, rows: 0 };
  for (const t of tasks) {
    if (t.kind !== kind) continue;
    c.total++;
    if (t.state === TaskState.TASK_STATE_SUCCEEDED) c.ok++;
    else if (t.state === TaskState.TASK_STATE_FAILED) c.failed++;
    else if (t.state === TaskState.TASK_STATE_CANCELLED) c.cancelled++;
    if (t.outcome?.$case === 'fetch') c.bytes += t.outcome.value.bytes;
    if (t.outcome?.$case === 'stats') c.rows += t.outcome.value.rows;
  }
  return c;
}

function describeCounts(c: KindCounts, noun: string): string {
  const parts = [`${c.ok}/${c.total} ${noun} ok`];
  if (c.failed > 0) parts.push(`${c.failed} failed`);
  if (c.cancelled > 0) parts.push(`${c.cancelled} cancelled`);
  return parts.join(', ');
}

/** Wall time of a job, from its first task (or acceptance) to its end, in ms. */
export function jobDurationMs(job: Job): number | undefined {
  const start = job.startTime ?? job.createTime;
  if (!start || !job.endTime) return undefined;
  return Math.max(0, job.endTime.getTime() - start.getTime());
}

/**
 * The last line of a finished job, e.g.
 * `job 3f… succeeded: 8/8 downloads ok (1.2 MiB), 8/8 files analysed (2,400 rows) in 0.9 s`.
 */
export function summarizeJob(job: Job, tasks: readonly Task[]): string {
  const fetch = countKind(tasks, TaskKind.TASK_KIND_FETCH);
  const stats = countKind(tasks, TaskKind.TASK_KIND_STATS);
  const parts: string[] = [];
  if (fetch.total > 0) parts.push(`${describeCounts(fetch, 'downloads')} (${formatBytes(fetch.bytes)})`);
  if (stats.total > 0) parts.push(`${describeCounts(stats, 'files analysed')} (${formatCount(stats.rows)} rows)`);
  if (parts.length === 0) parts.push('no tasks');
  const ms = jobDurationMs(job);
  const took = ms === undefined ? '' : ` in ${formatDuration(ms)}`;
  return `job ${job.id} ${jobStateLabel(job.state)}: ${parts.join(', ')}${took}`;
}

/**
 * {@link summarizeJob} for a plain fetch job from the job's own progress
 * counters, so that a 10,000-URL job needs no listing of every task at the end.
 */
export function summarizeFetchJob(job: Job): string {
  const p = job.progress;
  const counts: KindCounts = {
    total: p?.tasksTotal ?? 0,
    ok: p?.tasksSucceeded ?? 0,
    failed: p?.tasksFailed ?? 0,
    cancelled: p?.tasksCancelled ?? 0,
    bytes: p?.bytesDone ?? 0,
    rows: 0,
  };
  const what = counts.total > 0 ? `${describeCounts(counts, 'downloads')} (${formatBytes(counts.bytes)})` : 'no tasks';
  const ms = jobDurationMs(job);
  const took = ms === undefined ? '' : ` in ${formatDuration(ms)}`;
  return `job ${job.id} ${jobStateLabel(job.state)}: ${what}${took}`;
}

/** The failed tasks, one line each, for the end of a run. */
export function describeFailures(tasks: readonly Task[]): string[] {
  return tasks
    .filter((t) => t.state === TaskState.TASK_STATE_FAILED)
    .map((t) => {
      const e = t.outcome?.$case === 'error' ? t.outcome.value : undefined;
      // The coordinator counts attempts on the final error (drain re-queues excluded).
      const n = e?.attempts || t.attempt;
      const attempts = n > 0 ? ` after ${n} attempt${n === 1 ? '' : 's'}` : '';
      if (e === undefined) return `  ${t.target}: failed${attempts}`;
      const status = e.httpStatus > 0 ? ` (HTTP ${e.httpStatus})` : '';
      return `  ${t.target}: ${e.code}${status}${attempts}: ${e.message}`;
    });
}

/** A path relative to `cwd` when it is inside it, else as given: shorter table cells. */
export function displayPath(target: string, cwd: string): string {
  if (!path.isAbsolute(target)) return target;
  const rel = path.relative(cwd, target);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : target;
}

/** Per-file table of a stats job: file, rows, columns, bytes, ragged rows, time, outcome. */
export function renderStatsTable(
  tasks: readonly Task[],
  opts: { baseName?: boolean; cwd?: string } = {},
): string {
  const columns: Column[] = [
    { header: 'FILE', maxWidth: 60, truncate: 'start' },
    { header: 'ROWS', align: 'right' },
    { header: 'COLS', align: 'right' },
    { header: 'BYTES', align: 'right' },
    { header: 'RAGGED', align: 'right' },
    { header: 'TIME', align: 'right' },
    { header: 'RESULT', maxWidth: 60 },
  ];
  const rows = tasks
    .filter((t) => t.kind === TaskKind.TASK_KIND_STATS)
    .map((t) => {
      const file = opts.baseName
        ? path.basename(t.target)
        : opts.cwd !== undefined
          ? displayPath(t.target, opts.cwd)
          : t.target;
      if (t.outcome?.$case === 'stats') {
        const r = t.outcome.value;
        return [
          file,
          formatCount(r.rows),
          String(r.columns),
          formatBytes(r.bytes),
          formatCount(r.raggedRows),
          formatDuration(r.durationMs),
          'ok',
        ];
      }
      const e = t.outcome?.$case === 'error' ? `${t.outcome.value.code}: ${t.outcome.value.message}` : '';
      return [file, '', '', '', '', '', e || taskStateText(t.state)];
    });
  return renderTable(columns, rows);
}

function taskStateText(state: TaskState): string {
  switch (state) {
    case TaskState.TASK_STATE_CANCELLED:
      return 'cancelled';
    case TaskState.TASK_STATE_FAILED:
      return 'failed';
    case TaskState.TASK_STATE_PENDING:
      return 'pending';
    case TaskState.TASK_STATE_RUNNING:
      return 'running';
    default:
      return '';
  }
}

/** The first `n` numeric columns of a file's statistics. */
export function numericColumns(columns: readonly ColumnStats[], n: number): ColumnStats[] {
  return columns.filter((c) => c.numeric).slice(0, n);
}

/**
 * The demo's table: per file its rows and columns, then mean/min/max of its first
 * `perFile` numeric columns, one line per column.
 */
export function renderColumnSummary(tasks: readonly Task[], perFile = 2): string {
  const columns: Column[] = [
    { header: 'FILE', maxWidth: 40, truncate: 'start' },
    { header: 'ROWS', align: 'right' },
    { header: 'COLS', align: 'right' },
    { header: 'COLUMN', maxWidth: 24 },
    { header: 'MEAN', align: 'right' },
    { header: 'MIN', align: 'right' },
    { header: 'MAX', align: 'right' },
  ];
  const rows: string[][] = [];
  for (const t of tasks) {
    if (t.kind !== TaskKind.TASK_KIND_STATS) continue;
    const file = path.basename(t.target);
    if (t.outcome?.$case !== 'stats') {
      const e = t.outcome?.$case === 'error' ? `${t.outcome.value.code}` : taskStateText(t.state);
      rows.push([file, '', '', `(${e})`]);
      continue;
    }
    const r = t.outcome.value;
    const numeric = numericColumns(r.columnStats, perFile);
    if (numeric.length === 0) rows.push([file, formatCount(r.rows), String(r.columns), '(no numeric column)']);
    numeric.forEach((c, i) => {
      const head = i === 0 ? [file, formatCount(r.rows), String(r.columns)] : ['', '', ''];
      rows.push([...head, c.name, formatNumber(c.mean), formatNumber(c.min), formatNumber(c.max)]);
    });
  }
  return renderTable(columns, rows);
}
