import { type TaskKind } from '@spindle/sdk';

/**
 * A task waiting for a worker. It keeps its job, kind and index rather than its id,
 * which is made when the task is assigned: 100,000 queued ids held as strings
 * (`<job>/f/<index>`, built by concatenation) took ~11 MB of the coordinator's heap.
 */
export interface QueuedTask {
  jobId: string;
  kind: TaskKind;
  /** The item's index in the job. */
  idx: number;
  /** Attempts started before this one. */
  attempt: number;
  /** How many of those did not count against the retry policy (drain, coordinator shutdown). */
  free: number;
  /** The last non-zero HTTP status those attempts saw (0: none), for the final error. */
  httpStatus: number;
}

/**
 * FIFO queues of ready tasks per task kind, plus tasks waiting out a retry
 * backoff. Pure in-memory structure; the store is the durable copy.
 */
export class TaskQueue {
  private readonly ready = new Map<TaskKind, QueuedTask[]>();
  private readonly heads = new Map<TaskKind, number>();
  /** Tasks waiting out a delay, by task id. */
  private readonly delayed = new Map<string, NodeJS.Timeout>();

  /** `idOf`: a queued task's id (job, kind and index in the task id format). */
  constructor(
    private readonly onReady: () => void,
    private readonly idOf: (task: QueuedTask) => string,
  ) {}

  push(task: QueuedTask): void {
    let q = this.ready.get(task.kind);
    if (!q) this.ready.set(task.kind, (q = []));
    q.push(task);
  }

  /** Queues `task` after `delayMs`, then signals readiness. */
  pushLater(task: QueuedTask, delayMs: number): void {
    const id = this.idOf(task);
    const t = setTimeout(() => {
      this.delayed.delete(id);
      this.push(task);
      this.onReady();
    }, delayMs);
    this.delayed.set(id, t);
  }

  /**
   * Drops queued tasks (their job was cancelled), ready or waiting out a delay. One
   * pass over the ready queues per call (a cancel is one call) rather than marks
   * skipped when popped: a kind no worker pops kept its marks and tasks for good.
   */
  remove(taskIds: readonly string[]): void {
    const gone = new Set<string>();
    for (const id of taskIds) {
      const t = this.delayed.get(id);
      if (t === undefined) gone.add(id);
      else {
        clearTimeout(t);
        this.delayed.delete(id);
      }
    }
    if (gone.size === 0) return;
    for (const [kind, q] of this.ready) {
      let n = 0;
      for (let i = this.heads.get(kind) ?? 0; i < q.length; i++) {
        const t = q[i]!;
        if (!gone.has(this.idOf(t))) q[n++] = t;
      }
      q.length = n;
      this.heads.set(kind, 0);
    }
  }

  pop(kind: TaskKind): QueuedTask | undefined {
    const q = this.ready.get(kind);
    if (!q) return undefined;
    let head = this.heads.get(kind) ?? 0;
    if (head >= q.length) {
      q.length = 0;
      this.heads.set(kind, 0);
      return undefined;
    }
    const t = q[head++]!;
    // Compact now and then so a long-running queue does not grow forever.
    if (head > 1024 && head * 2 > q.length) {
      q.splice(0, head);
      head = 0;
    }
    this.heads.set(kind, head);
    return t;
  }

  size(kind: TaskKind): number {
    return (this.ready.get(kind)?.length ?? 0) - (this.heads.get(kind) ?? 0);
  }

  close(): void {
    for (const t of this.delayed.values()) clearTimeout(t);
    this.delayed.clear();
  }
}
