import {
  Metadata,
  status,
  connectivityState,
  type CallOptions,
  type ClientReadableStream,
  type ClientUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  JobServiceService,
  JobView,
  SubmitJobResponse,
  createJobServiceClient,
  type ExportFormat,
  type ResultsTable,
  type CancelJobResponse,
  type GetJobResponse,
  type JobEvent,
  type JobServiceClient,
  type JobSpec,
  type JobState,
  type ListJobsResponse,
  type ListResultsRequest,
  type ListWorkersResponse,
  type Task,
  type TaskState,
  type WorkerKind,
} from '@spindle/sdk';
import { CliError } from '../errors';
import { fromServiceError, isServiceError } from './errors';
import { encodeSubmitJobRequest } from './wire';

/** Per-call options. */
export interface CallOpts {
  /** Aborting cancels the call; the promise rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Deadline of a unary call, in ms. @default 15000 */
  timeoutMs?: number | undefined;
  /** Wait for the channel to connect instead of failing fast. @default false */
  waitForReady?: boolean | undefined;
}

/** Options of the calls that return a job. */
export interface JobCallOpts extends CallOpts {
  /**
   * Ask for the job's spec too. The spec echoes the whole submitted job (every URL:
   * ~220 KB for 5,000) and only JSON output shows it; without it the coordinator
   * answers with JobView BASIC and `spec` is undefined.
   * @default true
   */
  withSpec?: boolean | undefined;
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

const DEFAULT_TIMEOUT_MS = 15_000;

/** The JobView that {@link JobCallOpts.withSpec} asks for. */
function viewOf(opts: JobCallOpts): JobView {
  return opts.withSpec === false ? JobView.JOB_VIEW_BASIC : JobView.JOB_VIEW_FULL;
}

/**
 * The JobService calls the CLI makes, as promises and async iterables, with
 * cancellation by AbortSignal and gRPC errors already turned into {@link CliError}s
 * (UNAVAILABLE → "cannot reach coordinator at ADDR", exit 3).
 */
export class SpindleClient {
  readonly raw: JobServiceClient;
  /** Set once any call succeeded: a later timeout is then not "unreachable". */
  private reachedOnce = false;

  constructor(readonly address: string) {
    this.raw = createJobServiceClient(address);
  }

  close(): void {
    this.raw.close();
  }

  /** Maps a grpc-js error to the CLI's error, deciding whether the coordinator was ever reached. */
  toCliError(err: ServiceError): CliError {
    const state = this.raw.getChannel().getConnectivityState(false);
    const neverConnected = !this.reachedOnce && state !== connectivityState.READY;
    return fromServiceError(err, this.address, neverConnected);
  }

