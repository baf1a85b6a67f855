import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import {
  Job,
  JobServiceService,
  JobState,
  JobView as ApiJobView,
  type CancelJobRequest,
  type CancelJobResponse,
  type GetJobRequest,
  type GetJobResponse,
  type JobServiceServer,
  type SubmitJobRequest,
  type SubmitJobResponse,
  type WatchJobRequest,
  type WatchJobResponse,
} from '@spindle/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { followJob } from '../jobs/follow';
import type { JobView } from '../output/progress';
import { SpindleClient } from './client';

function unimplemented(_call: unknown, callback?: sendUnaryData<never>): void {
  callback?.({ code: status.UNIMPLEMENTED, details: 'not in this fake' });
}

/** A JobService with only what a test overrides; everything else is UNIMPLEMENTED. */
async function fakeCoordinator(impl: Partial<JobServiceServer>): Promise<{ address: string; stop: () => void }> {
  const server = new Server();
  const base = Object.fromEntries(Object.keys(JobServiceService).map((k) => [k, unimplemented]));
  server.addService(JobServiceService, { ...base, ...impl } as JobServiceServer);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { address: `127.0.0.1:${port}`, stop: () => server.forceShutdown() };
}

const recordingView = (): JobView & { seqs: number[]; notices: string[] } => {
  const seqs: number[] = [];
  const notices: string[] = [];
  return {
    seqs,
    notices,
    wantsRunningTasks: false,
    begin: () => undefined,
    event: (e) => void seqs.push(e.seq),
    running: () => undefined,
    notice: (m) => void notices.push(m),
    end: () => undefined,
  };
};

