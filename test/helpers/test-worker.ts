import type { ClientDuplexStream, ServiceError } from '@grpc/grpc-js';
import {
  createWorkerServiceClient,
  StatsResult,
  TaskError,
  WorkerKind,
  type ConnectRequest,
  type ConnectResponse,
  type TaskAssignment,
  type TaskResult,
} from '@spindle/sdk';
import { waitFor } from './grpc';

/**
 * A hand-driven worker speaking WorkerService.Connect over real gRPC: the test
 * decides when to grant credits and what to answer. Used to check the
 * coordinator's side of the protocol (credits, leases, stale attempts).
 */
export class TestWorker {
  readonly received: ConnectResponse[] = [];
  readonly assignments: TaskAssignment[] = [];
  /** How many assignments each assignment message carried (1 for `assign`). */
  readonly assignmentMessages: number[] = [];
  error: ServiceError | undefined;
  ended = false;
  private readonly client;
  readonly call: ClientDuplexStream<ConnectRequest, ConnectResponse>;

  constructor(
    address: string,
    readonly workerId: string,
    kind = WorkerKind.WORKER_KIND_STATS,
    hello = true,
    protocolVersion = 1,
  ) {
    this.client = createWorkerServiceClient(address);
    this.call = this.client.connect();
    this.call.on('data', (m: ConnectResponse) => {
      this.received.push(m);
      if (m.message?.$case === 'assign') {
        this.assignments.push(m.message.value);
        this.assignmentMessages.push(1);
      } else if (m.message?.$case === 'assignments') {
        this.assignments.push(...m.message.value.assignments);
        this.assignmentMessages.push(m.message.value.assignments.length);
      }
    });
    this.call.on('error', (e: ServiceError) => (this.error = e));
    this.call.on('end', () => (this.ended = true));
    if (hello) {
      this.send({
        message: {
          $case: 'hello',
          value: { workerId, kind, version: 'test', slots: 4, hostname: 'test', protocolVersion },
        },
      });
    }
  }

  send(m: ConnectRequest): void {
    this.call.write(m);
  }

  grant(credits: number): void {
    this.send({ message: { $case: 'credit', value: { credits } } });
  }

  waitWelcome(): Promise<unknown> {
    return waitFor(() => this.received.find((m) => m.message?.$case === 'welcome'), 5000, 'welcome');
  }

  waitAssignments(n: number): Promise<TaskAssignment[]> {
    return waitFor(() => (this.assignments.length >= n ? this.assignments : undefined), 5000, `${n} assignments`);
  }

  waitClosed(): Promise<unknown> {
    return waitFor(() => this.error ?? (this.ended ? 'ended' : undefined), 10_000, 'stream closed');
  }

  /** Reports a stats success for an assignment. */
  succeed(a: TaskAssignment, rows = 1): void {
    this.send({ message: { $case: 'result', value: TestWorker.success(a, rows) } });
  }

  fail(a: TaskAssignment, code: string, retryable: boolean): void {
    this.send({ message: { $case: 'result', value: TestWorker.failure(a, code, retryable) } });
  }

  /** Sends several results in one protocol 2 `results` message. */
  sendResults(results: TaskResult[]): void {
    this.send({ message: { $case: 'results', value: { results } } });
  }

  /** A stats success for an assignment. */
  static success(a: TaskAssignment, rows = 1): TaskResult {
    return {
      taskId: a.taskId,
      attempt: a.attempt,
      outcome: { $case: 'stats', value: StatsResult.create({ source: 'x', rows, columns: 1, bytes: 10, durationMs: 1 }) },
    };
  }

  /** A failure with the given code. */
  static failure(a: TaskAssignment, code: string, retryable: boolean): TaskResult {
    return {
      taskId: a.taskId,
      attempt: a.attempt,
      outcome: { $case: 'error', value: TaskError.create({ code, message: code, retryable }) },
    };
  }

  /** Breaks the stream abruptly, as a crashed worker would. */
  kill(): void {
    this.call.cancel();
    this.client.close();
  }

  close(): void {
    this.call.end();
    this.client.close();
  }
}
