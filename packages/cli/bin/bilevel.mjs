#!/usr/bin/env node
// The `bilevel` binary. In an installed package it runs dist/main.js. In the bilevel
// repository (src/ next to this folder and tsx installed) it runs the TypeScript sources
// through tsx with the `@bilevel/source` condition, so nothing needs building first and a
// stale dist/ is never used.
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../src/main.ts', import.meta.url));
let tsx;
if (existsSync(source)) {
  try {
    // The loader's own URL: `--import tsx` would resolve it from the working directory.
    tsx = import.meta.resolve('tsx');
  } catch {
    tsx = undefined;
  }
}
if (tsx === undefined) {
  await import('../dist/main.js');
} else {
  const child = spawn(process.execPath, ['--conditions=@bilevel/source', '--import', tsx, source, ...process.argv.slice(2)], { stdio: 'inherit' });
  // Ctrl-C: forwarded to the child (a terminal also sends it to the whole process group;
  // the child counts two SIGINTs within half a second as one), which writes its checkpoint
  // and exits 130; this process exits with the child's code.
  process.on('SIGINT', () => child.kill('SIGINT'));
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)));
}
