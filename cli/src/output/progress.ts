import type { GenericFormatter, MultiBar, Options, Params, SingleBar } from 'cli-progress';
import { TaskKind, TaskState, type Job, type JobEvent, type JobProgress, type Task } from '@spindle/sdk';
import type { CliContext, Output } from '../context';
import { formatBytes, formatCount, formatDuration, jobStateLabel, taskKindLabel } from './format';
import { BatchedOutput } from './batched-output';
import { eventLine, jobLine, writeJsonLine } from './json';
import { truncate } from './table';

type CliProgress = typeof import('cli-progress');
let cliProgress: CliProgress | undefined;

/** cli-progress, loaded on first use: only the bars on a terminal need it (JSON, plain lines and `--quiet` do not). */
function loadCliProgress(): CliProgress {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  cliProgress ??= require('cli-progress') as CliProgress;
  return cliProgress;
}

/**
 * Shows a job while it runs. Three renderings: progress bars on a terminal,
 * one plain line per finished item otherwise, JSON Lines with `--json`.
 */
export interface JobView {
  /** The job as accepted or first fetched. */
  begin(job: Job): void;
  /** Every event received, in order. */
  event(event: JobEvent): void;
  /** True when the view shows running items and wants {@link running} fed. */
  readonly wantsRunningTasks: boolean;
  /**
   * False when the view shows totals only and needs no per-task events
   * (task_finished, task_retrying); the server then leaves them out.
   * @default true
   */
  readonly wantsTaskEvents?: boolean;
  /** The tasks running now (a poll of ListResults). */
  running(tasks: readonly Task[]): void;
  /** A message for the user that is not an event (re-attaching, detaching). */
  notice(message: string): void;
  /** Stops rendering; leaves the terminal clean for the summary. */
  end(): void;
}

/** How to render: decided from `--json`, `--quiet`, `--no-progress` and whether stderr is a terminal. */
export function createJobView(ctx: CliContext, opts: { json: boolean; progress: boolean; quiet?: boolean }): JobView {
  if (opts.json) return new JsonLinesView(new BatchedOutput(ctx.stdout, (hook) => ctx.onExit(hook)), ctx.stderr);
  if (opts.quiet === true) return new QuietView(ctx.stderr);
  if (opts.progress && useProgressBars(ctx)) return new TtyView(ctx.stderr);
  return new PlainView(new BatchedOutput(ctx.stdout, (hook) => ctx.onExit(hook)), ctx.stderr);
}

/** Bars only on an interactive terminal that can move the cursor. */
export function useProgressBars(ctx: Pick<CliContext, 'stderr' | 'env'>): boolean {
  return ctx.stderr.isTTY === true && ctx.env.TERM !== 'dumb' && !ctx.env.CI;
}

/** Counts of a job, merged from progress events and the task results seen. */
export class ProgressTracker {
  progress: JobProgress | undefined;
  private readonly finished = new Map<string, TaskState>();

  update(event: JobEvent): void {
    const e = event.event;
    if (!e) return;
    if (e.$case === 'progress') this.progress = e.value;
    else if (e.$case === 'stateChanged' && e.value.progress) this.progress = e.value.progress;
    else if (e.$case === 'taskFinished' && e.value.task) this.finished.set(e.value.task.id, e.value.task.state);
  }

  /** True once this client saw the task's TaskFinished event. */
  hasFinished(taskId: string): boolean {
    return this.finished.has(taskId);
  }

  /** Tasks finished (any outcome); never below what this client saw itself. */
  get done(): number {
    const p = this.progress;
    const fromProgress = p ? p.tasksSucceeded + p.tasksFailed + p.tasksCancelled : 0;
    return Math.max(fromProgress, this.finished.size);
  }

  get failed(): number {
    let seen = 0;
    for (const s of this.finished.values()) if (s === TaskState.TASK_STATE_FAILED) seen++;
    return Math.max(this.progress?.tasksFailed ?? 0, seen);
  }

  get total(): number {
    return Math.max(this.progress?.tasksTotal ?? 0, this.done);
  }
}

/** One line describing a finished task, e.g. `ok    fetch  https://… → data/a.csv  12 KiB  45 ms`. */
export function describeFinishedTask(task: Task): string {
  const kind = taskKindLabel(task.kind).padEnd(5);
  const outcome = task.outcome;
  const attempts = task.attempt > 1 ? ` (attempt ${task.attempt})` : '';
  if (task.state === TaskState.TASK_STATE_SUCCEEDED && outcome?.$case === 'fetch') {
    const r = outcome.value;
    const how = r.skipped ? '  (existing file, identical)' : r.resumedBytes > 0 ? `  (resumed after ${formatBytes(r.resumedBytes)})` : '';
    return `ok    ${kind}  ${task.target} → ${r.path}  ${formatBytes(r.bytes)}  ${formatDuration(r.durationMs)}${attempts}${how}`;
  }
  if (task.state === TaskState.TASK_STATE_SUCCEEDED && outcome?.$case === 'stats') {
    const r = outcome.value;
    return (
      `ok    ${kind}  ${task.target}  ${formatCount(r.rows)} rows × ${r.columns} cols  ` +
      `${formatDuration(r.durationMs)}${attempts}`
    );
  }
  if (task.state === TaskState.TASK_STATE_CANCELLED) return `cancelled ${kind}  ${task.target}`;
  if (task.state === TaskState.TASK_STATE_SUCCEEDED) return `ok    ${kind}  ${task.target}${attempts}`;
  const error = outcome?.$case === 'error' ? `${outcome.value.code}: ${outcome.value.message}` : 'failed';
  return `FAIL  ${kind}  ${task.target}  ${error}${attempts}`;
}

