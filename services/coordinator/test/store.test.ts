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

  /** What takes a database of schema version v + 1 back to version v (undoes migration v + 1). */
  const undo: Record<number, string> = {
    1: 'ALTER TABLE tasks DROP COLUMN http_status; ALTER TABLE tasks DROP COLUMN not_before_ms',
    2: 'ALTER TABLE tasks DROP COLUMN free_attempts',
    3: 'ALTER TABLE events DROP COLUMN first_seq',
    4: ['tasks_succeeded', 'tasks_failed', 'tasks_cancelled', 'bytes_done', 'rows_done'].map((c) => `ALTER TABLE jobs DROP COLUMN ${c}`).join('; '),
  };

  /**
   * A store holding job `j` with fetch task `j/f/0` (`more` may change it; `state` is the
   * job's), taken back to schema `version`, then opened again: the upgrade runs.
   */
  function storeFromOlderSchema(
    version: number,
    more: (store: SqliteStore) => void = () => {},
    state = JobState.JOB_STATE_RUNNING,
  ): SqliteStore {
    const file = path.join(tmp(), 'c.db');
    const job = { id: 'j', request_id: null, kind: JobKind.JOB_KIND_FETCH, state, name: 'n', spec: Buffer.alloc(1), create_ms: 1 };
    const store = new SqliteStore(file);
    store.transaction(() => {
      store.insertJob(job);
      store.insertTask({ id: 'j/f/0', job_id: 'j', idx: 0, kind: TaskKind.TASK_KIND_FETCH, target: 'http://x/0', spec: Buffer.alloc(1) });
      more(store);
    });
    store.close();
    const old = new Database(file);
    const current = old.pragma('user_version', { simple: true }) as number;
    for (let v = current - 1; v >= version; v--) old.exec(undo[v]!);
    old.pragma(`user_version = ${version}`);
    old.close();
    return new SqliteStore(file);
  }

  it('upgrades a database of the first schema: existing tasks start with no retry state', () => {
    // Back to the first schema, as a coordinator before the retry-state columns left it.
    const store = storeFromOlderSchema(1);
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
    const store = storeFromOlderSchema(2, (s) => {
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

  it('upgrades a database of the third schema: its events, a row each, replay with the newer rows of several', () => {
    const ev = (seq: number) => Buffer.from(`event ${seq}`);
    const store = storeFromOlderSchema(3, (s) => {
      // As the third schema's coordinator wrote them: one row per event.
      for (let seq = 1; seq <= 3; seq++) s.db.prepare('INSERT INTO events (job_id, seq, data) VALUES (?, ?, ?)').run('j', seq, ev(seq));
    });
    try {
      expect(store.lastSeq('j')).toBe(3);
      store.transaction(() => {
        for (let seq = 4; seq <= 9; seq++) store.appendEvent('j', seq, ev(seq));
      });
      const text = (page: Array<{ seq: number; data: Uint8Array }>) => page.map((e) => [e.seq, Buffer.from(e.data).toString()]);
      expect(text(store.eventsAfter('j', 0, 100))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => [n, `event ${n}`]));
      expect(text(store.eventsAfter('j', 2, 3))).toEqual([3, 4, 5].map((n) => [n, `event ${n}`]));
      expect(text(store.eventsAfter('j', 5, 100))).toEqual([6, 7, 8, 9].map((n) => [n, `event ${n}`]));
      expect(store.lastSeq('j')).toBe(9);
    } finally {
      store.close();
    }
  });

  it("upgrades a database of the fourth schema: finished jobs get their final counts from their tasks, running ones none", () => {
    const store = storeFromOlderSchema(
      4,
      (s) => {
        s.insertJob({ id: 'r', request_id: null, kind: JobKind.JOB_KIND_FETCH, state: JobState.JOB_STATE_RUNNING, name: 'n', spec: Buffer.alloc(1), create_ms: 2 });
        s.insertTask({ id: 'r/f/0', job_id: 'r', idx: 0, kind: TaskKind.TASK_KIND_FETCH, target: 'http://x/0', spec: Buffer.alloc(1) });
        s.markFinished('j/f/0', TaskState.TASK_STATE_SUCCEEDED, Buffer.alloc(1), 500, 7);
        for (const [i, state] of [[1, TaskState.TASK_STATE_SUCCEEDED], [2, TaskState.TASK_STATE_FAILED], [3, TaskState.TASK_STATE_CANCELLED], [4, TaskState.TASK_STATE_FAILED]] as const) {
          s.insertTask({ id: `j/f/${i}`, job_id: 'j', idx: i, kind: TaskKind.TASK_KIND_FETCH, target: `http://x/${i}`, spec: Buffer.alloc(1) });
          s.markFinished(`j/f/${i}`, state, Buffer.alloc(1), state === TaskState.TASK_STATE_SUCCEEDED ? 20 : 0, 0);
        }
      },
      JobState.JOB_STATE_FAILED,
    );
    try {
      expect(store.getJob('j')).toMatchObject({ tasks_succeeded: 2, tasks_failed: 2, tasks_cancelled: 1, bytes_done: 520, rows_done: 7 });
      expect(store.getJob('r')).toMatchObject({ tasks_succeeded: null, tasks_failed: null, tasks_cancelled: null, bytes_done: null, rows_done: null });
    } finally {
      store.close();
    }
  });

  it('refuses a database whose schema is newer than its own', () => {
    const file = path.join(tmp(), 'c.db');
    new SqliteStore(file).close();
    const db = new Database(file);
    const version = db.pragma('user_version', { simple: true }) as number;
    db.pragma(`user_version = ${version + 1}`);
    db.close();
    expect(() => new SqliteStore(file)).toThrow(
      `database ${file}: its schema (version ${version + 1}) is newer than this coordinator's (${version}): run a coordinator at least as new as the one that last wrote it`,
    );
  });
});

describe('SqliteStore events', () => {
  const tmp = () => makeTempDir('spindle-store-');
  const ev = (seq: number) => Buffer.from(`event ${seq}`);
  const text = (page: Array<{ seq: number; data: Uint8Array }>) => page.map((e) => `${e.seq}:${Buffer.from(e.data).toString()}`);
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${from + i}:event ${from + i}`);

  function setUp(): { store: SqliteStore; rows: () => Array<{ seq: number; first_seq: number | null }>; close: () => void } {
    const file = path.join(tmp(), 'c.db');
    const store = new SqliteStore(file);
    const reader = new Database(file, { readonly: true });
    const rows = reader.prepare('SELECT seq, first_seq FROM events ORDER BY job_id, seq');
    return {
      store,
      rows: () => rows.all() as Array<{ seq: number; first_seq: number | null }>,
      close: () => {
        reader.close();
        store.close();
      },
    };
  }

  it("commits a job's events of one group as one row, readable as they were appended", () => {
    const { store, rows, close } = setUp();
    try {
      for (let seq = 1; seq <= 5; seq++) store.transaction(() => store.appendEvent('j', seq, ev(seq)));
      store.transaction(() => store.appendEvent('k', 1, ev(1)));
      // Readers of the store see them at once, every page exactly as long as asked.
      expect(text(store.eventsAfter('j', 0, 2))).toEqual(range(1, 2));
      expect(text(store.eventsAfter('j', 2, 2))).toEqual(range(3, 4));
      expect(text(store.eventsAfter('j', 4, 2))).toEqual(range(5, 5));
      expect(store.lastSeq('j')).toBe(5);
      store.transaction(() => {
        for (let seq = 6; seq <= 8; seq++) store.appendEvent('j', seq, ev(seq));
      });
      store.flush();
      // Rows: 1-5 (written when first read), 6-8 (at the commit), k's single event as before.
      expect(rows()).toEqual([
        { seq: 5, first_seq: 1 },
        { seq: 8, first_seq: 6 },
        { seq: 1, first_seq: null },
      ]);
      expect(text(store.eventsAfter('j', 3, 100))).toEqual(range(4, 8));
      expect(text(store.eventsAfter('j', 8, 100))).toEqual([]);
      expect(text(store.eventsAfter('k', 0, 100))).toEqual(range(1, 1));
    } finally {
      close();
    }
  });

  it('writes a row once it holds 256 events, and a replay page never holds more than asked', () => {
    const { store, rows, close } = setUp();
    try {
      store.transaction(() => {
        for (let seq = 1; seq <= 600; seq++) store.appendEvent('j', seq, ev(seq));
      });
      store.flush();
      expect(rows()).toEqual([
        { seq: 256, first_seq: 1 },
        { seq: 512, first_seq: 257 },
        { seq: 600, first_seq: 513 },
      ]);
      expect(text(store.eventsAfter('j', 250, 10))).toEqual(range(251, 260));
      const all: string[] = [];
      for (let after = 0; ; ) {
        const page = store.eventsAfter('j', after, 100);
        expect(page.length).toBeLessThanOrEqual(100);
        if (page.length === 0) break;
        all.push(...text(page));
        after = page.at(-1)!.seq;
      }
      expect(all).toEqual(range(1, 600));
    } finally {
      close();
    }
  });

  it('forgets the events of a section that rolled back, and keeps those written before it', () => {
    const { store, close } = setUp();
    try {
      store.transaction(() => store.appendEvent('j', 1, ev(1)));
      expect(() =>
        store.transaction(() => {
          store.appendEvent('j', 2, ev(2));
          // A read in the section writes them; the rollback takes that back too.
          expect(text(store.eventsAfter('j', 0, 10))).toEqual(range(1, 2));
          store.appendEvent('j', 3, ev(3));
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(text(store.eventsAfter('j', 0, 10))).toEqual(range(1, 1));
      store.transaction(() => store.appendEvent('j', 2, ev(2)));
      store.flush();
      expect(text(store.eventsAfter('j', 0, 10))).toEqual(range(1, 2));
      expect(store.lastSeq('j')).toBe(2);
    } finally {
      close();
    }
  });
});
