import { it, expect, describe, vi } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, initBackend } from '../src/index.js';

// Own file, hence own process: a wasm start that failed cannot be retried in that process.
describe('initBackend with the .wasm files missing', () => {
  it("an explicit 'wasm' throws naming the file; 'auto' falls back to cpu and logs why", async () => {
    const empty = mkdtempSync(join(tmpdir(), 'bilevel-nowasm-'));
    await expect(initBackend({ backend: 'wasm', wasmPaths: `${empty}/`, log: false })).rejects.toThrow(
      new RegExp(`initBackend: backend 'wasm' could not start: .*ENOENT.*${empty}/tfjs-backend-wasm.*\\.wasm.*Fix: reinstall @tensorflow/tfjs-backend-wasm`),
    );
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await initBackend({ backend: 'auto' })).toBe('cpu');
      const lines = log.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('[bilevel]'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/backend: cpu \(auto; not started: tensorflow: .*; wasm: .*ENOENT/);
    } finally {
      log.mockRestore();
    }
    expect(tf.getBackend()).toBe('cpu');
  });
});
