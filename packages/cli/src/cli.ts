/**
 * The `bilevel` command line as a function: {@link runCli} dispatches `train`, `eval`,
 * `check`, `worker` and `schema`, prints one clear line for a user error and returns the exit code
 * (0 ok, 1 failure, 2 usage, 130 Ctrl-C).
 *
 * @packageDocumentation
 */
import { checkOptions, opt } from '@bilevel/core';
import { describeError, EXIT_USAGE, UsageError } from './errors.js';
import { suggest } from './flags.js';
import { configJsonSchema } from './config/schema.js';
import { say, type CliIo } from './internal/io.js';
import { mainHelp, trainHelp } from './internal/help.js';
import { packageVersion } from './internal/version.js';
import { trainCommand, TRAIN_FLAGS } from './internal/commands/train.js';
import { evalCommand, EVAL_FLAGS, evalHelp } from './internal/commands/eval.js';
import { checkCommand, CHECK_FLAGS, checkHelp } from './internal/commands/check.js';
import { workerCommand, WORKER_FLAGS, workerHelp } from './internal/commands/worker.js';

const COMMANDS = ['train', 'eval', 'check', 'worker', 'schema'] as const;

/** The commands that parse their own flags: the command, and its --help text. */
const RUNNERS = {
  train: { command: trainCommand, help: () => trainHelp(TRAIN_FLAGS) },
  eval: { command: evalCommand, help: () => evalHelp(EVAL_FLAGS) },
  check: { command: checkCommand, help: () => checkHelp(CHECK_FLAGS) },
  worker: { command: workerCommand, help: () => workerHelp(WORKER_FLAGS) },
} as const;

/** Options of {@link runCli}. */
export type RunCliOptions = Partial<CliIo>;

const stream = opt.custom('a writable stream (process.stdout, a stream.Writable)', (v) => typeof (v as { write?: unknown } | null)?.write === 'function');
const RUN_CLI_SCHEMA = {
  stdout: stream,
  stderr: stream,
  signal: opt.custom('an AbortSignal or any { aborted: boolean }', (v) => typeof (v as { aborted?: unknown } | null)?.aborted === 'boolean'),
  handleSigint: opt.boolean(),
};

/**
 * Runs one `bilevel` command.
 *
 * @param argv - the arguments after `bilevel` (e.g. `['train', 'run.yaml', '--resume']`).
 * @param options - streams (default the process's), `signal` (stops training like Ctrl-C),
 *   `handleSigint` (default false; the binary sets it).
 * @returns the exit code: 0 ok, 1 failure, 2 usage error, 130 stopped (checkpoint written).
 * @example
 * ```ts
 * const code = await runCli(['train', 'configs/tv.yaml', '--quiet']);
 * ```
 */
export async function runCli(argv: readonly string[], options: RunCliOptions = {}): Promise<number> {
  checkOptions('runCli', options, RUN_CLI_SCHEMA);
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) throw new Error("runCli: 'argv' must be an array of strings (the arguments after 'bilevel').");
  const io: CliIo = { stdout: options.stdout ?? process.stdout, stderr: options.stderr ?? process.stderr, ...(options.signal != null ? { signal: options.signal } : {}), handleSigint: options.handleSigint ?? false };
  const [command, ...rest] = argv;
  try {
    if (command == null || command === '--help' || command === '-h' || command === 'help') {
      say(io.stdout, mainHelp(packageVersion()));
      return command == null ? EXIT_USAGE : 0;
    }
    if (command === '--version' || command === '-v') {
      say(io.stdout, packageVersion());
      return 0;
    }
    const run = Object.hasOwn(RUNNERS, command) ? RUNNERS[command as keyof typeof RUNNERS] : undefined;
    if (run != null) {
      // a command returns -1 for --help
      const code = await run.command(rest, io);
      if (code === -1) say(io.stdout, run.help());
      return Math.max(code, 0);
    }
    switch (command) {
      case 'schema':
        if (rest.includes('--help') || rest.includes('-h')) {
          say(io.stdout, 'bilevel schema: print the JSON Schema of the train config (draft 2020-12), e.g. bilevel schema > bilevel.schema.json');
          return 0;
        }
        if (rest.length > 0) throw new UsageError(`bilevel schema: takes no arguments, got ${rest.join(' ')}.`);
        say(io.stdout, JSON.stringify(configJsonSchema(), null, 2));
        return 0;
      default:
        throw new UsageError(`bilevel: unknown command '${command}'${suggest(command, COMMANDS)}; the commands are ${COMMANDS.join(', ')} (bilevel --help).`);
    }
  } catch (e) {
    const { code, message } = describeError(e);
    say(io.stderr, message.startsWith('bilevel') || message.includes('\n') ? message : `bilevel ${command}: ${message}`);
    return code;
  }
}
