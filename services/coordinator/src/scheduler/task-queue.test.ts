import { TaskKind } from '@spindle/sdk';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../../test/helpers/grpc';
import { TaskQueue, type QueuedTask } from './task-queue';

/** Task ids here are `<job>/<index>`; the queue only compares them. */
const idOf = (t: QueuedTask): string => `${t.jobId}/${t.idx}`;
const task = (id: string, kind = TaskKind.TASK_KIND_STATS): QueuedTask => {
  const [jobId, idx] = id.split('/');
  return { jobId: jobId!, kind, idx: Number(idx), attempt: 0, free: 0, httpStatus: 0 };
};
const ids = (q: TaskQueue, kind: TaskKind): string[] => {
  const out: string[] = [];
  for (let t = q.pop(kind); t; t = q.pop(kind)) out.push(idOf(t));
  return out;
};

describe('TaskQueue', () => {
  it('drops the removed tasks of a kind nothing pops, keeping the order of the rest', () => {
    const q = new TaskQueue(() => {}, idOf);
    for (const id of ['j/0', 'j/1', 'j/2', 'j/3']) q.push(task(id));
    q.push(task('j/5', TaskKind.TASK_KIND_FETCH));
    // No stats worker ever pops: the removed tasks must not wait for one.
    q.remove(['j/1', 'j/3', 'j/5']);
    expect(q.size(TaskKind.TASK_KIND_STATS)).toBe(2);
    expect(q.size(TaskKind.TASK_KIND_FETCH)).toBe(0);
    expect(ids(q, TaskKind.TASK_KIND_STATS)).toEqual(['j/0', 'j/2']);
    expect(ids(q, TaskKind.TASK_KIND_FETCH)).toEqual([]);
  });

  it('removes after some pops, and a removed task pushed again is queued', () => {
    const q = new TaskQueue(() => {}, idOf);
    for (const id of ['j/0', 'j/1', 'j/2', 'j/3']) q.push(task(id));
    expect(idOf(q.pop(TaskKind.TASK_KIND_STATS)!)).toBe('j/0');
    q.remove(['j/0', 'j/2']);
    q.push(task('j/2'));
    expect(ids(q, TaskKind.TASK_KIND_STATS)).toEqual(['j/1', 'j/3', 'j/2']);
  });

  it('cancels the delay of a removed task: it never becomes ready', async () => {
    let ready = 0;
    const q = new TaskQueue(() => ready++, idOf);
    q.pushLater(task('j/0'), 10);
    q.pushLater(task('j/1'), 30);
    q.remove(['j/0']);
    // Timers fire in order of their due time: by b's, a's would have fired.
    await waitFor(() => ready > 0, 5000, 'b ready');
    expect(ready).toBe(1);
    expect(ids(q, TaskKind.TASK_KIND_STATS)).toEqual(['j/1']);
    q.close();
  });
});
