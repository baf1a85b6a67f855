import * as os from 'node:os';
import { EventEmitter } from 'node:events';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import {
  createWorkerServiceClient,
  type ConnectRequest,
  type ConnectResponse,
  type TaskAssignment,
  type WorkerKind,
  type WorkerServiceClient,
} from '@spindle/sdk';
import type { Logger } from 'pino';
import { errorOutcome, type TaskExecutor, type TaskOutcome, type TaskProgressUpdate } from './task-executor';
import { getErrorMessage } from './errors';

/** Options for {@link WorkerConnection}. */
export interface WorkerConnectionOptions {
  /** Coordinator address, "host:port". */
  coordinatorAddress: string;
  workerId: string;
  kind: WorkerKind;
  version: string;
  executor: TaskExecutor;
  logger: Logger;
  /** Least time between two progress messages of one task. @default 250 */
  progressIntervalMs?: number;
  /** First reconnect delay; doubles up to {@link maxReconnectDelayMs}, with jitter. @default 200 */
  initialReconnectDelayMs?: number;
  /** @default 5000 */
  maxReconnectDelayMs?: number;
}

type ConnectionState = 'IDLE' | 'CONNECTING' | 'READY' | 'DRAINING' | 'CLOSED';

interface RunningTask {
  assignment: TaskAssignment;
  controller: AbortController;
  done: Promise<void>;
  lastProgressSentMs: number;
  pendingProgress: TaskProgressUpdate | undefined;
  progressTimer: NodeJS.Timeout | undefined;
}

/**
 * A worker's session with the coordinator (WorkerService.Connect): dials, sends
 * hello, grants one credit per free executor slot, heartbeats, runs assigned tasks
 * on the executor, streams progress and results, reconnects with backoff + jitter,
 * and drains on request.
 *
 * Events: 'ready' (welcome received), 'disconnected' (stream ended), 'shutdown'
 * (the coordinator asked this worker to leave; the owner should call drain()).
 */
export class WorkerConnection extends EventEmitter {
  private readonly client: WorkerServiceClient;
  private readonly opts: Required<Omit<WorkerConnectionOptions, 'logger' | 'executor'>>;
  private readonly logger: Logger;
  private readonly executor: TaskExecutor;
  private state: ConnectionState = 'IDLE';
  private call: ClientDuplexStream<ConnectRequest, ConnectResponse> | undefined;
  private readonly running = new Map<string, RunningTask>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelayMs: number;
  private sessionId = '';
  /** Credits granted on this session and not yet used by an assignment. */
  private outstandingCredits = 0;
  private creditFlush: NodeJS.Immediate | undefined;

  constructor(options: WorkerConnectionOptions) {
    super();
    if (!options.workerId) throw new TypeError('options.workerId must be a non-empty string');
    if (!Number.isInteger(options.executor.slots) || options.executor.slots < 1) {
      throw new TypeError('options.executor.slots must be a positive integer');
    }
    this.opts = {
      coordinatorAddress: options.coordinatorAddress,
      workerId: options.workerId,
      kind: options.kind,
      version: options.version,
      progressIntervalMs: options.progressIntervalMs ?? 250,
      initialReconnectDelayMs: options.initialReconnectDelayMs ?? 200,
      maxReconnectDelayMs: options.maxReconnectDelayMs ?? 5000,
    };
    this.logger = options.logger;
    this.executor = options.executor;
    this.reconnectDelayMs = this.opts.initialReconnectDelayMs;
    this.client = createWorkerServiceClient(options.coordinatorAddress);
  }

  /** Tasks running now. */
  get runningCount(): number {
    return this.running.size;
  }

  get isReady(): boolean {
    return this.state === 'READY';
  }

  /** Starts the session; reconnects by itself until {@link drain} or {@link close}. */
  start(): void {
    if (this.state !== 'IDLE') return;
    this.connect();
  }

  private connect(): void {
    this.state = 'CONNECTING';
    const call = this.client.connect();
    this.call = call;
    call.on('data', (msg: ConnectResponse) => this.onMessage(call, msg));
    call.on('error', (err: Error) => {
      this.logger.warn({ err: getErrorMessage(err) }, 'coordinator stream error');
    });
    call.on('end', () => this.onStreamEnded(call));
    call.on('close', () => this.onStreamEnded(call));
    this.send(call, {
      message: {
        $case: 'hello',
        value: {
          workerId: this.opts.workerId,
          kind: this.opts.kind,
          version: this.opts.version,
          slots: this.executor.slots,
          hostname: os.hostname(),
          protocolVersion: 1,
        },
      },
    });
  }