function describeRetry(event: JobEvent): string | undefined {
  if (event.event?.$case !== 'taskRetrying') return undefined;
  const r = event.event.value;
  const why = r.error ? `${r.error.code}: ${r.error.message}` : 'failed';
  return `retry task ${r.taskId}: attempt ${r.attempt} ${why}; next attempt in ${formatDuration(r.backoffMs)}`;
}

/**
 * One line per finished item on stdout; retries and notices on stderr. Lines
 * on stdout go out once per event-loop turn when `out` batches them, and
 * always before anything on stderr.
 */
export class PlainView implements JobView {
  readonly wantsRunningTasks = false;

  constructor(
    private readonly out: Output,
    private readonly err: Output,
  ) {}

  begin(job: Job): void {
    this.toErr(`job ${job.id} ${jobStateLabel(job.state)}\n`);
  }

  event(event: JobEvent): void {
    const e = event.event;
    if (e?.$case === 'taskFinished' && e.value.task) this.out.write(describeFinishedTask(e.value.task) + '\n');
    const retry = describeRetry(event);
    if (retry) this.toErr(retry + '\n');
  }

  running(): void {}

  notice(message: string): void {
    this.toErr(message + '\n');
  }

  end(): void {
    this.out.flush?.();
  }

  private toErr(text: string): void {
    this.out.flush?.();
    this.err.write(text);
  }
}

/**
 * `--quiet`: no line per item, only the job's acceptance and notices; the
 * summary and the failures are printed when the job ends. Asks the server for
 * no per-task events, so a large job costs the client next to nothing.
 */
export class QuietView implements JobView {
  readonly wantsRunningTasks = false;
  readonly wantsTaskEvents = false;

  constructor(private readonly err: Output) {}

  begin(job: Job): void {
    this.err.write(`job ${job.id} ${jobStateLabel(job.state)}\n`);
  }

  event(_event: JobEvent): void {}

  running(): void {}

  notice(message: string): void {
    this.err.write(message + '\n');
  }

  end(): void {}
}

/** JSON Lines on stdout: `{"job":…}` first, then `{"event":…}` per event. */
export class JsonLinesView implements JobView {
  readonly wantsRunningTasks = false;

  constructor(
    private readonly out: Output,
    private readonly err: Output,
  ) {}

  begin(job: Job): void {
    writeJsonLine(this.out, jobLine(job));
  }

  event(event: JobEvent): void {
    writeJsonLine(this.out, eventLine(event));
  }

  running(): void {}

  notice(message: string): void {
    // Notices are for people; stdout stays parseable.
    this.out.flush?.();
    this.err.write(message + '\n');
  }

  end(): void {
    this.out.flush?.();
  }
}

/** Most running items shown under the overall bar; the rest are counted. */
const MAX_ITEM_BARS = 8;
/** Finished items are listed above the bars up to this many tasks; failures always. */
const MAX_LOGGED_SUCCESSES = 200;

interface OverallPayload {
  tracker: ProgressTracker;
  extraRunning: number;
}

interface ItemPayload {
  kind: string;
  label: string;
  since: number;
  attempt: number;
  /** Latest progress of the item (ListResults), 0 when none yet. */
  bytesDone: number;
  bytesTotal: number;
}

/** Formats the overall bar: `[███░░] 60% | 6/10 tasks | 1 failed | 1.2 MiB | 3.4 MiB/s | ETA 2 s`. */
export function formatOverall(options: Options, params: Params, payload: OverallPayload): string {
  const { tracker } = payload;
  const p = tracker.progress;
  const { Format } = loadCliProgress();
  const parts = [`${Format.BarFormat(params.progress, options)} ${Math.floor(params.progress * 100)}%`];
  parts.push(`${tracker.done}/${tracker.total} tasks`);
  if (tracker.failed > 0) parts.push(`${tracker.failed} failed`);
  if (p && p.bytesDone > 0) {
    parts.push(p.bytesTotal > 0 ? `${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}` : formatBytes(p.bytesDone));
  }
  if (p && p.rowsDone > 0) parts.push(`${formatCount(p.rowsDone)} rows`);
  if (p && p.bytesPerSecond > 0) parts.push(`${formatBytes(p.bytesPerSecond)}/s`);
  if (p && p.etaSeconds > 0) parts.push(`ETA ${formatDuration(p.etaSeconds * 1000)}`);
  if (payload.extraRunning > 0) parts.push(`+${payload.extraRunning} more running`);
  return truncate(parts.join(' | '), Math.max(20, params.maxWidth - 1));
}

