import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestCoordinator } from '../../../test/helpers/coordinator';
import { SpindleClient } from '../api/client';
import { runCli } from '../cli';
import type { CliContext } from '../context';
import { Interrupted } from '../errors';

/** A context whose signal the test aborts, as main.ts does on the first Ctrl-C. */
function context(controller: AbortController) {
  const out: string[] = [];
  const err: string[] = [];
  const exitHooks = new Set<() => void>();
  const ctx: CliContext = {
    stdout: { write: (s: string) => (out.push(s), true) },
    stderr: { write: (s: string) => (err.push(s), true) },
    stdin: Readable.from([]),
    env: {},
    cwd: '/',
    signal: controller.signal,
    onExit: (hook) => (exitHooks.add(hook), () => void exitHooks.delete(hook)),
  };
  return { ctx, stdout: () => out.join(''), stderr: () => err.join(''), exitHooks };
}

/** Aborts `controller` right after SubmitJob was handed to grpc-js (the request is on its way). */
function abortAfterSubmitIsSent(controller: AbortController): void {
  const original = SpindleClient.prototype.submitJob;
  vi.spyOn(SpindleClient.prototype, 'submitJob').mockImplementation(function (this: SpindleClient, ...args) {
    const answer = original.apply(this, args);
    controller.abort(new Interrupted('SIGINT'));
    return answer;
  });
}

describe('Ctrl-C while SubmitJob is in flight', () => {
  let coord: Awaited<ReturnType<typeof startTestCoordinator>>;
  beforeAll(async () => {
    coord = await startTestCoordinator();
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await coord.stop();
  });

  it('waits for the answer, names the job and exits 130; the job exists', async () => {
    const controller = new AbortController();
    const c = context(controller);
    abortAfterSubmitIsSent(controller);
    const code = await runCli(
      ['fetch', '--addr', coord.address, '--no-progress', '--request-id', 'e1-sent', 'http://unused.test/a'],
      c.ctx,
    );
    vi.restoreAllMocks();
    expect(code).toBe(130);
    const jobId = /stopped following job (\S+); it keeps running/.exec(c.stderr())?.[1];
    expect(jobId, c.stderr()).toBeDefined();
    expect(c.stderr()).toContain(`spindle cancel ${jobId}`);
    expect(c.stderr()).toContain(`spindle watch ${jobId}`);
    expect(c.exitHooks.size).toBe(0);
    const client = new SpindleClient(coord.address);
    try {
      const { job } = await client.getJob(jobId!);
      expect(job?.requestId).toBe('e1-sent');
    } finally {
      client.close();
    }
  });

  it('without an answer, names the request id it used and how to find the job', async () => {
    const controller = new AbortController();
    const c = context(controller);
    abortAfterSubmitIsSent(controller);
    // Port 1: nothing listens, so SubmitJob fails after the interrupt.
    const code = await runCli(['fetch', '--addr', '127.0.0.1:1', 'http://unused.test/a'], c.ctx);
    vi.restoreAllMocks();
    expect(code).toBe(130);
    const requestId = /request id (\S+);/.exec(c.stderr())?.[1];
    expect(requestId, c.stderr()).toMatch(/^[0-9a-f-]{36}$/);
    expect(c.stderr()).toContain('spindle jobs --json');
    expect(c.stderr()).toContain(`--request-id ${requestId}`);
    expect(c.stderr()).toMatch(/interrupted by SIGINT\n$/);
  });
});
