import { Option, type Command } from 'commander';
import type { Runner } from '../cli';
import type { CliContext } from '../context';
import { DEMO_DATA_DIR } from '../demo/data';
import {
  JOB_KIND_NAMES,
  JOB_STATE_NAMES,
  MAX_ATTEMPTS,
  checkAddress,
  intInRange,
  parseDelimiter,
  parseDuration,
  parseIfExists,
  parseJobName,
  parseJobState,
  parseRequestId,
  parseSize,
} from '../input/options';
import type { DemoCommandOptions } from './demo';
import type { FetchCommandOptions } from './fetch';
import type { JobsCommandOptions } from './jobs';
import type { ResultsCommandOptions } from './results';
import type { StatsCommandOptions } from './stats';
import type { UpCommandOptions } from './up';
import type { WatchCommandOptions } from './watch';
import type { WorkersCommandOptions } from './workers';

/*
 * The command line of every command: arguments, options and help. The work of a
 * command is in its own module (./fetch, ./up, …), loaded only once that command
 * runs: they bring in gRPC, the SDK, progress bars, child processes and an HTTP
 * server, and `spindle --help` took 128 ms of CPU with all of them loaded, 72 ms
 * without. So this module, and the option parsers it uses, load none of that.
 */

/** The module that does each command's work. */
interface CommandModules {
  up: typeof import('./up');
  demo: typeof import('./demo');
  fetch: typeof import('./fetch');
  stats: typeof import('./stats');
  jobs: typeof import('./jobs');
  watch: typeof import('./watch');
  cancel: typeof import('./cancel');
  results: typeof import('./results');
  workers: typeof import('./workers');
}

/**
 * Loads a command's module. Node loads the compiled module with require() (the
 * bundler puts every `./*.js` here in the CLI's bundle, each run only when loaded).
 * Tests run the TypeScript sources in-process under vitest, where require() cannot
 * load a .ts file; there import() goes through vitest's transform.
 */
async function load<K extends keyof CommandModules>(name: K): Promise<CommandModules[K]> {
  if (__filename.endsWith('.ts')) return (await import(`./${name}.ts`)) as CommandModules[K];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(`./${name}.js`) as CommandModules[K];
}

/** Options shared by the commands that submit a job. */
function addSubmitOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--name <label>', 'label shown in job listings (at most 200 characters)').argParser(parseJobName))
    .addOption(
      new Option('--attempts <n>', `attempts per item, first one included (1-${MAX_ATTEMPTS})`).argParser(
        intInRange(1, MAX_ATTEMPTS),
      ),
    )
    .addOption(
      new Option(
        '--request-id <id>',
        'idempotency key, 1-128 printable ASCII characters: re-running with the same id returns the first job (default: random)',
      ).argParser(parseRequestId),
    )
    .option('--detach', 'print the job id and return without waiting', false);
}

/** The CSV dialect options (`stats`, and `fetch --stats`). */
function addDialectOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--delimiter <char>', 'CSV field delimiter (default ","; \\t or tab for tabs)').argParser(parseDelimiter),
    )
    .option('--no-header', 'the first CSV line is data; columns are named column_1, column_2, …');
}

