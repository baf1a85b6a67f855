/**
 * Cancellation of one task, as an executor sees it: the part of an AbortSignal
 * an executor that runs thousands of short tasks needs, without an AbortSignal.
 */
export interface TaskCancel {
  /** Whether the task has been cancelled. */
  readonly aborted: boolean;
  /** Why, once cancelled (usually an Error); undefined before. */
  readonly reason: unknown;
  /** Runs `listener` once, when the task is cancelled (not if it already is). */
  onAbort(listener: () => void): void;
  /** Removes a listener added with {@link onAbort}; a no-op for others. */
  offAbort(listener: () => void): void;
}

/**
 * The worker connection's cancellation of one task. A Node.js 20 AbortSignal
 * is costly to make in bulk: each gets a hidden class of its own (so every
 * property read on one misses V8's inline caches, and optimized code that saw
 * one is thrown away when it dies), plus two Maps and a listener record. The
 * fetch worker's main thread holds one per queued or running task, and those
 * objects live long enough to be promoted: heap snapshots during 5,000 one-byte
 * downloads showed ~4.1 KB per held task, ~0.8 KB of it the AbortController
 * and its signal. This keeps two fields and the listeners; the AbortSignal is
 * only made when an executor asks for {@link signal} (the stats worker, which
 * hands it to its thread pool).
 */
export class TaskCancellation implements TaskCancel {
  #aborted = false;
  #reason: unknown = undefined;
  /** The first listener, and any further ones: one task rarely has more than one. */
  #listener: (() => void) | undefined = undefined;
  #more: Array<() => void> | undefined = undefined;
  #controller: AbortController | undefined = undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  /** An AbortSignal that follows this cancellation, made on first use. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  onAbort(listener: () => void): void {
    if (this.#aborted) return;
    if (this.#listener === undefined) this.#listener = listener;
    else (this.#more ??= []).push(listener);
  }

  offAbort(listener: () => void): void {
    if (this.#listener === listener) {
      this.#listener = this.#more?.shift();
      return;
    }
    const i = this.#more?.indexOf(listener) ?? -1;
    if (i >= 0) this.#more!.splice(i, 1);
  }

  /**
   * Cancels the task: sets {@link reason}, runs each listener once (one that
   * throws does not keep the others from running; its error is rethrown on a
   * later tick, as an EventTarget does), then aborts {@link signal} if made.
   */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const listeners = this.#listener === undefined ? [] : [this.#listener, ...(this.#more ?? [])];
    this.#listener = undefined;
    this.#more = undefined;
    for (const listener of listeners) {
      try {
        listener();
      } catch (err) {
        process.nextTick(() => {
          throw err;
        });
      }
    }
    this.#controller?.abort(reason);
  }
}

/**
 * A {@link TaskCancel} that follows `signal`, for executors given a context
 * without one (any AbortSignal, or an object that looks like one).
 */
export function cancelOf(signal: AbortSignal): TaskCancel {
  return {
    get aborted() {
      return signal.aborted;
    },
    get reason(): unknown {
      return signal.reason;
    },
    onAbort(listener) {
      signal.addEventListener('abort', listener);
    },
    offAbort(listener) {
      signal.removeEventListener('abort', listener);
    },
  };
}