describe('SpindleClient against a fake coordinator', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const f of cleanup.splice(0)) f();
  });

  it('retries a submit whose answer was lost, with the same request id', async () => {
    const seen: string[] = [];
    const fake = await fakeCoordinator({
      submitJob: (call: ServerUnaryCall<SubmitJobRequest, SubmitJobResponse>, callback: sendUnaryData<SubmitJobResponse>) => {
        seen.push(call.request.requestId);
        if (seen.length === 1) callback({ code: status.UNAVAILABLE, details: 'Connection dropped' });
        else callback(null, { job: Job.fromPartial({ id: 'job-1' }), created: false });
      },
    });
    cleanup.push(fake.stop);
    const client = new SpindleClient(fake.address);
    cleanup.push(() => client.close());
    const res = await client.submitJob('req-42', { name: 'x', kind: undefined, retry: undefined });
    expect(res.job?.id).toBe('job-1');
    expect(seen).toEqual(['req-42', 'req-42']);
  });

  it('asks for JobView BASIC (no spec) in SubmitJob, GetJob and CancelJob when the spec is not wanted', async () => {
    const job = Job.fromPartial({
      id: 'job-1',
      name: 'fetch 2 URLs',
      state: JobState.JOB_STATE_RUNNING,
      spec: { name: 'fetch 2 URLs', kind: { $case: 'fetch', value: { items: [{ url: 'http://a.test/1' }, { url: 'http://a.test/2' }] } } },
      progress: { tasksTotal: 2, tasksSucceeded: 1 },
      createTime: new Date('2026-01-02T03:04:05.678Z'),
      lastSeq: 7,
    });
    const views: Array<ApiJobView | undefined> = [];
    // Answers as the coordinator does: the spec unless the view is BASIC.
    const answer = (view: ApiJobView | undefined): Job => {
      views.push(view);
      return view === ApiJobView.JOB_VIEW_BASIC ? { ...job, spec: undefined } : job;
    };
    const fake = await fakeCoordinator({
      submitJob: (call: ServerUnaryCall<SubmitJobRequest, SubmitJobResponse>, callback: sendUnaryData<SubmitJobResponse>) =>
        callback(null, { job: answer(call.request.view), created: true }),
      getJob: (call: ServerUnaryCall<GetJobRequest, GetJobResponse>, callback: sendUnaryData<GetJobResponse>) =>
        callback(null, { job: answer(call.request.view) }),
      cancelJob: (call: ServerUnaryCall<CancelJobRequest, CancelJobResponse>, callback: sendUnaryData<CancelJobResponse>) =>
        callback(null, { job: answer(call.request.view) }),
    });
    cleanup.push(fake.stop);
    const client = new SpindleClient(fake.address);
    cleanup.push(() => client.close());
    const withoutSpec = { ...job, spec: undefined };
    expect(await client.submitJob('r', job.spec!, { withSpec: false })).toEqual({ job: withoutSpec, created: true });
    expect(await client.getJob('job-1', { withSpec: false })).toEqual({ job: withoutSpec });
    expect(await client.submitJob('r', job.spec!)).toEqual({ job, created: true });
    expect(await client.getJob('job-1')).toEqual({ job });
    expect(await client.cancelJob('job-1', { withSpec: false })).toEqual({ job: withoutSpec });
    expect(await client.cancelJob('job-1')).toEqual({ job });
    expect(views).toEqual([
      ApiJobView.JOB_VIEW_BASIC,
      ApiJobView.JOB_VIEW_BASIC,
      ApiJobView.JOB_VIEW_FULL,
      ApiJobView.JOB_VIEW_FULL,
      ApiJobView.JOB_VIEW_BASIC,
      ApiJobView.JOB_VIEW_FULL,
    ]);
  });

  it('maps errors: NOT_FOUND exits 1 with the status name', async () => {
    const fake = await fakeCoordinator({
      getJob: (_call: unknown, callback: sendUnaryData<never>) =>
        callback({ code: status.NOT_FOUND, details: 'job x not found' }),
    });
    cleanup.push(fake.stop);
    const client = new SpindleClient(fake.address);
    cleanup.push(() => client.close());
    await expect(client.getJob('x')).rejects.toMatchObject({ exitCode: 1, message: 'NOT_FOUND: job x not found' });
  });

  it('followJob re-attaches after the last seq when the stream breaks', async () => {
    const afterSeqs: number[] = [];
    const event = (seq: number) => ({ event: { seq, jobId: 'j', time: new Date(), event: undefined } });
    const fake = await fakeCoordinator({
      watchJob: (call: ServerWritableStream<WatchJobRequest, WatchJobResponse>) => {
        afterSeqs.push(call.request.afterSeq);
        if (afterSeqs.length === 1) {
          call.write(event(1));
          call.write(event(2));
          // Let the two events reach the client before the stream breaks.
          // grpc-js ends a server stream with an error status through its 'error' event.
          setTimeout(() => call.emit('error', { code: status.UNAVAILABLE, details: 'gone' }), 50);
        } else {
          call.write(event(3));
          call.end();
        }
      },
      getJob: (_call: unknown, callback: sendUnaryData<{ job: Job }>) =>
        callback(null, { job: Job.fromPartial({ id: 'j', state: JobState.JOB_STATE_SUCCEEDED }) }),
    });
    cleanup.push(fake.stop);
    const client = new SpindleClient(fake.address);
    cleanup.push(() => client.close());
    const view = recordingView();
    const result = await followJob(client, Job.fromPartial({ id: 'j' }), {
      signal: new AbortController().signal,
      view,
      reattachTimeoutMs: 10_000,
    });
    expect(result.job.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(result.lastSeq).toBe(3);
    expect(afterSeqs).toEqual([0, 2]);
    expect(view.seqs).toEqual([1, 2, 3]);
    expect(view.notices[0]).toMatch(/re-attaching after event 2/);
  });

  it('followJob gives up on an unreachable coordinator with exit 3, saying the job keeps running', async () => {
    const fake = await fakeCoordinator({
      watchJob: (call: ServerWritableStream<WatchJobRequest, WatchJobResponse>) => {
        if (call.request.afterSeq === 0) call.write({ event: { seq: 4, jobId: 'j', time: new Date(), event: undefined } });
        const details = 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ';
        setTimeout(() => call.emit('error', { code: status.UNAVAILABLE, details }), 20);
      },
    });
    cleanup.push(fake.stop);
    const client = new SpindleClient(fake.address);
    cleanup.push(() => client.close());
    const view = recordingView();
    const following = followJob(client, Job.fromPartial({ id: 'j' }), {
      signal: new AbortController().signal,
      view,
      reattachTimeoutMs: 300,
    });
    const err = await following.catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: 3 });
    const message = (err as Error).message;
    expect(message).toMatch(/^cannot reach coordinator at 127\.0\.0\.1:\d+: No connection established\. Last error: connect ECONNREFUSED 127\.0\.0\.1:1\.\n/);
    expect(message).toContain('stopped following job j; it keeps running.');
    expect(message).toContain('spindle watch j --after-seq 4');
    expect(message).toContain('spindle cancel j');
    expect(message).not.toContain('Resolution note');
    expect(view.notices.join('\n')).not.toContain('Resolution note');
  });
});
