import type { ConnectResponse, TaskAssignment, WorkerHello, WorkerInfo, WorkerKind } from '@spindle/sdk';

/**
 * The highest WorkerService protocol version this coordinator speaks. 2 adds
 * batches (ConnectResponse.assignments, ConnectRequest.results): one gRPC message
 * for what one dispatch pass assigns to a worker and for what a worker finished in
 * one turn of its event loop, instead of one message per task.
 */
export const PROTOCOL_VERSION = 2;

/** Where a session is in its lifecycle. */
export type SessionState = 'READY' | 'DRAINING' | 'CLOSED';

/** What a session needs from the stream it lives on. */
export interface SessionTransport {
  write(msg: ConnectResponse): void;
  /** Ends the stream; with an error status when given. */
  end(error?: { code: number; details: string }): void;
  readonly peer: string;
}

/** A task attempt leased to this session. */
export interface Lease {
  taskId: string;
  attempt: number;
  jobId: string;
  /** The task's target (URL or source), for its task-finished event. */
  target: string;
  /** The last non-zero HTTP status the task's earlier attempts saw (0: none). */
  httpStatus: number;
  /** The task's earlier attempts that did not count against its retry policy. */
  free: number;
}

/**
 * One connected worker: its credits (task slots granted and not yet used), the
 * leases it holds, and when it was last heard from. Credits are tokens: each
 * assignment consumes one, so outstanding tasks never exceed what was granted.
 */
export class WorkerSession {
  readonly workerId: string;
  readonly kind: WorkerKind;
  readonly hello: WorkerHello;
  readonly connectTime = new Date();
  credits = 0;
  state: SessionState = 'READY';
  lastSeenMs: number;
  readonly leases = new Map<string, Lease>();
  /** The session's protocol version: the lower of the worker's (0 = 1) and ours. */
  readonly protocolVersion: number;

  constructor(
    readonly sessionId: string,
    hello: WorkerHello,
    readonly transport: SessionTransport,
    nowMs: number,
  ) {
    this.hello = hello;
    this.workerId = hello.workerId;
    this.kind = hello.kind;
    this.lastSeenMs = nowMs;
    this.protocolVersion = Math.min(Math.max(hello.protocolVersion, 1), PROTOCOL_VERSION);
  }

  /** True when the scheduler may give this session a task now. */
  get canTakeTask(): boolean {
    return this.state === 'READY' && this.credits > 0;
  }

  send(msg: ConnectResponse): void {
    if (this.state !== 'CLOSED') this.transport.write(msg);
  }

  /** Sends assignments: one batch message at protocol 2, else one message each. */
  sendAssignments(assignments: TaskAssignment[]): void {
    if (assignments.length === 0) return;
    if (this.protocolVersion >= 2 && assignments.length > 1) {
      this.send({ message: { $case: 'assignments', value: { assignments } } });
    } else {
      for (const a of assignments) this.send({ message: { $case: 'assign', value: a } });
    }
  }

  info(): WorkerInfo {
    return {
      workerId: this.workerId,
      kind: this.kind,
      version: this.hello.version,
      hostname: this.hello.hostname,
      slots: this.hello.slots,
      running: this.leases.size,
      credits: this.credits,
      draining: this.state === 'DRAINING',
      connectTime: this.connectTime,
      lastSeenTime: new Date(this.lastSeenMs),
      peer: this.transport.peer,
    };
  }
}
