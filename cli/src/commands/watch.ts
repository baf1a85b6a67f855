import { TaskState } from '@spindle/sdk';
import { withClient } from '../api/client';
import type { CliContext, GlobalOptions } from '../context';
import { ExitCode } from '../errors';
import { Detached, detachHint, exitCodeForJob, followJob } from '../jobs/follow';
import { isTerminal } from '../output/format';
import { jobLine, writeJsonLine } from '../output/json';
import { createJobView } from '../output/progress';
import { describeFailures, summarizeJob } from '../output/summary';

/** Options of `spindle watch`. */
export interface WatchCommandOptions {
  afterSeq: number;
}

/** `spindle watch <id>`: follows a job's events until it ends; exit code as if it had been submitted here. */
export async function runWatch(
  ctx: CliContext,
  globals: GlobalOptions,
  jobId: string,
  opts: WatchCommandOptions,
): Promise<number> {
  return withClient(globals.addr, async (client) => {
    // Only JSON output shows the job's spec.
    const withSpec = globals.json;
    const { job } = await client.getJob(jobId, { signal: ctx.signal, withSpec });
    if (!job) throw new Error('GetJob answered without a job');
    const view = createJobView(ctx, globals);
    view.begin(job);
    let finalJob = job;
    try {
      ({ job: finalJob } = await followJob(client, job, { signal: ctx.signal, view, afterSeq: opts.afterSeq, withSpec }));
    } catch (err) {
      view.end();
      if (err instanceof Detached) {
        ctx.stderr.write(detachHint(err.jobId, err.lastSeq) + '\n');
        return ExitCode.Interrupted;
      }
      throw err;
    }
    view.end();
    if (globals.json) {
      writeJsonLine(ctx.stdout, jobLine(finalJob));
    } else if (isTerminal(finalJob.state)) {
      const tasks = await client.listAllResults(finalJob.id, TaskState.TASK_STATE_UNSPECIFIED, { signal: ctx.signal });
      const failures = describeFailures(tasks);
      if (failures.length > 0) ctx.stderr.write(`failed:\n${failures.join('\n')}\n`);
      ctx.stdout.write(summarizeJob(finalJob, tasks) + '\n');
    }
    return exitCodeForJob(finalJob);
  });
}
