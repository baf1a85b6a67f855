import { Job, JobEvent, JobProgress, JobState, Task, TaskKind, TaskState } from '@spindle/sdk';
import { describe, expect, it } from 'vitest';
import {
  JsonLinesView,
  PlainView,
  ProgressTracker,
  QuietView,
  createJobView,
  describeFinishedTask,
  formatItem,
  formatOverall,
  type JobView,
} from './progress';

function sink() {
  const chunks: string[] = [];
  return { write: (s: string) => (chunks.push(s), true), text: () => chunks.join('') };
}

function finishedTask(id: string, state: TaskState): Task {
  const base = { id, kind: TaskKind.TASK_KIND_FETCH, state, target: `http://h/${id}`, attempt: 1 };
  return state === TaskState.TASK_STATE_SUCCEEDED
    ? Task.fromPartial({ ...base, outcome: { $case: 'fetch', value: { path: `out/${id}`, bytes: 10, durationMs: 5 } } })
    : Task.fromPartial({ ...base, outcome: { $case: 'error', value: { code: 'NETWORK', message: 'connection reset' } } });
}

const done = (id: string, state = TaskState.TASK_STATE_SUCCEEDED): JobEvent => ({
  seq: 1,
  jobId: 'j',
  time: undefined,
  event: { $case: 'taskFinished', value: { task: finishedTask(id, state) } },
});

describe('ProgressTracker', () => {
  it('takes counts from progress events but never below the finished tasks seen', () => {
    const t = new ProgressTracker();
    t.update(done('a'));
    t.update(done('b', TaskState.TASK_STATE_FAILED));
    expect([t.done, t.failed, t.total]).toEqual([2, 1, 2]);
    t.update(
      JobEvent.fromPartial({
        event: { $case: 'progress', value: JobProgress.fromPartial({ tasksTotal: 10, tasksSucceeded: 4, tasksFailed: 1 }) },
      }),
    );
    expect([t.done, t.failed, t.total]).toEqual([5, 1, 10]);
    expect(t.hasFinished('a')).toBe(true);
  });
});

describe('describeFinishedTask', () => {
  it('describes successes and failures on one line', () => {
    const ok = finishedTask('a', TaskState.TASK_STATE_SUCCEEDED);
    const bad = finishedTask('b', TaskState.TASK_STATE_FAILED);
    expect(describeFinishedTask(ok)).toBe('ok    fetch  http://h/a → out/a  10 B  5 ms');
    expect(describeFinishedTask(bad)).toBe('FAIL  fetch  http://h/b  NETWORK: connection reset');
  });
});

describe('views', () => {
  it('plain view prints one line per finished item on stdout', () => {
    const out = sink();
    const err = sink();
    const view = new PlainView(out, err);
    view.begin(Job.fromPartial({ id: 'j', state: JobState.JOB_STATE_QUEUED }));
    view.event(done('a'));
    view.event(JobEvent.fromPartial({ event: { $case: 'progress', value: {} } }));
    view.event(done('b', TaskState.TASK_STATE_FAILED));
    expect(out.text().split('\n')).toEqual([
      'ok    fetch  http://h/a → out/a  10 B  5 ms',
      'FAIL  fetch  http://h/b  NETWORK: connection reset',
      '',
    ]);
    expect(err.text()).toBe('job j queued\n');
  });

  it('JSON view writes one parseable object per line', () => {
    const out = sink();
    const view = new JsonLinesView(out, sink());
    view.begin(Job.fromPartial({ id: 'j', state: JobState.JOB_STATE_QUEUED }));
    view.event(done('a'));
    const lines = out.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ job: { id: 'j', state: 'JOB_STATE_QUEUED' } });
    expect(lines[1]).toMatchObject({ event: { taskFinished: { task: { id: 'a', state: 'TASK_STATE_SUCCEEDED' } } } });
  });
});

