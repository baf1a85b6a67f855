import {
  type JobKind,
  JobState,
  type TaskKind,
  type TaskState,
  type WorkerKind,
  jobKindToJSON,
  jobStateToJSON,
  taskKindToJSON,
  taskStateToJSON,
  workerKindToJSON,
} from '@spindle/sdk';

/** Bytes in binary units: `512 B`, `1.5 KiB`, `12.3 MiB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 'B';
  for (const u of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = u;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${unit}`;
}

/** A duration given in ms: `850 ms`, `1.2 s`, `42 s`, `3m 05s`, `2h 07m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const totalSeconds = Math.round(s);
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const sec = totalSeconds % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  return `${m}m ${String(sec).padStart(2, '0')}s`;
}

/**
 * A statistic for a table: integers as they are, other values with up to
 * `digits` significant decimals and no trailing zeros; huge or tiny magnitudes
 * in exponent form.
 */
export function formatNumber(value: number, digits = 4): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e15 || abs < 1e-4)) return value.toExponential(digits - 1).replace(/\.?0+e/, 'e');
  const fixed = value.toFixed(abs >= 1000 ? 2 : digits);
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

/** A count with thousands separators: `12,345`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Strips the enum prefix and lowercases: `JOB_STATE_SUCCEEDED` → `succeeded`. */
function enumLabel<T extends number>(toJson: (v: T) => string, value: T, prefix: string): string {
  try {
    return toJson(value).replace(prefix, '').toLowerCase();
  } catch {
    // A value newer than this CLI's SDK: show the number rather than fail.
    return `${prefix.toLowerCase()}${value}`;
  }
}

export const jobStateLabel = (s: JobState): string => enumLabel(jobStateToJSON, s, 'JOB_STATE_');
export const jobKindLabel = (k: JobKind): string => enumLabel(jobKindToJSON, k, 'JOB_KIND_');
export const taskStateLabel = (s: TaskState): string => enumLabel(taskStateToJSON, s, 'TASK_STATE_');
export const taskKindLabel = (k: TaskKind): string => enumLabel(taskKindToJSON, k, 'TASK_KIND_');
export const workerKindLabel = (k: WorkerKind): string => enumLabel(workerKindToJSON, k, 'WORKER_KIND_');

/** True for the three terminal job states. */
export function isTerminal(state: JobState): boolean {
  return (
    state === JobState.JOB_STATE_SUCCEEDED ||
    state === JobState.JOB_STATE_FAILED ||
    state === JobState.JOB_STATE_CANCELLED
  );
}

/** A local time as `YYYY-MM-DD HH:MM:SS`, or '' when unset. */
export function formatTime(date: Date | undefined): string {
  if (!date || Number.isNaN(date.getTime())) return '';
  const p = (n: number): string => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())} ` +
    `${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`
  );
}
