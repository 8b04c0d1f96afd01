/** Test helpers: a captured stream, runCli in-process, a temporary folder with configs. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { runCli } from '../src/index.js';

/** A writable that keeps what it is given (and calls `onLine` per line). */
export function capture(onLine?: (line: string) => void): Writable & { text: () => string } {
  let text = '';
  const w = new Writable({
    write(chunk, _enc, done) {
      const s = String(chunk);
      text += s;
      if (onLine != null) for (const line of s.split('\n')) if (line !== '') onLine(line);
      done();
    },
  }) as Writable & { text: () => string };
  w.text = () => text;
  return w;
}

/** runCli with captured streams: `{ code, out, err }`. */
export async function cli(argv: string[], options: { signal?: { readonly aborted: boolean }; onLine?: (line: string) => void } = {}): Promise<{ code: number; out: string; err: string }> {
  const stdout = capture(options.onLine);
  const stderr = capture();
  const code = await runCli(argv, { stdout, stderr, ...(options.signal != null ? { signal: options.signal } : {}) });
  return { code, out: stdout.text(), err: stderr.text() };
}

/** A fresh temporary folder. */
export const tmp = (prefix: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `bilevel-cli-${prefix}-`));

/** Writes `text` to `dir/name` and returns the path. */
export function write(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** The tiny config of the CI tests: 2 crops 16×16, 6 MAID iterations on smoothed TV. */
export const TINY = `task: { kind: denoise, sigma: 0.1 }
data: { crop: 16, count: 2, testCount: 2 }
model: { kind: tv }
strategy: { kind: implicit }
method: { kind: maid }
budget: { iterations: 6 }
output: { checkpointEvery: 2, images: 2 }
`;
