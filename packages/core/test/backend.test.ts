import { it, expect, describe, vi, afterAll } from 'vitest';
import { tf, initBackend } from '../src/index.js';

describe('initBackend', () => {
  afterAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('auto falls back to wasm when tfjs-node is not installed, and logs the choice once', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const name = await initBackend({ backend: 'auto' });
    await initBackend({ backend: 'auto' });
    // tfjs-node cannot be installed on the CI machine (its install downloads libtensorflow).
    expect(name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(log.mock.calls.filter((c) => String(c[0]).includes('[bilevel]'))).toHaveLength(1);
    log.mockRestore();
  });

  it('an option forces a backend', async () => {
    expect(await initBackend({ backend: 'cpu', log: false })).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await initBackend({ backend: 'wasm', log: false })).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('the BILEVEL_BACKEND environment variable forces a backend when no option is given', async () => {
    process.env.BILEVEL_BACKEND = 'cpu';
    try {
      expect(await initBackend({ log: false })).toBe('cpu');
    } finally {
      delete process.env.BILEVEL_BACKEND;
    }
  });

  it('an unknown backend is an error naming its source', async () => {
    await expect(initBackend({ backend: 'webgpu' as never })).rejects.toThrow(/unknown backend 'webgpu' \(from option backend\)/);
    process.env.BILEVEL_BACKEND = 'gpu';
    try {
      await expect(initBackend()).rejects.toThrow(/from BILEVEL_BACKEND/);
    } finally {
      delete process.env.BILEVEL_BACKEND;
    }
  });

  it("'tensorflow' without tfjs-node installed is an error that names the fix", async () => {
    await expect(initBackend({ backend: 'tensorflow', log: false })).rejects.toThrow(/install one, or use backend 'wasm'/);
  });
});
