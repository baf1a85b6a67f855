import type { Command } from 'commander';
import { Job } from '@spindle/sdk';
import { withClient } from '../api/client';
import type { Runner } from '../cli';
import type { CliContext, GlobalOptions } from '../context';
import { ExitCode } from '../errors';
import { jobStateLabel } from '../output/format';
import { writeJsonDocument } from '../output/json';

/** `spindle cancel <id>`: cancels a job; FAILED_PRECONDITION (exit 1) when it already finished. */
export async function runCancel(ctx: CliContext, globals: GlobalOptions, jobId: string): Promise<number> {
  return withClient(globals.addr, async (client) => {
    const { job } = await client.cancelJob(jobId, { signal: ctx.signal });
    if (globals.json) writeJsonDocument(ctx.stdout, { job: job ? Job.toJSON(job) : null });
    else ctx.stdout.write(`job ${jobId} ${job ? jobStateLabel(job.state) : 'cancelled'}\n`);
    return ExitCode.Ok;
  });
}

export function registerCancel(program: Command, ctx: CliContext, run: Runner): void {
  program
    .command('cancel')
    .description('cancel a job: pending items are dropped, running ones are stopped')
    .argument('<job-id>', 'the job')
    .action(async (jobId: string, _opts: unknown, command: Command) =>
      run(command, (globals) => runCancel(ctx, globals, jobId)),
    );
}