describe('bar formatters', () => {
  const options = { barsize: 10, barCompleteString: '#'.repeat(11), barIncompleteString: '.'.repeat(11), barGlue: '' };

  it('formatOverall shows counts, bytes, rate and ETA', () => {
    const tracker = new ProgressTracker();
    tracker.progress = JobProgress.fromPartial({
      tasksTotal: 10,
      tasksSucceeded: 5,
      tasksFailed: 1,
      bytesDone: 3 * 1024 * 1024,
      bytesPerSecond: 1024 * 1024,
      etaSeconds: 4,
    });
    const line = formatOverall(
      options,
      { progress: 0.6, eta: 0, startTime: 0, stopTime: null, total: 10, value: 6, maxWidth: 200 },
      { tracker, extraRunning: 2 },
    );
    expect(line).toBe('######.... 60% | 6/10 tasks | 1 failed | 3.0 MiB | 1.0 MiB/s | ETA 4.0 s | +2 more running');
  });

  it('formatItem fits the terminal width, keeping the end of the label', () => {
    const line = formatItem(
      options,
      { progress: 0, eta: 0, startTime: 0, stopTime: null, total: 1, value: 0, maxWidth: 40 },
      { kind: 'fetch', label: 'http://example.com/a/very/long/path/file.csv', since: Date.now(), attempt: 2, bytesDone: 0, bytesTotal: 0 },
    );
    expect(line.length).toBeLessThanOrEqual(39);
    expect(line).toMatch(/^ {2}fetch {2}….*file\.csv {2}\d+ ms \(attempt 2\)$/);
  });

  it('formatItem shows the bytes of a running download', () => {
    const params = { progress: 0, eta: 0, startTime: 0, stopTime: null, total: 1, value: 0, maxWidth: 120 };
    const item = { kind: 'fetch', label: 'http://h/big.bin', since: Date.now(), attempt: 1 };
    expect(formatItem(options, params, { ...item, bytesDone: 1536, bytesTotal: 4096 })).toMatch(/big\.bin {2}1\.5 KiB\/4\.0 KiB {2}\d+ ms$/);
    expect(formatItem(options, params, { ...item, bytesDone: 1536, bytesTotal: 0 })).toMatch(/big\.bin {2}1\.5 KiB {2}\d+ ms$/);
  });
});

describe('QuietView (--quiet)', () => {
  it('prints no line per item and asks the server for no per-task events', () => {
    const err = sink();
    const view = new QuietView(err);
    view.begin(Job.fromPartial({ id: 'j9', state: JobState.JOB_STATE_QUEUED }));
    view.event(done('a'));
    view.notice('re-attaching');
    expect(view.wantsTaskEvents).toBe(false);
    expect(err.text()).toBe('job j9 queued\nre-attaching\n');
    const ctx = { stdout: sink(), stderr: sink(), env: {}, onExit: () => () => {} };
    expect(createJobView(ctx as never, { json: false, progress: true, quiet: true })).toBeInstanceOf(QuietView);
    expect(createJobView(ctx as never, { json: true, progress: true, quiet: true })).toBeInstanceOf(JsonLinesView);
    expect((new PlainView(sink(), sink()) as JobView).wantsTaskEvents).toBeUndefined();
  });
});

describe('describeFinishedTask: how a download was done', () => {
  it('says when the file was kept as identical or resumed', () => {
    const skipped = Task.fromPartial({
      id: 's',
      kind: TaskKind.TASK_KIND_FETCH,
      state: TaskState.TASK_STATE_SUCCEEDED,
      target: 'http://h/s',
      attempt: 1,
      outcome: { $case: 'fetch', value: { path: 'out/s', bytes: 10, durationMs: 5, skipped: true } },
    });
    expect(describeFinishedTask(skipped)).toContain('(existing file, identical)');
    const resumed = Task.fromPartial({
      ...skipped,
      attempt: 2,
      outcome: { $case: 'fetch', value: { path: 'out/s', bytes: 4096, durationMs: 5, resumedBytes: 2048 } },
    });
    expect(describeFinishedTask(resumed)).toContain('(resumed after 2.0 KiB)');
  });
});
