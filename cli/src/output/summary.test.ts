import { Job, JobState, Task, TaskKind, TaskState } from '@spindle/sdk';
import { describe, expect, it } from 'vitest';
import { describeFailures, displayPath, renderColumnSummary, renderStatsTable, summarizeFetchJob, summarizeJob } from './summary';

function column(name: string, numeric: boolean, mean = 0, min = 0, max = 0) {
  return { name, numeric, mean, min, max, count: 3, nulls: 0, sum: mean * 3, std: 1, type: numeric ? 2 : 3 };
}

const statsOk = Task.fromPartial({
  id: 't2',
  kind: TaskKind.TASK_KIND_STATS,
  state: TaskState.TASK_STATE_SUCCEEDED,
  target: 'demo/weather.csv',
  attempt: 1,
  outcome: {
    $case: 'stats',
    value: {
      source: 'demo/weather.csv',
      rows: 1200,
      columns: 4,
      bytes: 2048,
      durationMs: 12,
      columnStats: [
        column('station', false),
        column('temp_c', true, 8.123456, -3.5, 21),
        column('humidity', true, 70, 38, 98),
        column('wind', true, 1, 1, 1),
      ],
    },
  },
});
const fetchOk = Task.fromPartial({
  id: 't1',
  kind: TaskKind.TASK_KIND_FETCH,
  state: TaskState.TASK_STATE_SUCCEEDED,
  target: 'http://h/weather.csv',
  outcome: { $case: 'fetch', value: { bytes: 2048, path: 'demo/weather.csv' } },
});
const fetchFailed = Task.fromPartial({
  id: 't3',
  kind: TaskKind.TASK_KIND_FETCH,
  state: TaskState.TASK_STATE_FAILED,
  target: 'http://h/missing.csv',
  attempt: 3,
  outcome: { $case: 'error', value: { code: 'HTTP_STATUS', message: 'HTTP 404 from http://h/missing.csv' } },
});

describe('summaries', () => {
  it('summarizes a job per task kind with its duration', () => {
    const job = Job.fromPartial({
      id: 'j1',
      state: JobState.JOB_STATE_FAILED,
      startTime: new Date(1000),
      endTime: new Date(2500),
    });
    expect(summarizeJob(job, [fetchOk, statsOk, fetchFailed])).toBe(
      'job j1 failed: 1/2 downloads ok, 1 failed (2.0 KiB), 1/1 files analysed ok (1,200 rows) in 1.5 s',
    );
  });

  it('summarizes a plain fetch job from its counters alone', () => {
    const job = Job.fromPartial({
      id: 'j2',
      state: JobState.JOB_STATE_FAILED,
      progress: { tasksTotal: 10_000, tasksSucceeded: 9_998, tasksFailed: 2, bytesDone: 2048 },
      startTime: new Date(1000),
      endTime: new Date(3500),
    });
    expect(summarizeFetchJob(job)).toBe('job j2 failed: 9998/10000 downloads ok, 2 failed (2.0 KiB) in 2.5 s');
  });

  it('lists failures with their class, HTTP status and attempts', () => {
    expect(describeFailures([fetchOk, fetchFailed])).toEqual([
      '  http://h/missing.csv: HTTP_STATUS after 3 attempts: HTTP 404 from http://h/missing.csv',
    ]);
    const final = Task.fromPartial({
      ...fetchFailed,
      attempt: 2,
      outcome: { $case: 'error', value: { code: 'HTTP_STATUS', httpStatus: 404, attempts: 1, message: 'GET x: server answered HTTP 404' } },
    });
    expect(describeFailures([final])).toEqual(['  http://h/missing.csv: HTTP_STATUS (HTTP 404) after 1 attempt: GET x: server answered HTTP 404']);
  });

  it('renders the demo table: first two numeric columns per file', () => {
    const out = renderColumnSummary([fetchOk, statsOk]);
    expect(out).toBe(
      [
        'FILE          ROWS  COLS  COLUMN      MEAN   MIN  MAX',
        '-----------  -----  ----  --------  ------  ----  ---',
        'weather.csv  1,200     4  temp_c    8.1235  -3.5   21',
        '                          humidity      70    38   98',
        '',
      ].join('\n'),
    );
  });

  it('renders the stats table with failed files', () => {
    const failedStats = Task.fromPartial({
      kind: TaskKind.TASK_KIND_STATS,
      state: TaskState.TASK_STATE_FAILED,
      target: '/data/bad.csv',
      outcome: { $case: 'error', value: { code: 'FILE_NOT_FOUND', message: 'no such file' } },
    });
    const lines = renderStatsTable([statsOk, failedStats]).split('\n');
    expect(lines[0]).toMatch(/^FILE\s+ROWS\s+COLS\s+BYTES\s+RAGGED\s+TIME\s+RESULT$/);
    expect(lines[2]).toMatch(/^demo\/weather\.csv\s+1,200\s+4\s+2\.0 KiB\s+0\s+12 ms\s+ok$/);
    expect(lines[3]).toMatch(/^\/data\/bad\.csv\s+FILE_NOT_FOUND: no such file$/);
  });

  it('shows paths inside the working folder relative to it', () => {
    expect(displayPath('/home/u/data/a.csv', '/home/u')).toBe('data/a.csv');
    expect(displayPath('/srv/a.csv', '/home/u')).toBe('/srv/a.csv');
    expect(displayPath('demo/a.csv', '/home/u')).toBe('demo/a.csv');
    expect(displayPath('/home/u', '/home/u')).toBe('/home/u');
  });
});