  private onMessage(call: ClientDuplexStream<ConnectRequest, ConnectResponse>, msg: ConnectResponse): void {
    if (call !== this.call || !msg.message) return;
    switch (msg.message.$case) {
      case 'welcome': {
        const w = msg.message.value;
        this.sessionId = w.sessionId;
        this.reconnectDelayMs = this.opts.initialReconnectDelayMs;
        if (this.state === 'CONNECTING') this.state = 'READY';
        this.logger.info(
          { sessionId: w.sessionId, coordinator: this.opts.coordinatorAddress, slots: this.executor.slots },
          'worker connected',
        );
        clearInterval(this.heartbeatTimer);
        this.heartbeatTimer = setInterval(() => this.heartbeat(), Math.max(100, w.heartbeatIntervalMs));
        this.outstandingCredits = 0;
        const free = this.wantedCredits() - this.running.size;
        if (this.state === 'READY' && free > 0) this.grant(free);
        this.emit('ready');
        return;
      }
      case 'assign':
        this.outstandingCredits = Math.max(0, this.outstandingCredits - 1);
        this.startTask(call, msg.message.value);
        return;
      case 'cancel': {
        const t = this.running.get(msg.message.value.taskId);
        if (t && t.assignment.attempt === msg.message.value.attempt) {
          t.controller.abort(new Error(`cancelled by coordinator: ${msg.message.value.reason}`));
        }
        return;
      }
      case 'shutdown':
        this.logger.info({ reason: msg.message.value.reason }, 'coordinator asked this worker to shut down');
        this.emit('shutdown', msg.message.value);
        return;
    }
  }

  private startTask(call: ClientDuplexStream<ConnectRequest, ConnectResponse>, a: TaskAssignment): void {
    if (this.running.has(a.taskId)) {
      this.logger.warn({ taskId: a.taskId }, 'duplicate assignment ignored');
      return;
    }
    if (!a.spec) {
      this.sendResult(call, a, errorOutcome('INVALID_SPEC', `task ${a.taskId} has no spec`));
      return;
    }
    const controller = new AbortController();
    const task: RunningTask = {
      assignment: a,
      controller,
      done: Promise.resolve(),
      lastProgressSentMs: 0,
      pendingProgress: undefined,
      progressTimer: undefined,
    };
    this.running.set(a.taskId, task);
    const spec = a.spec.value;
    task.done = this.executor
      .run(spec, {
        taskId: a.taskId,
        attempt: a.attempt,
        jobId: a.jobId,
        signal: controller.signal,
        progress: (p) => this.progress(call, task, p),
      })
      .catch((err: unknown) => errorOutcome('INTERNAL', `executor failed: ${getErrorMessage(err)}`, true))
      .then((outcome) => {
        clearTimeout(task.progressTimer);
        this.running.delete(a.taskId);
        this.sendResult(call, a, outcome);
        // One credit back per finished task, unless draining or the stream changed.
        if (call === this.call && this.state === 'READY') this.grantLater(call);
      });
  }

  private progress(
    call: ClientDuplexStream<ConnectRequest, ConnectResponse>,
    task: RunningTask,
    update: TaskProgressUpdate,
  ): void {
    task.pendingProgress = { ...task.pendingProgress, ...update };
    if (task.progressTimer) return;
    const wait = Math.max(0, task.lastProgressSentMs + this.opts.progressIntervalMs - Date.now());
    task.progressTimer = setTimeout(() => {
      task.progressTimer = undefined;
      const p = task.pendingProgress;
      if (!p || !this.running.has(task.assignment.taskId)) return;
      task.lastProgressSentMs = Date.now();
      this.send(call, {
        message: {
          $case: 'progress',
          value: {
            taskId: task.assignment.taskId,
            attempt: task.assignment.attempt,
            bytesDone: p.bytesDone ?? 0,
            bytesTotal: p.bytesTotal ?? 0,
            rowsDone: p.rowsDone ?? 0,
          },
        },
      });
    }, wait);
  }

