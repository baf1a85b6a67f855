import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import type { CliContext, GlobalOptions } from './context';
import { CliError, ExitCode, Interrupted, errorMessage } from './errors';
import { checkAddress } from './input/options';
import { defineCommands } from './commands/definitions';

/** The default coordinator address when neither --addr nor SPINDLE_ADDR is given. */
export const DEFAULT_ADDR = '127.0.0.1:7070';

/** Runs one command and reports its exit code; commands never exit the process. */
export type CommandBody = (globals: GlobalOptions) => Promise<number>;

/** Binds a command's work to its commander action and records the exit code. */
export type Runner = (command: Command, body: CommandBody) => Promise<void>;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Builds the `spindle` program. `result.exitCode` holds the action's exit code after parsing. */
export function createProgram(ctx: CliContext, result: { exitCode: number }): Command {
  const program = new Command('spindle')
    .description('Bulk downloads and CSV statistics on a Spindle coordinator, with live progress.')
    .version(version(), '-V, --version')
    .addOption(
      new Option('--addr <host:port>', 'coordinator address (env SPINDLE_ADDR)')
        .default(ctx.env.SPINDLE_ADDR || DEFAULT_ADDR)
        .argParser((v: string) => checkAddress(v)),
    )
    .option('--json', 'machine-readable output: JSON Lines for streams, one JSON document otherwise', false)
    .option('--no-progress', 'plain lines instead of progress bars, even on a terminal')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => void ctx.stdout.write(s),
      writeErr: (s) => void ctx.stderr.write(s),
    })
    // Usage errors become exit code 2 in runCli instead of commander exiting the process.
    .exitOverride();

  const run: Runner = async (command, body) => {
    const opts = command.optsWithGlobals<GlobalOptions>();
    result.exitCode = await body({ addr: opts.addr, json: opts.json, progress: opts.progress });
  };

  defineCommands(program, ctx, run);
  return program;
}

/**
 * Parses `argv` (user arguments only, without node and the script) and runs the
 * command. Returns the exit code: 0 ok, 1 failure, 2 usage, 3 coordinator
 * unreachable, 130 interrupted. Prints errors to stderr; never throws.
 */
export async function runCli(argv: readonly string[], ctx: CliContext): Promise<number> {
  const result = { exitCode: ExitCode.Ok as number };
  const program = createProgram(ctx, result);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return result.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end with exitCode 0; everything else commander rejects is usage.
      return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    if (err instanceof Interrupted || (ctx.signal.aborted && ctx.signal.reason === err)) {
      ctx.stderr.write(`interrupted${err instanceof Interrupted ? ` by ${err.signalName}` : ''}\n`);
      return ExitCode.Interrupted;
    }
    if (err instanceof CliError) {
      ctx.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    ctx.stderr.write(`error: ${err instanceof Error && err.stack ? err.stack : errorMessage(err)}\n`);
    return ExitCode.Failure;
  }
}
