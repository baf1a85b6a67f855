import { TaskError, type FetchTask, type StatsTask, type TaskResult } from '@spindle/sdk';
import type { TaskCancel } from './task-cancel';

/** The outcome of one task attempt, exactly as it goes into `TaskResult.outcome`. */
export type TaskOutcome = NonNullable<TaskResult['outcome']>;

/** Progress of a running task; every field is a running total, not a delta. */
export interface TaskProgressUpdate {
  bytesDone?: number;
  /** 0 or absent when unknown. */
  bytesTotal?: number;
  rowsDone?: number;
}

/** What an executor is given besides the task itself. */
export interface TaskContext {
  /** Task id and attempt, for logs and temporary file names. */
  taskId: string;
  attempt: number;
  jobId: string;
  /**
   * Aborted when the coordinator cancels the task, the lease is lost, or the
   * worker shuts down. The executor must then stop, clean up (no partial output
   * at a final name) and resolve with a CANCELLED error outcome.
   */
  signal: AbortSignal;
  /**
   * The same cancellation as {@link signal}, without an AbortSignal: cheaper
   * for an executor that holds thousands of short tasks (see TaskCancellation).
   * The worker connection always sets it, and makes {@link signal} only when
   * it is read. Absent in contexts made elsewhere: use `cancelOf(signal)`.
   */
  cancel?: TaskCancel;
  /**
   * Reports progress. Cheap to call often: the connection rate-limits what it
   * sends to the coordinator.
   */
  progress(update: TaskProgressUpdate): void;
}

/**
 * Runs tasks of one worker kind. `run` never throws: every failure is an
 * `{ $case: 'error' }` outcome with a stable code (see TaskError in the proto).
 */
export interface TaskExecutor<Spec = FetchTask | StatsTask> {
  /** Tasks this executor can run at once; the worker grants this many credits. */
  readonly slots: number;
  /**
   * How many tasks the executor wants to hold right now (running plus queued),
   * at most `slots`. When present, the connection tops its credits up to this
   * after every finished task instead of always returning one; it never takes
   * credits back. Lets an executor queue tasks ahead only while they are short
   * (a deep queue of long tasks on one worker would starve the others).
   * @default () => slots
   */
  credits?(): number;
  run(spec: Spec, ctx: TaskContext): Promise<TaskOutcome>;
  /**
   * The coordinator will not run task `taskId` again (its job was cancelled
   * while the task waited for a retry): drop anything kept for its next attempt,
   * such as a partial download. Called for tasks not running here; a no-op for
   * tasks the executor knows nothing of.
   */
  forget?(taskId: string): void;
  /** Stops the thread pool and frees resources; running tasks are aborted first. */
  close(): Promise<void>;
}

/** Builds an error outcome. */
export function errorOutcome(
  code: string,
  message: string,
  retryable = false,
  httpStatus = 0,
): TaskOutcome {
  return { $case: 'error', value: TaskError.create({ code, message, retryable, httpStatus }) };
}
