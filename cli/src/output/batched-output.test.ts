import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Job, JobEvent, JobState, Task, TaskKind, TaskState } from '@spindle/sdk';
import { BatchedOutput } from './batched-output';
import { PlainView } from './progress';

/** An Output that records each write it gets, into a log shared with other sinks (to see the order across streams). */
function recorder(name: string, log: string[]) {
  return { write: (s: string) => (log.push(`${name}:${s}`), true) };
}

describe('BatchedOutput', () => {
  it('passes the writes of one event-loop turn on as one write, in order', async () => {
    const log: string[] = [];
    const out = new BatchedOutput(recorder('out', log));
    out.write('a\n');
    out.write('b\n');
    expect(log).toEqual([]);
    await nextTurn();
    expect(log).toEqual(['out:a\nb\n']);
    out.write('c\n');
    await nextTurn();
    expect(log).toEqual(['out:a\nb\n', 'out:c\n']);
  });

  it('flushes at once when asked, and writes nothing when nothing is pending', async () => {
    const log: string[] = [];
    const out = new BatchedOutput(recorder('out', log));
    out.flush();
    out.write('a\n');
    out.flush();
    expect(log).toEqual(['out:a\n']);
    await nextTurn();
    expect(log).toEqual(['out:a\n']);
  });

  it('registers a last flush for the process exit', () => {
    const log: string[] = [];
    let onExit: (() => void) | undefined;
    const out = new BatchedOutput(recorder('out', log), (hook) => ((onExit = hook), () => {}));
    out.write('last line\n');
    onExit?.();
    expect(log).toEqual(['out:last line\n']);
  });
});

describe('PlainView over a BatchedOutput', () => {
  it('writes pending item lines before anything on stderr, and all of them by end()', () => {
    const log: string[] = [];
    const view = new PlainView(new BatchedOutput(recorder('out', log)), recorder('err', log));
    const finished = (id: string): JobEvent =>
      JobEvent.fromPartial({
        event: {
          $case: 'taskFinished',
          value: {
            task: Task.fromPartial({
              id,
              kind: TaskKind.TASK_KIND_FETCH,
              state: TaskState.TASK_STATE_SUCCEEDED,
              target: `http://h/${id}`,
              outcome: { $case: 'fetch', value: { path: `out/${id}`, bytes: 1, durationMs: 1 } },
            }),
          },
        },
      });
    view.begin(Job.fromPartial({ id: 'j', state: JobState.JOB_STATE_QUEUED }));
    view.event(finished('a'));
    view.event(finished('b'));
    view.notice('lost the coordinator; re-attaching');
    view.event(finished('c'));
    view.end();
    expect(log).toEqual([
      'err:job j queued\n',
      'out:ok    fetch  http://h/a → out/a  1 B  1 ms\nok    fetch  http://h/b → out/b  1 B  1 ms\n',
      'err:lost the coordinator; re-attaching\n',
      'out:ok    fetch  http://h/c → out/c  1 B  1 ms\n',
    ]);
  });
});
