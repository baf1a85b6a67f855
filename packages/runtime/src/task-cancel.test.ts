import { afterEach, describe, expect, it, vi } from 'vitest';
import { cancelOf, TaskCancellation } from './task-cancel';

describe('TaskCancellation', () => {
  afterEach(() => vi.restoreAllMocks());

  it('runs each listener once, in order, with the reason set, and ignores a second abort', () => {
    const c = new TaskCancellation();
    const calls: string[] = [];
    c.onAbort(() => calls.push(`a:${String(c.reason)}`));
    c.onAbort(() => calls.push('b'));
    c.onAbort(() => calls.push('c'));
    expect(c.aborted).toBe(false);
    expect(c.reason).toBeUndefined();
    c.abort('first');
    c.abort('second');
    expect(calls).toEqual(['a:first', 'b', 'c']);
    expect(c.aborted).toBe(true);
    expect(c.reason).toBe('first');
  });

  it('removes the first listener and later ones, and ignores listeners it does not have', () => {
    const c = new TaskCancellation();
    const calls: string[] = [];
    const a = () => calls.push('a');
    const b = () => calls.push('b');
    const d = () => calls.push('d');
    c.onAbort(a);
    c.onAbort(b);
    c.onAbort(d);
    c.offAbort(a); // b becomes the first
    c.offAbort(d);
    c.offAbort(() => calls.push('never added'));
    c.abort(new Error('x'));
    expect(calls).toEqual(['b']);
  });

  it('does not call a listener added after the abort', () => {
    const c = new TaskCancellation();
    c.abort('done');
    const late = vi.fn();
    c.onAbort(late);
    expect(late).not.toHaveBeenCalled();
  });

  it('makes its AbortSignal on first use, which follows it whether made before or after the abort', () => {
    const before = new TaskCancellation();
    const signal = before.signal;
    expect(before.signal).toBe(signal);
    expect(signal.aborted).toBe(false);
    const heard = vi.fn();
    signal.addEventListener('abort', heard);
    const reason = new Error('cancelled by coordinator: job cancelled');
    before.abort(reason);
    expect(heard).toHaveBeenCalledTimes(1);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);

    const after = new TaskCancellation();
    after.abort(reason);
    expect(after.signal.aborted).toBe(true);
    expect(after.signal.reason).toBe(reason);
  });

  it('runs the other listeners when one throws, and rethrows its error on a later tick', () => {
    const deferred: Array<() => void> = [];
    vi.spyOn(process, 'nextTick').mockImplementation(((fn: () => void) => void deferred.push(fn)) as typeof process.nextTick);
    const c = new TaskCancellation();
    const after = vi.fn();
    c.onAbort(() => {
      throw new Error('listener failed');
    });
    c.onAbort(after);
    c.abort('stop');
    expect(after).toHaveBeenCalledTimes(1);
    expect(deferred).toHaveLength(1);
    expect(() => deferred[0]!()).toThrow('listener failed');
  });
});

describe('cancelOf', () => {
  it('follows an AbortSignal: state, reason and listeners', () => {
    const controller = new AbortController();
    const cancel = cancelOf(controller.signal);
    const kept = vi.fn();
    const removed = vi.fn();
    cancel.onAbort(kept);
    cancel.onAbort(removed);
    cancel.offAbort(removed);
    expect(cancel.aborted).toBe(false);
    controller.abort('gone');
    expect(cancel.aborted).toBe(true);
    expect(cancel.reason).toBe('gone');
    expect(kept).toHaveBeenCalledTimes(1);
    expect(removed).not.toHaveBeenCalled();
  });
});
