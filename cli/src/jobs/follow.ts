import { setTimeout as sleep } from 'node:timers/promises';
import { JobKind, JobState, TaskState, WorkerKind, type Job } from '@spindle/sdk';
import { StreamBroken, type SpindleClient } from '../api/client';
import { withoutResolutionNote } from '../api/errors';
import { CliError, ExitCode } from '../errors';
import { isTerminal } from '../output/format';
import type { JobView } from '../output/progress';

/** Options of {@link followJob}. */
export interface FollowOptions {
  /** Events after this seq only; 0 = replay from the start. @default 0 */
  afterSeq?: number;
  /** Aborting stops following (the job keeps running); rejects with the signal's reason. */
  signal: AbortSignal;
  /** Where events go. */
  view: JobView;
  /** How long to keep trying to re-attach after the stream broke, in ms. @default 30000 */
  reattachTimeoutMs?: number;
  /** How often running items are polled for a view that shows them, in ms. @default 1000 */
  pollIntervalMs?: number;
  /** Whether the job returned has its spec (see JobCallOpts.withSpec). @default true */
  withSpec?: boolean;
  /**
   * After this long with the job still queued, check once whether any worker
   * that could run it is connected, and say so when none is, in ms. @default 3000
   */
  queuedNoticeMs?: number;
}

/** What {@link followJob} ends with. */
export interface FollowResult {
  /** The job in its terminal state. */
  job: Job;
  /** The last event seq seen. */
  lastSeq: number;
}

/** A stream that ends before the job is terminal is re-opened at most this often in a row. */
const MAX_EARLY_ENDS = 5;

/**
 * Follows a job with WatchJob until it is terminal, feeding `view`. When the
 * stream breaks (coordinator restart, network cut) it re-attaches after the last
 * seq it saw, so that no stored event is missed or shown twice.
 */
export async function followJob(client: SpindleClient, job: Job, opts: FollowOptions): Promise<FollowResult> {
  const { signal, view } = opts;
  let lastSeq = opts.afterSeq ?? 0;
  const reattachTimeoutMs = opts.reattachTimeoutMs ?? 30_000;
  let brokenSince: number | undefined;
  let earlyEnds = 0;

  const pollStop = new AbortController();
  const poller = view.wantsRunningTasks
    ? pollRunning(client, job.id, view, AbortSignal.any([signal, pollStop.signal]), opts.pollIntervalMs ?? 1000)
    : Promise.resolve();
  let queued = job.state === JobState.JOB_STATE_QUEUED;
  const workerCheck = queued
    ? setTimeout(() => {
        if (queued) void noteMissingWorkers(client, job, view, () => queued, AbortSignal.any([signal, pollStop.signal]));
      }, opts.queuedNoticeMs ?? 3000)
    : undefined;
  try {
    for (;;) {
      try {
        for await (const event of client.watchJob(job.id, lastSeq, { signal, skipTaskEvents: view.wantsTaskEvents === false })) {
          if (event.seq > lastSeq) lastSeq = event.seq;
          brokenSince = undefined;
          if (queued && event.event?.$case === 'stateChanged' && event.event.value.state !== JobState.JOB_STATE_QUEUED) queued = false;
          view.event(event);
        }
        const { job: current } = await client.getJob(job.id, { signal, withSpec: opts.withSpec });
        if (current && isTerminal(current.state)) return { job: current, lastSeq };
        if (++earlyEnds > MAX_EARLY_ENDS) {
          throw new CliError(`the coordinator keeps ending the event stream of job ${job.id} before it finished`);
        }
        await sleep(500, undefined, { signal });
      } catch (err) {
        if (!(err instanceof StreamBroken)) throw err;
        brokenSince ??= Date.now();
        const left = reattachTimeoutMs - (Date.now() - brokenSince);
        const reason = withoutResolutionNote(err.cause.details || err.cause.message);
        if (left <= 0) throw new CliError(`cannot reach coordinator at ${client.address}: ${reason}`, ExitCode.Unreachable);
        view.notice(`lost the coordinator (${reason}); re-attaching after event ${lastSeq}…`);
        await sleep(Math.min(1000, left), undefined, { signal });
        await client.waitForReady(Math.max(1, left - 1000)).catch(() => undefined);
      }
    }
  } catch (err) {
    // Checked first: timers/promises and grpc-js reject with their own errors on abort.
    if (signal.aborted) throw new Detached(job.id, lastSeq, signal.reason);
    // Giving up on an unreachable coordinator leaves the job running: say how to get back to it.
    if (err instanceof CliError && err.exitCode === ExitCode.Unreachable) {
      throw new CliError(`${err.message}\n${detachHint(job.id, lastSeq)}`, err.exitCode);
    }
    throw err;
  } finally {
    clearTimeout(workerCheck);
    pollStop.abort();
    await poller;
  }
}

/**
 * Says so when no worker that could run `job` takes tasks at the coordinator
 * (none connected, or all draining): otherwise a job just sits queued with no
 * clue why. Best effort: a failed check says nothing.
 */
async function noteMissingWorkers(
  client: SpindleClient,
  job: Job,
  view: JobView,
  stillQueued: () => boolean,
  signal: AbortSignal,
): Promise<void> {
  const kind = job.kind === JobKind.JOB_KIND_STATS ? WorkerKind.WORKER_KIND_STATS : WorkerKind.WORKER_KIND_FETCH;
  const name = kind === WorkerKind.WORKER_KIND_STATS ? 'stats' : 'fetch';
  try {
    const { workers } = await client.listWorkers(kind, { signal, timeoutMs: 5_000 });
    if (!stillQueued() || signal.aborted || workers.some((w) => !w.draining)) return;
    const why = workers.length === 0 ? 'none is connected' : `${workers.length} connected, all draining`;
    view.notice(`no ${name} worker takes tasks at ${client.address} (${why}): job ${job.id} stays queued until one does`);
  } catch {
    // Only a hint; following the job goes on.
  }
}

/** Feeds the view the running tasks until stopped; best effort, errors are skipped. */
async function pollRunning(
  client: SpindleClient,
  jobId: string,
  view: JobView,
  signal: AbortSignal,
  intervalMs: number,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const tasks = await client.listResults(
        { jobId, pageSize: 50, pageToken: '', state: TaskState.TASK_STATE_RUNNING },
        { signal, timeoutMs: 5_000 },
      );
      if (!signal.aborted) view.running(tasks);
      await sleep(intervalMs, undefined, { signal });
    } catch {
      if (signal.aborted) return;
      await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
    }
  }
}

/** 0 when the job succeeded; 1 when it failed or was cancelled. */
export function exitCodeForJob(job: Job): number {
  return job.state === JobState.JOB_STATE_SUCCEEDED ? ExitCode.Ok : ExitCode.Failure;
}

/** The hint printed when the user stops following a job that keeps running. */
export function detachHint(jobId: string, lastSeq: number): string {
  return (
    `stopped following job ${jobId}; it keeps running.\n` +
    `  follow it:  spindle watch ${jobId} --after-seq ${lastSeq}\n` +
    `  cancel it:  spindle cancel ${jobId}`
  );
}

/** Following stopped because the signal was aborted; the job itself was left alone. */
export class Detached extends Error {
  constructor(
    readonly jobId: string,
    readonly lastSeq: number,
    readonly reason: unknown,
  ) {
    super(`stopped following job ${jobId}`);
    this.name = 'Detached';
  }
}