/** Adds every command to `program`; each action records its exit code through `run`. */
export function defineCommands(program: Command, ctx: CliContext, run: Runner): void {
  program
    .command('up')
    .description('run a local coordinator with one fetch and one stats worker until Ctrl-C')
    .option('--data-root <dir>', 'folder the workers download into and read CSV files from (default: current folder)')
    .option('--state <dir>', 'folder for the SQLite state and the log', '.spindle')
    .addOption(
      new Option('--port <n>', 'port to listen on; 0 = any free port (default: the port of --addr)').argParser(
        intInRange(0, 65535),
      ),
    )
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .addOption(
      new Option('--log-level <level>', 'log level of the services')
        .choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal'])
        .default('info'),
    )
    .option('--allow-loopback', 'let the fetch worker download from 127.0.0.0/8', false)
    .addOption(
      new Option('--metrics-addr <host:port>', "coordinator's Prometheus endpoint (default: off)").argParser((v: string) =>
        checkAddress(v, true),
      ),
    )
    .addOption(
      new Option('--stop-timeout <ms>', 'how long each service may take to stop before it is killed')
        .argParser(intInRange(100, 600_000))
        .default(35_000),
    )
    .action(async (_opts: unknown, command: Command) =>
      run(command, async (globals) => (await load('up')).runUp(ctx, globals, command.opts<UpCommandOptions>())),
    );

  program
    .command('demo')
    .description(
      'run everything locally: start a private stack, download the bundled CSV files over HTTP, ' +
        'compute their statistics, write results.csv',
    )
    .option('-o, --output <file>', 'where to write the results table', 'results.csv')
    .option('--data-dir <dir>', 'serve the CSV files of this folder instead of the bundled ones', DEMO_DATA_DIR)
    .action(async (_opts: unknown, command: Command) =>
      run(command, async (globals) => (await load('demo')).runDemo(ctx, globals, command.opts<DemoCommandOptions>())),
    );

  const fetch = program
    .command('fetch')
    .description('download URLs on the fetch workers and wait for them')
    .argument('[urls...]', 'http or https URLs')
    .option(
      '-i, --input <file>',
      "UTF-8 URL list, one per line: URL [SHA256] [FILE_NAME]; '#' at line start or after a space starts a comment ('-' = stdin)",
    )
    .option('-o, --output-dir <dir>', 'folder under the worker data root (default: jobs/<job id>)')
    .option('--sha256 <hex>', 'expected SHA-256 of the single URL given')
    .addOption(new Option('--size <size>', 'expected size of the single URL given, e.g. 1048576').argParser(parseSize))
    .addOption(
      new Option('--if-exists <policy>', 'when the file exists: overwrite, skip (when identical) or rename').argParser(
        parseIfExists,
      ),
    )
    .addOption(new Option('--per-host <n>', 'most downloads at once from one host, per worker').argParser(intInRange(1, 10_000)))
    .addOption(new Option('--timeout <duration>', 'longest attempt per item, e.g. 30s, 2m').argParser(parseDuration))
    .addOption(new Option('--connect-timeout <duration>', 'time to connect').argParser(parseDuration))
    .addOption(new Option('--headers-timeout <duration>', 'time until the response headers').argParser(parseDuration))
    .addOption(new Option('--idle-timeout <duration>', 'longest wait for the next body bytes').argParser(parseDuration))
    .addOption(new Option('--max-bytes <size>', 'largest body accepted, e.g. 100MiB').argParser(parseSize))
    .addOption(new Option('--max-redirects <n>', 'most redirects followed (0: none)').argParser(intInRange(0, 100)))
    .addOption(new Option('--backoff <duration>', 'delay before the first retry (doubles each retry)').argParser(parseDuration))
    .addOption(new Option('--max-backoff <duration>', 'longest delay between retries').argParser(parseDuration))
    .option('-q, --quiet', 'no line per downloaded item: failures and the summary only', false)
    .option('--stats', 'then compute the statistics of each downloaded CSV file', false)
    .option('--results <file>', 'with --stats: write the results table as CSV to this file');
  addSubmitOptions(addDialectOptions(fetch)).action(async (urls: string[], _opts: unknown, command: Command) =>
    run(command, async (globals) =>
      (await load('fetch')).runFetch(ctx, globals, urls, command.opts<FetchCommandOptions>()),
    ),
  );

  const stats = program
    .command('stats')
    .description('compute statistics of CSV files on the stats workers and wait for them')
    .argument('<files...>', "CSV files (inside the workers' data root) or http(s) URLs")
    .option('-o, --output <file>', 'write the results table (one row per file) as CSV to this file')
    .option('--columns-output <file>', 'write the per-column statistics (one row per file and column) as CSV to this file');
  addSubmitOptions(addDialectOptions(stats)).action(async (files: string[], _opts: unknown, command: Command) =>
    run(command, async (globals) =>
      (await load('stats')).runStats(ctx, globals, files, command.opts<StatsCommandOptions>()),
    ),
  );

  program
    .command('jobs')
    .description('list jobs, newest first')
    .addOption(
      new Option('--state <state>', `only jobs in this state (${JOB_STATE_NAMES.join(', ')})`).argParser(parseJobState),
    )
    .addOption(new Option('--kind <kind>', 'only jobs of this kind').choices(JOB_KIND_NAMES))
    .addOption(new Option('--limit <n>', 'most jobs listed').argParser(intInRange(1, 100_000)).default(20))
    .action(async (_opts: unknown, command: Command) =>
      run(command, async (globals) => (await load('jobs')).runJobs(ctx, globals, command.opts<JobsCommandOptions>())),
    );

  program
    .command('watch')
    .description("follow a job's progress until it ends (resumable with --after-seq)")
    .argument('<job-id>', 'the job')
    .addOption(
      new Option('--after-seq <n>', 'only events after this sequence number (0 = replay all)')
        .argParser(intInRange(0, Number.MAX_SAFE_INTEGER))
        .default(0),
    )
    .action(async (jobId: string, _opts: unknown, command: Command) =>
      run(command, async (globals) =>
        (await load('watch')).runWatch(ctx, globals, jobId, command.opts<WatchCommandOptions>()),
      ),
    );

  program
    .command('cancel')
    .description('cancel a job: pending items are dropped, running ones are stopped')
    .argument('<job-id>', 'the job')
    .action(async (jobId: string, _opts: unknown, command: Command) =>
      run(command, async (globals) => (await load('cancel')).runCancel(ctx, globals, jobId)),
    );

  program
    .command('results')
    .description("export a job's results table as CSV or JSON")
    .argument('<job-id>', 'the job')
    .addOption(new Option('--format <format>', 'table format (default csv, or json with --json)').choices(['csv', 'json']))
    .addOption(
      new Option('--table <table>', 'summary: one row per file; columns: one row per file and column (stats jobs)')
        .choices(['summary', 'columns'])
        .default('summary'),
    )
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .action(async (jobId: string, _opts: unknown, command: Command) =>
      run(command, async (globals) =>
        (await load('results')).runResults(ctx, globals, jobId, command.opts<ResultsCommandOptions>()),
      ),
    );

  program
    .command('workers')
    .description('list the workers connected to the coordinator')
    .addOption(new Option('--kind <kind>', 'only workers of this kind').choices(['fetch', 'stats']))
    .action(async (_opts: unknown, command: Command) =>
      run(command, async (globals) =>
        (await load('workers')).runWorkers(ctx, globals, command.opts<WorkersCommandOptions>()),
      ),
    );
}
