import { WorkerInfo, WorkerKind } from '@spindle/sdk';
import { withClient } from '../api/client';
import type { CliContext, GlobalOptions } from '../context';
import { ExitCode } from '../errors';
import { formatDuration, workerKindLabel } from '../output/format';
import { writeJsonDocument } from '../output/json';
import { renderTable } from '../output/table';

/** Options of `spindle workers`. */
export interface WorkersCommandOptions {
  kind?: 'fetch' | 'stats';
}

/** The workers table. */
export function renderWorkersTable(workers: readonly WorkerInfo[], now = Date.now()): string {
  const ago = (d: Date | undefined): string => (d ? `${formatDuration(Math.max(0, now - d.getTime()))} ago` : '');
  return renderTable(
    [
      { header: 'ID' },
      { header: 'KIND' },
      { header: 'HOST' },
      { header: 'SLOTS', align: 'right' },
      { header: 'RUNNING', align: 'right' },
      { header: 'CREDITS', align: 'right' },
      { header: 'STATE' },
      { header: 'CONNECTED', align: 'right' },
      { header: 'LAST SEEN', align: 'right' },
      { header: 'VERSION' },
      { header: 'PEER' },
    ],
    workers.map((w) => [
      w.workerId,
      workerKindLabel(w.kind),
      w.hostname,
      String(w.slots),
      String(w.running),
      String(w.credits),
      w.draining ? 'draining' : 'ready',
      ago(w.connectTime),
      ago(w.lastSeenTime),
      w.version,
      w.peer,
    ]),
  );
}

/** `spindle workers`: the workers connected to the coordinator now. */
export async function runWorkers(ctx: CliContext, globals: GlobalOptions, opts: WorkersCommandOptions): Promise<number> {
  const kind =
    opts.kind === 'fetch'
      ? WorkerKind.WORKER_KIND_FETCH
      : opts.kind === 'stats'
        ? WorkerKind.WORKER_KIND_STATS
        : WorkerKind.WORKER_KIND_UNSPECIFIED;
  return withClient(globals.addr, async (client) => {
    const { workers } = await client.listWorkers(kind, { signal: ctx.signal });
    if (globals.json) writeJsonDocument(ctx.stdout, { workers: workers.map((w) => WorkerInfo.toJSON(w)) });
    else if (workers.length === 0) ctx.stderr.write('no workers connected\n');
    else ctx.stdout.write(renderWorkersTable(workers));
    return ExitCode.Ok;
  });
}