  private sendResult(
    call: ClientDuplexStream<ConnectRequest, ConnectResponse>,
    a: TaskAssignment,
    outcome: TaskOutcome,
  ): void {
    if (outcome.$case === 'error' && outcome.value.code !== 'CANCELLED') {
      this.logger.info({ taskId: a.taskId, attempt: a.attempt, error: outcome.value }, 'task failed');
    }
    this.send(call, { message: { $case: 'result', value: { taskId: a.taskId, attempt: a.attempt, outcome } } });
  }

  private grant(credits: number): void {
    if (!this.call) return;
    this.outstandingCredits += credits;
    this.send(this.call, { message: { $case: 'credit', value: { credits } } });
  }

  /** Tasks the executor wants to hold now (see TaskExecutor.credits), within [1, slots]. */
  private wantedCredits(): number {
    const wanted = this.executor.credits?.() ?? this.executor.slots;
    return Math.max(1, Math.min(this.executor.slots, Math.floor(wanted)));
  }

  /**
   * Tops the credits up after this turn of the event loop, once for every task
   * that finished in the same turn: an executor that finishes many small tasks
   * at once then sends one credit message for them, not one per task. The
   * results themselves go out at once.
   */
  private grantLater(call: ClientDuplexStream<ConnectRequest, ConnectResponse>): void {
    if (this.creditFlush !== undefined) return;
    this.creditFlush = setImmediate(() => {
      this.creditFlush = undefined;
      if (call !== this.call || this.state !== 'READY') return;
      const credits = this.wantedCredits() - this.running.size - this.outstandingCredits;
      if (credits > 0) this.grant(credits);
    });
  }

  private heartbeat(): void {
    if (!this.call) return;
    this.send(this.call, {
      message: { $case: 'heartbeat', value: { runningTaskIds: [...this.running.keys()] } },
    });
  }

  private send(call: ClientDuplexStream<ConnectRequest, ConnectResponse>, msg: ConnectRequest): void {
    // A result for a broken stream is dropped: the coordinator has re-queued the task.
    if (call !== this.call || call.writableEnded || call.destroyed) return;
    call.write(msg);
  }

  private onStreamEnded(call: ClientDuplexStream<ConnectRequest, ConnectResponse>): void {
    if (call !== this.call) return;
    this.call = undefined;
    // Credits belong to a session: a new one starts from the free slots in its welcome.
    clearImmediate(this.creditFlush);
    this.creditFlush = undefined;
    this.outstandingCredits = 0;
    clearInterval(this.heartbeatTimer);
    // The coordinator re-queues this session's tasks; stop them so no work is duplicated.
    for (const t of this.running.values()) t.controller.abort(new Error('coordinator stream lost'));
    const wasReady = this.state === 'READY';
    this.logger.warn({ sessionId: this.sessionId, wasReady }, 'coordinator stream ended');
    this.emit('disconnected');
    if (this.state === 'CLOSED' || this.state === 'DRAINING') return;
    this.state = 'CONNECTING';
    const delay = this.reconnectDelayMs * (0.5 + Math.random() * 0.5);
    this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, this.opts.maxReconnectDelayMs);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /**
   * Leaves gracefully: tells the coordinator it is draining (no more tasks),
   * waits up to `graceMs` for running tasks, cancels the rest (their CANCELLED
   * results go back so they are re-queued at once), then closes the stream.
   */
  async drain(graceMs: number, reason = 'shutting down'): Promise<void> {
    if (this.state === 'CLOSED' || this.state === 'DRAINING') return;
    this.state = 'DRAINING';
    clearTimeout(this.reconnectTimer);
    const call = this.call;
    if (call) this.send(call, { message: { $case: 'draining', value: { reason } } });
    const all = () => Promise.all([...this.running.values()].map((t) => t.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all().then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.logger.warn({ running: this.running.size }, 'drain grace passed, cancelling running tasks');
      for (const t of this.running.values()) t.controller.abort(new Error('worker shutting down'));
      await all();
    }
    this.close();
  }

  /** Closes at once: aborts running tasks and ends the stream. */
  close(): void {
    this.state = 'CLOSED';
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeatTimer);
    for (const t of this.running.values()) t.controller.abort(new Error('worker closing'));
    const call = this.call;
    this.call = undefined;
    call?.end();
    this.client.close();
  }
}
