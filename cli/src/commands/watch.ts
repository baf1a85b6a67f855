import { Option, type Command } from 'commander';
import { TaskState } from '@spindle/sdk';
import { withClient } from '../api/client';
import type { Runner } from '../cli';
import type { CliContext, GlobalOptions } from '../context';
import { ExitCode } from '../errors';
import { Detached, detachHint, exitCodeForJob, followJob } from '../jobs/follow';
import { isTerminal } from '../output/format';
import { jobLine, writeJsonLine } from '../output/json';
import { createJobView } from '../output/progress';
import { describeFailures, summarizeJob } from '../output/summary';
import { intInRange } from '../input/options';

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
    const { job } = await client.getJob(jobId, { signal: ctx.signal });
    if (!job) throw new Error('GetJob answered without a job');
    const view = createJobView(ctx, globals);
    view.begin(job);
    let finalJob = job;
    try {
      ({ job: finalJob } = await followJob(client, job, { signal: ctx.signal, view, afterSeq: opts.afterSeq }));
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

export function registerWatch(program: Command, ctx: CliContext, run: Runner): void {
  program
    .command('watch')
    .description("follow a job's progress until it ends (resumable with --after-seq)")
    .argument('<job-id>', 'the job')
    .addOption(
      new Option('--after-seq <n>', 'only events after this sequence number (0 = replay all)')
        .argParser(intInRange(0, Number.MAX_SAFE_INTEGER))
        .default(0),
    )
    .action(async (jobId: string, _opts: unknown, command: Command) =>
      run(command, (globals) => runWatch(ctx, globals, jobId, command.opts<WatchCommandOptions>())),
    );
}
