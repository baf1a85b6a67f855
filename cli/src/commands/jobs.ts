import { Job, JobKind, JobState } from '@spindle/sdk';
import { withClient } from '../api/client';
import type { CliContext, GlobalOptions } from '../context';
import { ExitCode } from '../errors';
import type { JobKindName, JobStateName } from '../input/options';
import { formatDuration, formatTime, jobKindLabel, jobStateLabel } from '../output/format';
import { writeJsonDocument } from '../output/json';
import { jobDurationMs } from '../output/summary';
import { renderTable } from '../output/table';

/** Options of `spindle jobs`. */
export interface JobsCommandOptions {
  state?: JobStateName;
  kind?: JobKindName;
  limit: number;
}

/** The API's state for each `--state` name. */
const STATES: Readonly<Record<JobStateName, JobState>> = {
  queued: JobState.JOB_STATE_QUEUED,
  running: JobState.JOB_STATE_RUNNING,
  succeeded: JobState.JOB_STATE_SUCCEEDED,
  failed: JobState.JOB_STATE_FAILED,
  cancelled: JobState.JOB_STATE_CANCELLED,
};

/** The API's kind for each `--kind` name. */
const KINDS: Readonly<Record<JobKindName, JobKind>> = {
  fetch: JobKind.JOB_KIND_FETCH,
  stats: JobKind.JOB_KIND_STATS,
  'fetch-then-stats': JobKind.JOB_KIND_FETCH_THEN_STATS,
};

/** The jobs table: one line per job, newest first. */
export function renderJobsTable(jobs: readonly Job[], now = Date.now()): string {
  return renderTable(
    [
      { header: 'ID' },
      { header: 'KIND' },
      { header: 'STATE' },
      { header: 'TASKS', align: 'right' },
      { header: 'FAILED', align: 'right' },
      { header: 'CREATED' },
      { header: 'DURATION', align: 'right' },
      { header: 'NAME', maxWidth: 40 },
    ],
    jobs.map((j) => {
      const p = j.progress;
      const done = p ? p.tasksSucceeded + p.tasksFailed + p.tasksCancelled : 0;
      const start = j.startTime ?? j.createTime;
      const ms = jobDurationMs(j) ?? (start ? now - start.getTime() : undefined);
      return [
        j.id,
        jobKindLabel(j.kind),
        jobStateLabel(j.state),
        p ? `${done}/${p.tasksTotal}` : '',
        p ? String(p.tasksFailed) : '',
        formatTime(j.createTime),
        ms === undefined ? '' : formatDuration(ms),
        j.name,
      ];
    }),
  );
}

/** `spindle jobs`: lists jobs, newest first. */
export async function runJobs(ctx: CliContext, globals: GlobalOptions, opts: JobsCommandOptions): Promise<number> {
  return withClient(globals.addr, async (client) => {
    const jobs: Job[] = [];
    let pageToken = '';
    do {
      const page = await client.listJobs(
        {
          pageSize: Math.min(1000, opts.limit - jobs.length),
          pageToken,
          state: opts.state === undefined ? JobState.JOB_STATE_UNSPECIFIED : STATES[opts.state],
          kind: opts.kind === undefined ? JobKind.JOB_KIND_UNSPECIFIED : KINDS[opts.kind],
        },
        { signal: ctx.signal },
      );
      jobs.push(...page.jobs.slice(0, opts.limit - jobs.length));
      pageToken = page.nextPageToken;
    } while (pageToken !== '' && jobs.length < opts.limit);

    if (globals.json) writeJsonDocument(ctx.stdout, { jobs: jobs.map((j) => Job.toJSON(j)) });
    else if (jobs.length === 0) ctx.stderr.write('no jobs\n');
    else ctx.stdout.write(renderJobsTable(jobs));
    return ExitCode.Ok;
  });
}
