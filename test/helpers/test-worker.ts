import type { ClientDuplexStream, ServiceError } from '@grpc/grpc-js';
import {
  createWorkerServiceClient,
  StatsResult,
  TaskError,
  WorkerKind,
  type ConnectRequest,
  type ConnectResponse,
  type TaskAssignment,
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
  error: ServiceError | undefined;
  ended = false;
  private readonly client;
  readonly call: ClientDuplexStream<ConnectRequest, ConnectResponse>;

  constructor(address: string, readonly workerId: string, kind = WorkerKind.WORKER_KIND_STATS, hello = true) {
    this.client = createWorkerServiceClient(address);
    this.call = this.client.connect();
    this.call.on('data', (m: ConnectResponse) => {
      this.received.push(m);
      if (m.message?.$case === 'assign') this.assignments.push(m.message.value);
    });
    this.call.on('error', (e: ServiceError) => (this.error = e));
    this.call.on('end', () => (this.ended = true));
    if (hello) {
      this.send({
        message: {
          $case: 'hello',
          value: { workerId, kind, version: 'test', slots: 4, hostname: 'test', protocolVersion: 1 },
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
    this.send({
      message: {
        $case: 'result',
        value: {
          taskId: a.taskId,
          attempt: a.attempt,
          outcome: {
            $case: 'stats',
            value: StatsResult.create({ source: 'x', rows, columns: 1, bytes: 10, durationMs: 1 }),
          },
        },
      },
    });
  }

  fail(a: TaskAssignment, code: string, retryable: boolean): void {
    this.send({
      message: {
        $case: 'result',
        value: { taskId: a.taskId, attempt: a.attempt, outcome: { $case: 'error', value: TaskError.create({ code, message: code, retryable }) } },
      },
    });
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