/** Formats one running item: `  fetch  https://host/file.csv  1.2 MiB/3.0 MiB  3.2 s`. */
export function formatItem(_options: Options, params: Params, payload: ItemPayload): string {
  const elapsed = formatDuration(Date.now() - payload.since);
  const attempt = payload.attempt > 1 ? ` (attempt ${payload.attempt})` : '';
  const bytes =
    payload.bytesDone > 0
      ? `  ${formatBytes(payload.bytesDone)}${payload.bytesTotal > 0 ? `/${formatBytes(payload.bytesTotal)}` : ''}`
      : '';
  const tail = `${bytes}  ${elapsed}${attempt}`;
  const head = `  ${payload.kind.padEnd(5)}  `;
  const room = Math.max(10, params.maxWidth - 1 - head.length - tail.length);
  return head + truncate(payload.label, room, 'start') + tail;
}

/** Progress bars on stderr (cli-progress MultiBar): the job, then its running items. */
export class TtyView implements JobView {
  readonly wantsRunningTasks = true;
  private readonly tracker = new ProgressTracker();
  private readonly multi: MultiBar;
  private overall: SingleBar | undefined;
  private readonly overallPayload: OverallPayload;
  private readonly items = new Map<string, SingleBar>();

  constructor(stream: Output) {
    this.overallPayload = { tracker: this.tracker, extraRunning: 0 };
    const { MultiBar } = loadCliProgress();
    this.multi = new MultiBar({
      stream: stream as NodeJS.WritableStream,
      format: formatOverall as GenericFormatter,
      hideCursor: true,
      emptyOnZero: true,
      barsize: 30,
      barCompleteChar: '█',
      barIncompleteChar: '░',
      fps: 8,
      // Signals are main.ts's business; it stops the view through the command.
      gracefulExit: false,
    });
  }

  begin(job: Job): void {
    this.overall = this.multi.create(1, 0, this.overallPayload);
    if (job.progress) this.tracker.progress = job.progress;
    this.refresh();
  }

  event(event: JobEvent): void {
    this.tracker.update(event);
    // Before any remove(): MultiBar.remove() redraws at once, and the bar must already agree with the counts.
    this.refresh();
    const e = event.event;
    if (e?.$case === 'taskFinished' && e.value.task) {
      const task = e.value.task;
      const bar = this.items.get(task.id);
      if (bar) {
        this.multi.remove(bar);
        this.items.delete(task.id);
      }
      if (task.state !== TaskState.TASK_STATE_SUCCEEDED || this.tracker.total <= MAX_LOGGED_SUCCESSES) {
        this.multi.log(describeFinishedTask(task) + '\n');
      }
    }
    const retry = describeRetry(event);
    if (retry) this.multi.log(retry + '\n');
  }

  running(tasks: readonly Task[]): void {
    // A poll answered before a TaskFinished event arrived must not bring its bar back.
    const running = tasks.filter((t) => t.state === TaskState.TASK_STATE_RUNNING && !this.tracker.hasFinished(t.id));
    const shown = running.slice(0, MAX_ITEM_BARS);
    const keep = new Set(shown.map((t) => t.id));
    for (const [id, bar] of this.items) {
      if (!keep.has(id)) {
        this.multi.remove(bar);
        this.items.delete(id);
      }
    }
    for (const task of shown) {
      const payload: ItemPayload = {
        kind: task.kind === TaskKind.TASK_KIND_FETCH ? 'fetch' : 'stats',
        label: task.target,
        since: Date.now(),
        attempt: task.attempt,
        bytesDone: task.bytesDone,
        bytesTotal: task.bytesTotal,
      };
      const bar = this.items.get(task.id);
      if (bar) bar.update({ attempt: task.attempt, bytesDone: task.bytesDone, bytesTotal: task.bytesTotal });
      else this.items.set(task.id, this.multi.create(1, 0, payload, { format: formatItem as GenericFormatter }));
    }
    this.overallPayload.extraRunning = Math.max(0, running.length - shown.length);
  }

  notice(message: string): void {
    this.multi.log(message + '\n');
  }

  end(): void {
    for (const bar of this.items.values()) this.multi.remove(bar);
    this.items.clear();
    this.overallPayload.extraRunning = 0;
    this.refresh();
    this.multi.stop();
  }

  private refresh(): void {
    if (!this.overall) return;
    const total = Math.max(1, this.tracker.total);
    if (this.overall.getTotal() !== total) this.overall.setTotal(total);
    this.overall.update(Math.min(this.tracker.done, total), this.overallPayload);
  }
}
