import {
  status,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { getErrorMessage, invalidArgument, isSpindleError, toServiceError, type Logger } from '@spindle/runtime';
import {
  ExportFormat,
  JobView,
  type CancelJobRequest,
  type GetJobRequest,
  type JobEvent,
  type ListJobsRequest,
  type ListResultsRequest,
  type ListWorkersRequest,
  type SubmitJobRequest,
  type ExportResultsRequest,
  type ExportResultsResponse,
  type JobServiceServer,
  type RunJobRequest,
  type RunJobResponse,
  type WatchJobRequest,
  type WatchJobResponse,
} from '@spindle/sdk';
import type { JobManager } from '../jobs/job-manager';
import { exportResults } from '../results/export';

/** Whether an answer of `view` carries the job's spec; INVALID_ARGUMENT for an unknown view. */
function includesSpec(view: JobView | undefined): boolean {
  switch (view) {
    case undefined:
    case JobView.JOB_VIEW_UNSPECIFIED:
    case JobView.JOB_VIEW_FULL:
      return true;
    case JobView.JOB_VIEW_BASIC:
      return false;
    default:
      throw invalidArgument('view', `unknown JobView ${String(view)}`);
  }
}

/**
 * The JobService protocol adapter: request validation lives in JobManager (which
 * throws SpindleErrors naming the field); this file maps calls and errors only.
 */
export function createJobService(jobs: JobManager, logger: Logger): JobServiceServer {
  const fail = (method: string, err: unknown) => {
    if (!isSpindleError(err)) logger.error({ err, method }, 'unexpected error in JobService');
    return toServiceError(err);
  };
  function unary<Req, Res>(method: string, fn: (req: Req) => Res) {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      try {
        callback(null, fn(call.request));
      } catch (err) {
        callback(fail(method, err));
      }
    };
  }
  /** Ends a server stream with the error's status (if it is still open). */
  const endWithError = <T>(call: ServerWritableStream<unknown, T>, method: string, err: unknown) => {
    if (!call.cancelled && !call.writableEnded) call.emit('error', fail(method, err));
  };
  /** An AbortSignal for the call: client cancel, or coordinator shutdown. */
  const callSignal = (call: ServerWritableStream<unknown, unknown>) => {
    const ac = new AbortController();
    call.on('cancelled', () => ac.abort());
    const off = jobs.onShutdown(() => ac.abort());
    ac.signal.addEventListener('abort', off);
    call.on('finish', off);
    return ac.signal;
  };
  const watchInto = async <T>(
    call: ServerWritableStream<unknown, T>,
    jobId: string,
    afterSeq: number,
    wrap: (e: JobEvent) => T | undefined,
    signal: AbortSignal,
  ) => {
    await jobs.watch(
      jobId,
      afterSeq,
      (e) => {
        const message = wrap(e);
        // false: the call's buffer is full (the client reads slower than the replay).
        return message === undefined || call.write(message);
      },
      signal,
      () => new Promise<void>((resolve) => call.once('drain', () => resolve())),
    );
    if (call.cancelled) return;
    if (signal.aborted) {
      call.emit('error', { code: status.UNAVAILABLE, details: 'coordinator shutting down; re-attach with WatchJob' });
      return;
    }
    call.end();
  };

  return {
    submitJob: unary('SubmitJob', (req: SubmitJobRequest) =>
      jobs.submit(req.requestId, req.spec, includesSpec(req.view)),
    ),
    runJob(call: ServerWritableStream<RunJobRequest, RunJobResponse>) {
      const signal = callSignal(call);
      try {
        const { job } = jobs.submit(call.request.requestId, call.request.spec, includesSpec(call.request.view));
        call.write({ message: { $case: 'job', value: job } });
        watchInto(call, job.id, 0, (e): RunJobResponse => ({ message: { $case: 'event', value: e } }), signal).catch((err) =>
          endWithError(call, 'RunJob', err),
        );
      } catch (err) {
        endWithError(call, 'RunJob', err);
      }
    },
    watchJob(call: ServerWritableStream<WatchJobRequest, WatchJobResponse>) {
      const signal = callSignal(call);
      const skipTasks = call.request.skipTaskEvents;
      const wrap = (e: JobEvent): WatchJobResponse | undefined =>
        skipTasks && (e.event?.$case === 'taskFinished' || e.event?.$case === 'taskRetrying') ? undefined : { event: e };
      watchInto(call, call.request.jobId, call.request.afterSeq, wrap, signal).catch((err) =>
        endWithError(call, 'WatchJob', err),
      );
    },
    getJob: unary('GetJob', (req: GetJobRequest) => ({ job: jobs.getJob(req.jobId, includesSpec(req.view)) })),
    listJobs: unary('ListJobs', (req: ListJobsRequest) => jobs.listJobs(req)),
    cancelJob: unary('CancelJob', (req: CancelJobRequest) => ({ job: jobs.cancel(req.jobId, includesSpec(req.view)) })),
    listResults: unary('ListResults', (req: ListResultsRequest) => jobs.listResults(req)),
    exportResults(call: ServerWritableStream<ExportResultsRequest, ExportResultsResponse>) {
      exportResults(jobs, call.request.jobId, call.request.format || ExportFormat.EXPORT_FORMAT_CSV, call.request.table)
        .then(({ contentType, body }) => {
          const CHUNK = 1 << 20;
          for (let off = 0; off < body.length || off === 0; off += CHUNK) {
            call.write({ chunk: body.subarray(off, off + CHUNK), contentType: off === 0 ? contentType : '' });
            if (body.length === 0) break;
          }
          call.end();
        })
        .catch((err: unknown) => {
          logger.debug({ err: getErrorMessage(err) }, 'export failed');
          endWithError(call, 'ExportResults', err);
        });
    },
    listWorkers: unary('ListWorkers', (req: ListWorkersRequest) => ({
      workers: jobs.listWorkers(req.kind),
    })),
  };
}
