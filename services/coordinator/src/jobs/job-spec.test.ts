import { CsvDialect, JobKind, TaskKind, type JobSpec } from '@spindle/sdk';
import { describe, expect, it } from 'vitest';
import { backoffMs, compileRetryPolicy, jobKindOf, planFollowUpStats, planJob, taskId, withoutItems } from './job-spec';

const limits = { maxItemsPerJob: 100 };
const fetchSpec = (urls: string[], outputDir = ''): JobSpec => ({
  name: '',
  kind: { $case: 'fetch', value: { outputDir, items: urls.map((url) => ({ url, fileName: '', sha256: '', expectedSize: 0 })) } },
});

describe('planJob', () => {
  it('plans one fetch task per URL under jobs/<id> by default', () => {
    const tasks = planJob(fetchSpec(['http://a/x', 'https://b/y']), 'J', limits);
    expect(tasks.map((t) => [t.idx, t.kind, t.target])).toEqual([
      [0, TaskKind.TASK_KIND_FETCH, 'http://a/x'],
      [1, TaskKind.TASK_KIND_FETCH, 'https://b/y'],
    ]);
  });

  it.each([
    [['not a url'], '', 'spec.fetch.items[0].url'],
    [['http://ok/', 'gopher://x/'], '', 'spec.fetch.items[1].url'],
    [['http://ok/'], '/abs', 'spec.fetch.output_dir'],
    [['http://ok/'], 'a/../../b', 'spec.fetch.output_dir'],
    [[], '', 'spec.fetch.items'],
  ])('rejects %j (output_dir %j) naming %s', (urls, dir, field) => {
    expect(() => planJob(fetchSpec(urls, dir), 'J', limits)).toThrow(field);
  });

  it('takes max_redirects 0 (no redirects) and refuses more than 100', () => {
    const withRedirects = (n: number): JobSpec => {
      const s = fetchSpec(['http://a/x']);
      if (s.kind?.$case === 'fetch') {
        s.kind.value.options = { maxBytes: 0, maxRedirects: n, connectTimeoutMs: 0, headersTimeoutMs: 0, idleTimeoutMs: 0, totalTimeoutMs: 0, perHostConcurrency: 0, ifExists: 0 };
      }
      return s;
    };
    expect(planJob(withRedirects(0), 'J', limits)).toHaveLength(1);
    expect(() => planJob(withRedirects(101), 'J', limits)).toThrow('spec.fetch.options.max_redirects: at most 100, got 101');
  });

  it('rejects a bad sha256 and a multi-character delimiter', () => {
    const s = fetchSpec(['http://a/']);
    if (s.kind?.$case === 'fetch') s.kind.value.items[0]!.sha256 = 'xyz';
    expect(() => planJob(s, 'J', limits)).toThrow('sha256');
    expect(() =>
      planJob({ name: '', kind: { $case: 'stats', value: { sources: [{ source: { $case: 'path', value: 'a' } }], dialect: { delimiter: ';;', noHeader: false } } } }, 'J', limits),
    ).toThrow('spec.stats.dialect.delimiter');
  });

  it('plans a stats follow-up only for fetch_then_stats jobs', () => {
    const fts: JobSpec = { name: '', kind: { $case: 'fetchThenStats', value: { fetch: fetchSpec(['http://a/']).kind!.value as never } } };
    expect(jobKindOf(fts)).toBe(JobKind.JOB_KIND_FETCH_THEN_STATS);
    expect(planFollowUpStats(fts, 3, 'jobs/J/a.csv')).toMatchObject({ idx: 3, kind: TaskKind.TASK_KIND_STATS, target: 'jobs/J/a.csv' });
    expect(planFollowUpStats(fetchSpec(['http://a/']), 3, 'x')).toBeUndefined();
    expect(taskId('J', TaskKind.TASK_KIND_STATS, 3)).toBe('J/s/3');
  });
});

describe('withoutItems', () => {
  it('empties the item lists of every kind of job and keeps everything else, without changing the spec', () => {
    const items = ['http://h/a.csv', 'http://h/b.csv'].map((url) => ({ url, fileName: '', sha256: '', expectedSize: 0 }));
    const fetchJob = { outputDir: 'out', items };
    const retry = { maxAttempts: 5, initialBackoffMs: 1, maxBackoffMs: 2 };
    const fetch: JobSpec = { name: 'n', retry, kind: { $case: 'fetch', value: fetchJob } };
    const before = structuredClone(fetch);
    expect(withoutItems(fetch)).toEqual({ name: 'n', retry, kind: { $case: 'fetch', value: { outputDir: 'out', items: [] } } });
    expect(fetch).toEqual(before);

    const dialect = CsvDialect.create({ delimiter: ';' });
    const both: JobSpec = { name: '', kind: { $case: 'fetchThenStats', value: { fetch: fetchJob, dialect } } };
    const shell = withoutItems(both);
    expect(shell.kind).toEqual({ $case: 'fetchThenStats', value: { fetch: { outputDir: 'out', items: [] }, dialect } });
    // What a running fetch_then_stats job needs of it: the stats step's dialect.
    expect(planFollowUpStats(shell, 1, 'out/b.csv')).toEqual(planFollowUpStats(both, 1, 'out/b.csv'));

    const stats: JobSpec = { name: '', kind: { $case: 'stats', value: { sources: [{ source: { $case: 'path', value: 'a.csv' } }], dialect } } };
    expect(withoutItems(stats).kind).toEqual({ $case: 'stats', value: { sources: [], dialect } });
    expect(withoutItems({ name: 'none' })).toEqual({ name: 'none' });
  });
});

describe('retry backoff', () => {
  it('grows exponentially within [d/2, d] and is capped', () => {
    const p = compileRetryPolicy({ maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 1000 });
    for (let i = 0; i < 50; i++) {
      const b1 = backoffMs(p, 1);
      const b3 = backoffMs(p, 3);
      const b9 = backoffMs(p, 9);
      expect(b1).toBeGreaterThanOrEqual(50);
      expect(b1).toBeLessThanOrEqual(100);
      expect(b3).toBeGreaterThanOrEqual(200);
      expect(b3).toBeLessThanOrEqual(400);
      expect(b9).toBeLessThanOrEqual(1000);
    }
    expect(compileRetryPolicy(undefined)).toEqual({ maxAttempts: 3, initialBackoffMs: 500, maxBackoffMs: 10_000 });
  });
});
