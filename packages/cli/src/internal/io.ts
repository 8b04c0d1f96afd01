/** Where a command writes, and how it is stopped: the process's streams, or a test's. */
import type { Writable } from 'node:stream';

/** The streams and stop signal of one command run. */
export interface CliIo {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  /** Stops a training run as Ctrl-C does (after the current iteration, with a checkpoint). */
  signal?: { readonly aborted: boolean };
  /** Handle SIGINT (Ctrl-C) in this process (the binary: true; tests calling {@link runCli}: false). */
  handleSigint?: boolean;
}

/** One line on a stream. */
export const say = (stream: Writable, line = ''): void => {
  stream.write(`${line}\n`);
};

/**
 * Runs `body` with `console.log` sent to stderr (for `--json`: stdout carries only the
 * result; libraries' info lines such as the backend's go to stderr).
 */
export async function withLogsOnStderr<T>(on: boolean, body: () => Promise<T>): Promise<T> {
  if (!on) return body();
  const log = console.log;
  const info = console.info;
  console.log = (...args: unknown[]) => console.error(...args);
  console.info = console.log;
  try {
    return await body();
  } finally {
    console.log = log;
    console.info = info;
  }
}
