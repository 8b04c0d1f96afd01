import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmp, write, TINY } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, '..', 'bin', 'bilevel.mjs');

/** Runs the `bilevel` binary; `onStdout` may send it a signal. */
function bilevel(args: string[], cwd: string, onStdout?: (text: string, kill: (s: NodeJS.Signals) => void) => void): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, NODE_OPTIONS: '' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
      onStdout?.(out, (s) => child.kill(s));
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => done({ code, out, err }));
  });
}

describe('the bilevel binary', () => {
  it('an error after the wasm backend started: one line on stderr and exit 1 (not exit 7 and a 40 KB dump)', async () => {
    const r = await bilevel(['check', path.join(here, 'fixtures', 'throws-later.mjs')], here);
    expect(r.code).toBe(1);
    expect(r.err).toContain('boom from the module');
    expect(r.err.length).toBeLessThan(1000);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('Ctrl-C (SIGINT) stops after the current iteration, writes the checkpoint, exits 130; --resume finishes', async () => {
    const dir = tmp('sigint');
    const file = write(dir, 'tiny.yaml', TINY);
    let sent = false;
    const r = await bilevel(['train', file], dir, (text, kill) => {
      if (!sent && /^MAID\s+2\//m.test(text)) {
        sent = true;
        kill('SIGINT');
      }
    });
    expect(r.code).toBe(130);
    expect(r.err).toContain('stopped after');
    const checkpoint = JSON.parse(fs.readFileSync(path.join(dir, 'runs', 'tiny', 'checkpoint.json'), 'utf8'));
    expect(checkpoint.iterations).toBeGreaterThanOrEqual(2);
    expect(checkpoint.iterations).toBeLessThan(6);
    const resumed = await bilevel(['train', file, '--resume', '--json'], dir);
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.out).iterations).toBe(6);
  });
});
