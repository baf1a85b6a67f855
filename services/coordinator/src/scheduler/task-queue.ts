import { type TaskKind } from '@spindle/sdk';

/** A task waiting for a worker. */
export interface QueuedTask {
  taskId: string;
  jobId: string;
  kind: TaskKind;
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
  private readonly delayed = new Set<NodeJS.Timeout>();
  /** Ids removed while queued (cancelled jobs); skipped when popped. */
  private readonly removed = new Set<string>();

  constructor(private readonly onReady: () => void) {}

  push(task: QueuedTask): void {
    this.removed.delete(task.taskId);
    let q = this.ready.get(task.kind);
    if (!q) this.ready.set(task.kind, (q = []));
    q.push(task);
  }

  /** Queues `task` after `delayMs`, then signals readiness. */
  pushLater(task: QueuedTask, delayMs: number): void {
    const t = setTimeout(() => {
      this.delayed.delete(t);
      if (this.removed.delete(task.taskId)) return;
      this.push(task);
      this.onReady();
    }, delayMs);
    this.delayed.add(t);
  }

  /** Marks a queued task as gone (its job was cancelled). */
  remove(taskId: string): void {
    this.removed.add(taskId);
  }

  pop(kind: TaskKind): QueuedTask | undefined {
    const q = this.ready.get(kind);
    if (!q) return undefined;
    let head = this.heads.get(kind) ?? 0;
    while (head < q.length) {
      const t = q[head++]!;
      if (this.removed.delete(t.taskId)) continue;
      // Compact now and then so a long-running queue does not grow forever.
      if (head > 1024 && head * 2 > q.length) {
        q.splice(0, head);
        head = 0;
      }
      this.heads.set(kind, head);
      return t;
    }
    q.length = 0;
    this.heads.set(kind, 0);
    return undefined;
  }

  size(kind: TaskKind): number {
    return (this.ready.get(kind)?.length ?? 0) - (this.heads.get(kind) ?? 0);
  }

  close(): void {
    for (const t of this.delayed) clearTimeout(t);
    this.delayed.clear();
  }
}
