import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { JobState, type Job, type JobSpec } from '@spindle/sdk';
import type { RunningWorker } from '@spindle/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCoordinator } from '../../../test/helpers/coordinator';
import { startFetchWorker } from '../../../test/helpers/fetch-worker';
import { waitFor } from '../../../test/helpers/grpc';
import { makeTempDir } from '../../../test/helpers/temp-dir';
import { SpindleClient } from '../api/client';
import type { JobView } from '../output/progress';
import { Detached, followJob } from './follow';

const recordingView = (): JobView & { notices: string[] } => {
  const notices: string[] = [];
  return {
    notices,
    wantsRunningTasks: false,
    wantsTaskEvents: false,
    begin: () => undefined,
    event: () => undefined,
    running: () => undefined,
    notice: (m) => void notices.push(m),
    end: () => undefined,
  };
};

const fetchSpec = (url: string): JobSpec => ({
  name: 'queued',
  retry: undefined,
  kind: { $case: 'fetch', value: { items: [{ url, fileName: '', sha256: '', expectedSize: 0 }], outputDir: '', options: undefined } },
});

describe('followJob on a job that stays queued', () => {
  let coord: Awaited<ReturnType<typeof startTestCoordinator>>;
  let client: SpindleClient;
  beforeAll(async () => {
    coord = await startTestCoordinator();
    client = new SpindleClient(coord.address);
  });
  afterAll(async () => {
    client?.close();
    await coord?.stop();
  });

  it('says that no fetch worker takes tasks at the coordinator, once, and keeps following', async () => {
    const { job } = await client.submitJob('', fetchSpec('http://127.0.0.1:9/never-fetched'));
    const view = recordingView();
    const controller = new AbortController();
    const following = followJob(client, job!, { signal: controller.signal, view, queuedNoticeMs: 50, withSpec: false });
    await waitFor(() => view.notices.length > 0, 5_000, 'notice');
    expect(view.notices).toEqual([
      `no fetch worker takes tasks at ${coord.address} (none is connected): job ${job!.id} stays queued until one does`,
    ]);
    controller.abort(new Error('test done'));
    await expect(following).rejects.toBeInstanceOf(Detached);
    // The job is still queued, untouched by the check.
    const { job: after } = await client.getJob(job!.id, { withSpec: false });
    expect(after?.state).toBe(JobState.JOB_STATE_QUEUED);
  });

  it('says nothing when a fetch worker is connected, however early it checks', async () => {
    const server = http.createServer((_req, res) => res.end('body'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const dataRoot = makeTempDir('spindle-follow-');
    let worker: RunningWorker | undefined;
    try {
      worker = await startFetchWorker(coord.address, dataRoot);
      const { port } = server.address() as AddressInfo;
      const { job } = await client.submitJob('', fetchSpec(`http://127.0.0.1:${port}/file.txt`));
      const view = recordingView();
      const result = await followJob(client, job as Job, {
        signal: new AbortController().signal,
        view,
        queuedNoticeMs: 0,
        withSpec: false,
      });
      expect(result.job.state).toBe(JobState.JOB_STATE_SUCCEEDED);
      expect(view.notices).toEqual([]);
    } finally {
      await worker?.stop();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