  private unary<Req, Res>(
    method: UnaryMethod<Req, Res>,
    request: Req,
    opts: CallOpts = {},
    onServiceError?: (err: ServiceError) => void,
  ): Promise<Res> {
    const { signal } = opts;
    return new Promise<Res>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const options: Partial<CallOptions> = {
        deadline: Date.now() + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS),
      };
      const metadata = new Metadata();
      if (opts.waitForReady) metadata.setOptions({ waitForReady: true });
      const onAbort = (): void => call.cancel();
      const call = method.call(this.raw, request, metadata, options, (err, response) => {
        signal?.removeEventListener('abort', onAbort);
        if (err) {
          onServiceError?.(err);
          reject(signal?.aborted ? signal.reason : this.toCliError(err));
          return;
        }
        this.reachedOnce = true;
        resolve(response);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * SubmitJob with an idempotency key. One automatic retry on UNAVAILABLE (the
   * answer may have been lost after the coordinator stored the job); the same
   * `requestId` makes the retry return that job instead of running it twice.
   */
  async submitJob(requestId: string, spec: JobSpec, opts: JobCallOpts = {}): Promise<SubmitJobResponse> {
    const request = { requestId, spec, view: viewOf(opts) };
    let firstError: ServiceError | undefined;
    try {
      return await this.unary(this.submitJobEncoded, request, opts, (err) => {
        firstError = err;
      });
    } catch (err) {
      // Only a connection lost after sending is worth a retry. grpc-js says "No
      // connection established" when the request never left, and a deadline while
      // connecting means the same: retrying would only delay exit code 3.
      const lostAfterSending =
        firstError?.code === status.UNAVAILABLE && !firstError.details.startsWith('No connection established');
      if (!lostAfterSending || opts.signal?.aborted) throw err;
      try {
        return await this.unary(this.submitJobEncoded, request, { ...opts, waitForReady: true, timeoutMs: 5_000 });
      } catch (retryErr) {
        // The first failure explains more than the retry's deadline.
        throw retryErr instanceof CliError && retryErr.exitCode === 3 ? err : retryErr;
      }
    }
  }

  getJob(jobId: string, opts: JobCallOpts = {}): Promise<GetJobResponse> {
    return this.unary(this.raw.getJob, { jobId, view: viewOf(opts) }, opts);
  }

  /** SubmitJob with the request encoded by encodeSubmitJobRequest (same bytes, less work for thousands of items). */
  private readonly submitJobEncoded = this.method(JobServiceService.submitJob, encodeSubmitJobRequest, (bytes) =>
    SubmitJobResponse.decode(bytes),
  );

  /** A unary JobService method with the given encoder and decoder. */
  private method<Req, Res>(
    definition: { path: string },
    serialize: (value: Req) => Buffer,
    deserialize: (bytes: Buffer) => Res,
  ): UnaryMethod<Req, Res> {
    return (request, metadata, options, callback) =>
      this.raw.makeUnaryRequest(definition.path, serialize, deserialize, request, metadata, options, (err, res) =>
        // grpc-js passes a response whenever there is no error, as the generated methods declare.
        callback(err, res as Res),
      );
  }

  listJobs(
    request: { pageSize: number; pageToken: string; state: JobState; kind: number },
    opts?: CallOpts,
  ): Promise<ListJobsResponse> {
    return this.unary(this.raw.listJobs, request, opts);
  }

  cancelJob(jobId: string, opts: JobCallOpts = {}): Promise<CancelJobResponse> {
    return this.unary(this.raw.cancelJob, { jobId, view: viewOf(opts) }, opts);
  }

  listWorkers(kind: WorkerKind, opts?: CallOpts): Promise<ListWorkersResponse> {
    return this.unary(this.raw.listWorkers, { kind }, opts);
  }

  /** Every task of a job (all pages), optionally only those in `state`. */
  async listAllResults(jobId: string, state: TaskState, opts?: CallOpts): Promise<Task[]> {
    const tasks: Task[] = [];
    let pageToken = '';
    do {
      const request: ListResultsRequest = { jobId, pageSize: 1000, pageToken, state };
      const page = await this.unary(this.raw.listResults, request, opts);
      tasks.push(...page.tasks);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    return tasks;
  }

  /** One page of a job's tasks. */
  listResults(request: ListResultsRequest, opts?: CallOpts): Promise<Task[]> {
    return this.unary(this.raw.listResults, request, opts).then((r) => r.tasks);
  }

  /**
   * WatchJob as an async iterable of events. Ends when the server ends the stream
   * (the job is terminal and every event was sent). Throws a {@link StreamBroken}
   * on UNAVAILABLE so that the caller can re-attach after the last seq it saw.
   */
  async *watchJob(
    jobId: string,
    afterSeq: number,
    opts: CallOpts & { skipTaskEvents?: boolean } = {},
  ): AsyncGenerator<JobEvent> {
    const call = this.raw.watchJob({ jobId, afterSeq, skipTaskEvents: opts.skipTaskEvents === true });
    for await (const message of this.stream(call, opts)) {
      if (message.event) yield message.event;
    }
  }

  /** ExportResults as an async iterable of byte chunks; `table` 0 = the per-file summary. */
  async *exportResults(jobId: string, format: ExportFormat, opts: CallOpts & { table?: ResultsTable } = {}): AsyncGenerator<Buffer> {
    const call = this.raw.exportResults({ jobId, format, table: opts.table ?? 0 });
    for await (const message of this.stream(call, opts)) {
      if (message.chunk.length > 0) yield message.chunk;
    }
  }

  /** Waits until the channel is connected, or throws after `timeoutMs`. */
  waitForReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.raw.waitForReady(Date.now() + timeoutMs, (err) => {
        if (err) reject(new CliError(`cannot reach coordinator at ${this.address}: ${err.message}`, 3));
        else resolve();
      });
    });
  }

  private async *stream<T>(call: ClientReadableStream<T>, opts: CallOpts): AsyncGenerator<T> {
    const { signal } = opts;
    const onAbort = (): void => call.cancel();
    if (signal?.aborted) {
      call.cancel();
      throw signal.reason;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // grpc-js streams are object-mode Readables, so they are async iterable.
      for await (const message of call as AsyncIterable<T>) {
        this.reachedOnce = true;
        yield message;
      }
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (isServiceError(err)) {
        if (err.code === status.UNAVAILABLE && this.reachedOnce) throw new StreamBroken(err);
        throw this.toCliError(err);
      }
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // A consumer that stops early (break, throw) must not leave the call open.
      call.cancel();
    }
  }
}

/** A server stream that had been working broke with UNAVAILABLE; re-attaching may work. */
export class StreamBroken extends Error {
  constructor(override readonly cause: ServiceError) {
    super(`stream broken: ${cause.details || cause.message}`);
    this.name = 'StreamBroken';
  }
}

/** Runs `fn` with a client for `address` and closes the client afterwards. */
export async function withClient<T>(address: string, fn: (client: SpindleClient) => Promise<T>): Promise<T> {
  const client = new SpindleClient(address);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}
