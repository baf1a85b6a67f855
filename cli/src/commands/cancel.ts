import { Job } from '@spindle/sdk';
import { withClient } from '../api/client';
import type { CliContext, GlobalOptions } from '../context';
import { ExitCode } from '../errors';
import { jobStateLabel } from '../output/format';
import { writeJsonDocument } from '../output/json';

/** `spindle cancel <id>`: cancels a job; FAILED_PRECONDITION (exit 1) when it already finished. */
export async function runCancel(ctx: CliContext, globals: GlobalOptions, jobId: string): Promise<number> {
  return withClient(globals.addr, async (client) => {
    // The spec echoes every item; only JSON output shows it.
    const { job } = await client.cancelJob(jobId, { signal: ctx.signal, withSpec: globals.json });
    if (globals.json) writeJsonDocument(ctx.stdout, { job: job ? Job.toJSON(job) : null });
    else ctx.stdout.write(`job ${jobId} ${job ? jobStateLabel(job.state) : 'cancelled'}\n`);
    return ExitCode.Ok;
  });
}
