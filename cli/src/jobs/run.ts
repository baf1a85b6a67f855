import { randomUUID } from 'node:crypto';
import { TaskState, type Job, type JobSpec, type Task } from '@spindle/sdk';
import type { SpindleClient } from '../api/client';
import type { CliContext } from '../context';
import { ExitCode, errorMessage } from '../errors';
import { writeJsonDocument, jobLine, writeJsonLine } from '../output/json';
import { createJobView } from '../output/progress';
import { Detached, detachHint, exitCodeForJob, followJob } from './follow';

/** Options of {@link submitAndFollow}. */
export interface SubmitOptions {
  /** Idempotency key; a fresh UUID when not given, so that the automatic retry cannot double-run. */
  requestId?: string | undefined;
  /** Print the job id and return without waiting. */
  detach: boolean;
  json: boolean;
  progress: boolean;
  /** No line per item while the job runs (see QuietView). @default false */
  quiet?: boolean;
  /** Print how to re-attach when interrupted; off when the job dies with the command (demo). @default true */
  detachHint?: boolean;
  /**
   * Which tasks to list once the job ended: all of them, or only the failed ones
   * (enough for a summary from the job's counters; 10,000 downloads then cost
   * no listing). @default 'all'
   */
  results?: 'all' | 'failed';
}

/** How a submitted job ended for this command. */
export type RunOutcome =
  | { kind: 'detached'; job: Job; exitCode: number }
  | { kind: 'interrupted'; job: Job; exitCode: number }
  | { kind: 'finished'; job: Job; tasks: Task[]; exitCode: number };

/**
 * Submits `spec` and, unless detached, follows the job to its end with progress
 * output, then fetches every task's outcome. Ctrl-C stops following (exit 130)
 * and leaves the job running, with a hint on how to re-attach or cancel.
 */
export async function submitAndFollow(
  ctx: CliContext,
  client: SpindleClient,
  spec: JobSpec,
  opts: SubmitOptions,
): Promise<RunOutcome> {
  const requestId = opts.requestId ?? randomUUID();
  // Only JSON output shows the job's spec: the others skip decoding it, twice (here and
  // when the job ends), 4-10 ms each for 5,000 URLs.
  const withSpec = opts.json;
  const answer = await submitOnce(ctx, client, requestId, spec, withSpec, opts.detachHint !== false);
  if (answer.kind === 'interrupted') return { kind: 'interrupted', job: answer.job, exitCode: ExitCode.Interrupted };
  const { job, created } = answer;
  if (!created) ctx.stderr.write(`request id ${requestId} was used before: this is job ${job.id}\n`);

  if (opts.detach) {
    if (opts.json) writeJsonDocument(ctx.stdout, jobLine(job));
    else ctx.stdout.write(job.id + '\n');
    return { kind: 'detached', job, exitCode: ExitCode.Ok };
  }

  const view = createJobView(ctx, opts);
  view.begin(job);
  let finalJob: Job;
  try {
    ({ job: finalJob } = await followJob(client, job, { signal: ctx.signal, view, withSpec }));
  } catch (err) {
    view.end();
    if (err instanceof Detached) {
      if (opts.detachHint !== false) ctx.stderr.write(detachHint(err.jobId, err.lastSeq) + '\n');
      return { kind: 'interrupted', job, exitCode: ExitCode.Interrupted };
    }
    throw err;
  }
  view.end();
  if (opts.json) writeJsonLine(ctx.stdout, jobLine(finalJob));
  let tasks: Task[] = [];
  // Only the failed tasks wanted, and the ended job counts none: nothing to ask for.
  if (opts.results !== 'failed' || finalJob.progress?.tasksFailed !== 0) {
    const wanted = opts.results === 'failed' ? TaskState.TASK_STATE_FAILED : TaskState.TASK_STATE_UNSPECIFIED;
    tasks = await client.listAllResults(finalJob.id, wanted, { signal: ctx.signal });
  }
  return { kind: 'finished', job: finalJob, tasks, exitCode: exitCodeForJob(finalJob) };
}

type SubmitAnswer = { kind: 'submitted'; job: Job; created: boolean } | { kind: 'interrupted'; job: Job };

/**
 * SubmitJob, which a first Ctrl-C does not abandon once it is sent: the coordinator may
 * already have created the job, and cancelling the call would leave it running with no
 * id shown. The call is bounded by its own deadline; then the job id (or, without an
 * answer, the request id) is printed with how to follow or cancel the job. A second
 * Ctrl-C exits at once (main.ts); the exit hook still names the request id then.
 */
async function submitOnce(
  ctx: CliContext,
  client: SpindleClient,
  requestId: string,
  spec: JobSpec,
  withSpec: boolean,
  hints: boolean,
): Promise<SubmitAnswer> {
  if (ctx.signal.aborted) throw ctx.signal.reason;
  const onAbort = (): void => {
    if (hints) ctx.stderr.write('interrupted: waiting for the coordinator to confirm the job (Ctrl-C again to exit now)\n');
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const removeExitHook = ctx.onExit(() => {
    if (!hints || !ctx.signal.aborted) return;
    ctx.stderr.write(unconfirmedHint(requestId) + '\n');
    ctx.stderr.flush?.();
  });
  let job: Job | undefined;
  let created = false;
  try {
    ({ job, created } = await client.submitJob(requestId, spec, { withSpec }));
  } catch (err) {
    if (!ctx.signal.aborted) throw err;
    if (hints) ctx.stderr.write(`SubmitJob failed: ${errorMessage(err)}\n${unconfirmedHint(requestId)}\n`);
    throw ctx.signal.reason;
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    removeExitHook();
  }
  if (!job) throw new Error('SubmitJob answered without a job');
  if (!ctx.signal.aborted) return { kind: 'submitted', job, created };
  if (hints) ctx.stderr.write(detachHint(job.id, 0) + '\n');
  return { kind: 'interrupted', job };
}

/** What to do about a job whose submission was interrupted before the coordinator answered. */
function unconfirmedHint(requestId: string): string {
  return (
    `the job may have been created with request id ${requestId}; it would keep running.\n` +
    `  find it:    spindle jobs --json   (its "requestId" is ${requestId})\n` +
    `  cancel it:  spindle cancel <job id>\n` +
    `  re-running with --request-id ${requestId} returns that job instead of submitting another`
  );
}
