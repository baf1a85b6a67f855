import type { ConnectResponse, WorkerHello, WorkerInfo, WorkerKind } from '@spindle/sdk';

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
  }

  /** True when the scheduler may give this session a task now. */
  get canTakeTask(): boolean {
    return this.state === 'READY' && this.credits > 0;
  }

  send(msg: ConnectResponse): void {
    if (this.state !== 'CLOSED') this.transport.write(msg);
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
