/**
 * User-facing errors of the command line and their exit codes: a {@link UsageError} (a bad
 * command, flag or config: exit 2) or a {@link FailureError} (the run itself failed: exit 1).
 * Anything else is a bug and is reported with its stack.
 *
 * @packageDocumentation
 */

/** Exit code of a usage error (bad command, flag or config field). */
export const EXIT_USAGE = 2;
/** Exit code of a run that failed (a solver error, an unreadable image, a wrong gradient in `check`). */
export const EXIT_FAILURE = 1;
/** Exit code after Ctrl-C (128 + SIGINT), once the checkpoint is written. */
export const EXIT_INTERRUPTED = 130;

/**
 * A mistake in how the command was called: an unknown command or flag, a flag value of
 * the wrong kind, a config field outside what is allowed. Printed as one line; exit code 2.
 *
 * @example
 * ```ts
 * throw new UsageError("flag --crop must be a number, got 'big'.");
 * ```
 */
export class UsageError extends Error {
  /** Always {@link EXIT_USAGE}. */
  readonly exitCode = EXIT_USAGE;
  /**
   * @param message - what is wrong, the value, and what is allowed.
   */
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * A run that was called correctly but failed (a file that cannot be read, a check that
 * found a wrong gradient, a solver error). Printed as one line; exit code 1.
 *
 * @example
 * ```ts
 * throw new FailureError('cannot read images/a.png: not a PNG file.');
 * ```
 */
export class FailureError extends Error {
  /** Always {@link EXIT_FAILURE}. */
  readonly exitCode = EXIT_FAILURE;
  /**
   * @param message - what failed and, where known, the fix.
   */
  constructor(message: string) {
    super(message);
    this.name = 'FailureError';
  }
}

/**
 * The exit code and the one-line message for an error thrown inside a command.
 * Usage errors give 2, everything else 1. Errors thrown by the library itself (option
 * checks, solver errors: `Error` whose message starts with the function's name) are
 * user-facing too and print without a stack; set `BILEVEL_DEBUG=1` to see stacks.
 *
 * @param error - anything thrown.
 * @returns `{ code, message }`.
 * @example
 * ```ts
 * const { code, message } = describeError(new UsageError('bad'));   // { code: 2, message: 'bad' }
 * ```
 */
export function describeError(error: unknown): { code: number; message: string } {
  if (error instanceof UsageError) return { code: EXIT_USAGE, message: error.message };
  if (error instanceof FailureError) return { code: EXIT_FAILURE, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  const debug = typeof process !== 'undefined' && process.env.BILEVEL_DEBUG === '1';
  return { code: EXIT_FAILURE, message: debug && error instanceof Error && error.stack != null ? error.stack : message };
}
