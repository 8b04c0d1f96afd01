import { it, expect, describe, vi } from 'vitest';
import { copyFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { tf, initBackend } from '../src/index.js';

// Own file, hence own process: the wasm binaries are loaded once per process, so the
// location must be set before anything starts the wasm backend.
describe('initBackend wasmPaths', () => {
  it('loads the .wasm binaries from the given folder, and reports a wrong folder instead of falling back', async () => {
    const require = createRequire(import.meta.url);
    const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    const served = mkdtempSync(join(tmpdir(), 'bilevel-wasm-'));
    const binaries = readdirSync(dist).filter((f) => f.endsWith('.wasm'));
    expect(binaries.length).toBe(3);
    // Serve only copies of the binaries from a fresh folder: starting proves the option was used.
    for (const f of binaries) copyFileSync(join(dist, f), join(served, f));
    expect(await initBackend({ backend: 'wasm', wasmPaths: `${served}/`, log: false })).toBe('wasm');
    expect(tf.sum(tf.ones([4])).dataSync()[0]).toBe(4);
    // the same paths again are accepted (idempotent); different ones are refused
    expect(await initBackend({ backend: 'wasm', wasmPaths: `${served}/`, log: false })).toBe('wasm');
    await expect(initBackend({ wasmPaths: `${served}/other/` })).rejects.toThrow(/option 'wasmPaths' arrived after/);
  });
});
