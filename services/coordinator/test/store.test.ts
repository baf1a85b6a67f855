import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { JobKind, JobState, TaskKind, TaskState } from '@spindle/sdk';
import { describe, expect, it } from 'vitest';
import { Checkpointer, SqliteStore } from '@spindle/coordinator';
import { waitFor } from '../../../test/helpers/grpc';
import { makeTempDir } from '../../../test/helpers/temp-dir';

describe('SqliteStore WAL checkpoints', () => {
  const tmp = () => makeTempDir('spindle-store-');

  it('copies committed pages into the database file on its own thread, not in COMMIT', async () => {
    const file = path.join(tmp(), 'c.db');
    const store = new SqliteStore(file);
    try {
      const before = fs.statSync(file).size;
      const spec = Buffer.alloc(200, 7);
      store.transaction(() => {
        store.insertJob({ id: 'j', request_id: null, kind: JobKind.JOB_KIND_FETCH, state: JobState.JOB_STATE_QUEUED, name: 'n', spec, create_ms: 1 });
        for (let i = 0; i < 2000; i++) {
          store.insertTask({ id: `j/f/${i}`, job_id: 'j', idx: i, kind: TaskKind.TASK_KIND_FETCH, target: `http://x/${i}`, spec });
        }
      });
      store.flush();
      // ~150 pages in the WAL, far below the 10,000 that would make COMMIT checkpoint.
      expect(fs.statSync(`${file}-wal`).size).toBeGreaterThan(100 * 4096);
      await waitFor(() => fs.statSync(file).size > before + 100 * 4096, 5000, 'pages copied into the database file');
      // Another connection sees every row in the database file proper.
      const reader = new Database(file, { readonly: true });
      expect(reader.prepare('SELECT count(*) FROM tasks').pluck().get()).toBe(2000);
      reader.close();
    } finally {
      store.close();
    }
  });

  it('stores many tasks, a multi-row statement at a time, as one statement each would', () => {
    const store = new SqliteStore(path.join(tmp(), 'c.db'));
    try {
      // 2 full batches of 50 and a remainder of 23; each task its own spec bytes.
      const tasks = Array.from({ length: 123 }, (_, i) => ({
        id: `j/f/${i}`,
        job_id: 'j',
        idx: i,
        kind: i % 2 === 0 ? TaskKind.TASK_KIND_FETCH : TaskKind.TASK_KIND_STATS,
        target: `http://x/${i}`,
        spec: Buffer.from(`spec ${i}`),
      }));
      store.transaction(() => {
        store.insertJob({ id: 'j', request_id: null, kind: JobKind.JOB_KIND_FETCH, state: JobState.JOB_STATE_QUEUED, name: 'n', spec: Buffer.alloc(1), create_ms: 1 });
        store.insertTasks(tasks);
      });
      for (const t of tasks) {
        expect(store.getTask(t.id)).toMatchObject({ ...t, spec: Buffer.from(t.spec), state: TaskState.TASK_STATE_PENDING, attempt: 0, worker_id: '' });
      }
      expect(store.taskCounts('j').byState.get(TaskState.TASK_STATE_PENDING)).toBe(123);
      // A duplicate id fails the statement and, inside a transaction section, leaves nothing of it.
      expect(() => store.transaction(() => store.insertTasks([{ ...tasks[0]!, id: 'j/f/new', idx: 500 }, ...tasks.slice(1, 50)]))).toThrow(/UNIQUE/);
      expect(store.getTask('j/f/new')).toBeUndefined();
    } finally {
      store.close();
    }
  });

  it('reports a checkpoint thread that cannot open the database', async () => {
    const errors: Error[] = [];
    const cp = new Checkpointer(path.join(tmp(), 'missing.db'), 50, (err) => errors.push(err));
    await waitFor(() => errors.length > 0, 5000, 'failure reported');
    expect(errors[0]!.message).toBe('unable to open database file (SQLITE_CANTOPEN)');
    cp.close();
  });

  it('groups task writes for a while, but commits a job a client is told about at once', () => {
    const file = path.join(tmp(), 'c.db');
    const store = new SqliteStore(file);
    const reader = new Database(file, { readonly: true });
    const jobs = reader.prepare('SELECT id FROM jobs ORDER BY id').pluck();
    const job = (id: string) => ({ id, request_id: null, kind: JobKind.JOB_KIND_FETCH, state: JobState.JOB_STATE_QUEUED, name: 'n', spec: Buffer.alloc(1), create_ms: 1 });
    try {
      store.transaction(() => store.insertJob(job('a')));
      // Still in the open group: another connection does not see it yet.
      expect(jobs.all()).toEqual([]);
      store.transaction(() => {
        store.insertJob(job('b'));
        store.commitSoon();
        // Inside the section nothing is committed yet, so a throw here could still roll back.
        expect(jobs.all()).toEqual([]);
      });
      expect(jobs.all()).toEqual(['a', 'b']);
    } finally {
      reader.close();
      store.close();
    }
  });
});

