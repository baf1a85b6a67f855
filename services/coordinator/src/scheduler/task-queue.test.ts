import { TaskKind } from '@spindle/sdk';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../../test/helpers/grpc';
import { TaskQueue, type QueuedTask } from './task-queue';

const task = (id: string, kind = TaskKind.TASK_KIND_STATS): QueuedTask => ({ taskId: id, jobId: 'j', kind, attempt: 0, free: 0, httpStatus: 0 });
const ids = (q: TaskQueue, kind: TaskKind): string[] => {
  const out: string[] = [];
  for (let t = q.pop(kind); t; t = q.pop(kind)) out.push(t.taskId);
  return out;
};

describe('TaskQueue', () => {
  it('drops the removed tasks of a kind nothing pops, keeping the order of the rest', () => {
    const q = new TaskQueue(() => {});
    for (const id of ['a', 'b', 'c', 'd']) q.push(task(id));
    q.push(task('f', TaskKind.TASK_KIND_FETCH));
    // No stats worker ever pops: the removed tasks must not wait for one.
    q.remove(['b', 'd', 'f']);
    expect(q.size(TaskKind.TASK_KIND_STATS)).toBe(2);
    expect(q.size(TaskKind.TASK_KIND_FETCH)).toBe(0);
    expect(ids(q, TaskKind.TASK_KIND_STATS)).toEqual(['a', 'c']);
    expect(ids(q, TaskKind.TASK_KIND_FETCH)).toEqual([]);
  });

  it('removes after some pops, and a removed task pushed again is queued', () => {
    const q = new TaskQueue(() => {});
    for (const id of ['a', 'b', 'c', 'd']) q.push(task(id));
    expect(q.pop(TaskKind.TASK_KIND_STATS)?.taskId).toBe('a');
    q.remove(['a', 'c']);
    q.push(task('c'));
    expect(ids(q, TaskKind.TASK_KIND_STATS)).toEqual(['b', 'd', 'c']);
  });

  it('cancels the delay of a removed task: it never becomes ready', async () => {
    let ready = 0;
    const q = new TaskQueue(() => ready++);
    q.pushLater(task('a'), 10);
    q.pushLater(task('b'), 30);
    q.remove(['a']);
    // Timers fire in order of their due time: by b's, a's would have fired.
    await waitFor(() => ready > 0, 5000, 'b ready');
    expect(ready).toBe(1);
    expect(ids(q, TaskKind.TASK_KIND_STATS)).toEqual(['b']);
    q.close();
  });
});
