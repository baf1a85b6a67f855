/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
 * Never edit a released entry: append a new one.
 */
export const migrations: string[] = [
  `
  CREATE TABLE jobs (
    id         TEXT PRIMARY KEY,
    request_id TEXT UNIQUE,
    kind       INTEGER NOT NULL,
    state      INTEGER NOT NULL,
    name       TEXT NOT NULL,
    spec       BLOB NOT NULL,      -- encoded spindle.v1.JobSpec
    create_ms  INTEGER NOT NULL,
    start_ms   INTEGER,
    end_ms     INTEGER,
    last_seq   INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX jobs_by_create ON jobs (create_ms DESC, id DESC);
  CREATE INDEX jobs_active ON jobs (state) WHERE state IN (1, 2);

  CREATE TABLE tasks (
    id        TEXT PRIMARY KEY,    -- "<job id>/<f|s>/<index>"
    job_id    TEXT NOT NULL REFERENCES jobs (id),
    idx       INTEGER NOT NULL,
    kind      INTEGER NOT NULL,
    state     INTEGER NOT NULL,
    attempt   INTEGER NOT NULL DEFAULT 0,
    worker_id TEXT NOT NULL DEFAULT '',
    target    TEXT NOT NULL,
    spec      BLOB NOT NULL,       -- encoded FetchTask or StatsTask
    outcome   BLOB,                -- encoded spindle.v1.TaskResult, once terminal
    bytes     INTEGER NOT NULL DEFAULT 0,
    rows      INTEGER NOT NULL DEFAULT 0
  );
  CREATE UNIQUE INDEX tasks_by_job ON tasks (job_id, idx, kind);

  CREATE TABLE events (
    job_id TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    data   BLOB NOT NULL,          -- encoded spindle.v1.JobEvent
    PRIMARY KEY (job_id, seq)
  ) WITHOUT ROWID;
  `,
  // What a task's retries must remember across a coordinator restart: the last HTTP
  // status any failed attempt saw (for the final error), and when the next attempt
  // may start (a backoff or a server's Retry-After).
  `
  ALTER TABLE tasks ADD COLUMN http_status INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE tasks ADD COLUMN not_before_ms INTEGER NOT NULL DEFAULT 0;
  `,
  // Attempts of a task that did not count against its retry policy (a worker cancelled
  // them itself while draining, or a coordinator shutdown took them back): the attempt
  // number stays unique per assignment, and attempts used = attempt - free_attempts.
  `
  ALTER TABLE tasks ADD COLUMN free_attempts INTEGER NOT NULL DEFAULT 0;
  `,
  // Several consecutive events of a job in one row: \`seq\` is the last one's, \`first_seq\`
  // the first one's, and \`data\` their encodings, each preceded by its length (a
  // protobuf varint). Rows of one event keep first_seq NULL and data one JobEvent.
  `
  ALTER TABLE events ADD COLUMN first_seq INTEGER;
  `,
  // A finished job's task counts and totals, written when it ends, so that reading a
  // finished job (GetJob, ListJobs) needs no pass over its tasks; NULL while it runs.
  // Jobs that ended before get theirs from their tasks, once, here.
  `
  ALTER TABLE jobs ADD COLUMN tasks_succeeded INTEGER;
  ALTER TABLE jobs ADD COLUMN tasks_failed INTEGER;
  ALTER TABLE jobs ADD COLUMN tasks_cancelled INTEGER;
  ALTER TABLE jobs ADD COLUMN bytes_done INTEGER;
  ALTER TABLE jobs ADD COLUMN rows_done INTEGER;
  UPDATE jobs SET (tasks_succeeded, tasks_failed, tasks_cancelled, bytes_done, rows_done) = (
    SELECT count(*) FILTER (WHERE state = 3), count(*) FILTER (WHERE state = 4), count(*) FILTER (WHERE state = 5),
           coalesce(sum(bytes), 0), coalesce(sum(rows), 0)
    FROM tasks WHERE job_id = jobs.id
  ) WHERE state IN (3, 4, 5);
  `,
];
