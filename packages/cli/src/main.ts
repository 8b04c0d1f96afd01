/**
 * The `bilevel` process: runs {@link runCli} on the process's arguments and exits with its
 * code. Loaded by bin/bilevel.mjs (from dist/ in an installed package, from src/ through tsx
 * in the repository).
 *
 * @packageDocumentation
 */
import { runCli } from './cli.js';
import { handleProcessErrors } from './process.js';

handleProcessErrors('bilevel');
void runCli(process.argv.slice(2), { handleSigint: true }).then((code) => {
  // Flush stdout before exiting (a pipe may still hold the JSON summary).
  process.stdout.write('', () => process.exit(code));
});
