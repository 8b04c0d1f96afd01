/**
 * Process-level manners: tfjs-wasm's Emscripten module installs `uncaughtException` and
 * `unhandledRejection` listeners that rethrow, so Node prints the throwing line — the
 * backend's ~40 KB of minified code — and exits with code 7. {@link handleProcessErrors}
 * replaces them with one that prints the error's message and exits 1 (2 for a usage error).
 *
 * @packageDocumentation
 */
import { describeError } from './errors.js';

/** Whether a listener is one of Emscripten's rethrowing handlers. */
function isEmscriptenListener(listener: (...args: never[]) => void): boolean {
  const text = Function.prototype.toString.call(listener);
  return /ExitStatus/.test(text) || /^function\s*\(reason\)\s*\{\s*throw reason;?\s*\}$/.test(text.trim());
}

let installed = false;

/**
 * Removes tfjs-wasm's rethrowing process handlers and installs one that prints an uncaught
 * error (or unhandled rejection) as one line on stderr and exits 1 (2 for a
 * {@link UsageError}); `BILEVEL_DEBUG=1` prints the stack instead. Call it after
 * `initBackend()` (the wasm module adds its handlers when it loads); calling it again also
 * removes handlers a later backend added. Idempotent.
 *
 * @param where - a prefix for the message (the script's name).
 * @example
 * ```ts
 * await initBackend();
 * handleProcessErrors('tv-denoise');
 * ```
 */
export function handleProcessErrors(where = 'bilevel'): void {
  for (const l of process.listeners('uncaughtException')) if (isEmscriptenListener(l)) process.removeListener('uncaughtException', l);
  for (const l of process.listeners('unhandledRejection')) if (isEmscriptenListener(l)) process.removeListener('unhandledRejection', l);
  if (installed) return;
  installed = true;
  const report = (error: unknown) => {
    const { code, message } = describeError(error);
    process.stderr.write(`${message.startsWith(where) ? '' : `${where}: `}${message}\n`);
    process.exit(code);
  };
  process.on('uncaughtException', report);
  process.on('unhandledRejection', report);
}