describe('SqliteStore migrations', () => {
  const tmp = () => makeTempDir('spindle-store-');

  /**
   * A store holding job `j` with fetch task `j/f/0` (`more` may change it), taken back to
   * an older schema by `downgrade` (SQL) and `version`, then opened again: the upgrade runs.
   */
  function storeFromOlderSchema(downgrade: string, version: number, more: (store: SqliteStore) => void = () => {}): SqliteStore {
    const file = path.join(tmp(), 'c.db');
    const job = { id: 'j', request_id: null, kind: JobKind.JOB_KIND_FETCH, state: JobState.JOB_STATE_RUNNING, name: 'n', spec: Buffer.alloc(1), create_ms: 1 };
    const store = new SqliteStore(file);
    store.transaction(() => {
      store.insertJob(job);
      store.insertTask({ id: 'j/f/0', job_id: 'j', idx: 0, kind: TaskKind.TASK_KIND_FETCH, target: 'http://x/0', spec: Buffer.alloc(1) });
      more(store);
    });
    store.close();
    const old = new Database(file);
    old.exec(downgrade);
    old.pragma(`user_version = ${version}`);
    old.close();
    return new SqliteStore(file);
  }

  it('upgrades a database of the first schema: existing tasks start with no retry state', () => {
    // Back to the first schema, as a coordinator before the retry-state columns left it.
    const store = storeFromOlderSchema(
      'ALTER TABLE tasks DROP COLUMN http_status; ALTER TABLE tasks DROP COLUMN not_before_ms; ALTER TABLE tasks DROP COLUMN free_attempts',
      1,
    );
    try {
      expect(store.unfinishedTasks('j')).toEqual([
        { id: 'j/f/0', job_id: 'j', idx: 0, kind: TaskKind.TASK_KIND_FETCH, attempt: 0, state: TaskState.TASK_STATE_PENDING, http_status: 0, not_before_ms: 0, free_attempts: 0 },
      ]);
      store.transaction(() => store.markRetrying('j/f/0', 503, 1234, 0));
      expect(store.getTask('j/f/0')).toMatchObject({ state: TaskState.TASK_STATE_PENDING, http_status: 503, not_before_ms: 1234 });
    } finally {
      store.close();
    }
  });

  it('upgrades a database of the second schema: tasks keep their retry state and start with no free attempts', () => {
    // Back to the second schema, as a coordinator before free_attempts left it.
    const store = storeFromOlderSchema('ALTER TABLE tasks DROP COLUMN free_attempts', 2, (s) => {
      s.markAssigned('j/f/0', 2, 'w');
      s.markRetrying('j/f/0', 503, 1234, 0);
    });
    try {
      expect(store.unfinishedTasks('j')).toEqual([
        { id: 'j/f/0', job_id: 'j', idx: 0, kind: TaskKind.TASK_KIND_FETCH, attempt: 2, state: TaskState.TASK_STATE_PENDING, http_status: 503, not_before_ms: 1234, free_attempts: 0 },
      ]);
      // A shutdown takes an attempt back: one more free attempt, pending again, the rest kept.
      store.transaction(() => {
        store.markAssigned('j/f/0', 3, 'w');
        store.markInterrupted('j/f/0');
      });
      expect(store.getTask('j/f/0')).toMatchObject({ state: TaskState.TASK_STATE_PENDING, attempt: 3, http_status: 503, free_attempts: 1 });
      // A retry writes the count it is given, in the same statement as the rest of its state.
      store.transaction(() => {
        store.markAssigned('j/f/0', 4, 'w');
        store.markRetrying('j/f/0', 500, 0, 2);
      });
      expect(store.getTask('j/f/0')).toMatchObject({ state: TaskState.TASK_STATE_PENDING, attempt: 4, http_status: 500, not_before_ms: 0, free_attempts: 2 });
    } finally {
      store.close();
    }
  });
});
