import { it, expect, describe, vi, afterAll } from 'vitest';
import { tf, initBackend } from '../src/index.js';
import { activate } from '../src/internal/backend-start.js';

describe('initBackend', () => {
  afterAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('auto falls back to wasm when tfjs-node is not installed, and logs the choice and why, once', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const name = await initBackend({ backend: 'auto' });
    await initBackend({ backend: 'auto' });
    // tfjs-node cannot be installed on the CI machine (its install downloads libtensorflow).
    expect(name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    const lines = log.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('[bilevel]'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/backend: wasm \(auto; not started: tensorflow: @tensorflow\/tfjs-node-gpu is not installed; @tensorflow\/tfjs-node is not installed\)/);
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
    await expect(initBackend({ backend: 'gpu' as never })).rejects.toThrow(/unknown backend 'gpu' \(from option backend\); use one of auto, tensorflow, webgpu, webgl, wasm, cpu/);
    process.env.BILEVEL_BACKEND = 'gpu';
    try {
      await expect(initBackend()).rejects.toThrow(/from BILEVEL_BACKEND/);
    } finally {
      delete process.env.BILEVEL_BACKEND;
    }
  });

  it("'tensorflow' without tfjs-node installed is an error that names the backend, the cause and the fix", async () => {
    await initBackend({ backend: 'wasm', log: false });
    await expect(initBackend({ backend: 'tensorflow', log: false })).rejects.toThrow(
      /initBackend: backend 'tensorflow' could not start: @tensorflow\/tfjs-node-gpu is not installed; @tensorflow\/tfjs-node is not installed\. Fix: install @tensorflow\/tfjs-node/,
    );
    // no silent fallback: the previous backend stays active
    expect(tf.getBackend()).toBe('wasm');
  });

  it("'webgl' outside a browser is an error, not a silent fallback", async () => {
    await initBackend({ backend: 'wasm', log: false });
    await expect(initBackend({ backend: 'webgl', log: false })).rejects.toThrow(
      /initBackend: backend 'webgl' could not start: WebGL exists only in a browser .* Fix: run in a browser with WebGL .* or use backend 'wasm'/,
    );
    expect(tf.getBackend()).toBe('wasm');
  });

  it("'webgpu' imports the optional package and says why it cannot start here", async () => {
    // @tensorflow/tfjs-backend-webgpu is a devDependency of core, so the import succeeds;
    // Node 20 has no navigator.gpu, which the error must name.
    await expect(initBackend({ backend: 'webgpu', log: false })).rejects.toThrow(
      /initBackend: backend 'webgpu' could not start: WebGPU \(navigator\.gpu\) is not available in this runtime\. Fix: install @tensorflow\/tfjs-backend-webgpu/,
    );
    expect(tf.getBackend()).toBe('wasm');
  });

  it('unknown option keys and malformed wasmPaths are errors naming the option and the fix', async () => {
    await expect(initBackend({ backnd: 'cpu' } as never)).rejects.toThrow(/initBackend: unknown option 'backnd'; did you mean 'backend'\? The options are backend, wasmPaths, startTimeoutMs, log/);
    await expect(initBackend({ wasmPaths: '/assets/wasm' })).rejects.toThrow(/option 'wasmPaths' must be a folder URL ending in '\/' or an object, got '\/assets\/wasm'; e\.g\. wasmPaths: '\/assets\/tfjs-wasm\/'/);
    await expect(initBackend({ wasmPaths: 3 as never })).rejects.toThrow(/option 'wasmPaths' must be a folder URL/);
    await expect(initBackend({ wasmPaths: { 'tfjs-backend-wasm.wasm': '/a.wasm', simd: '/b.wasm' } as never })).rejects.toThrow(/unknown option 'wasmPaths.simd'/);
    await expect(initBackend({ startTimeoutMs: 0 })).rejects.toThrow(/option 'startTimeoutMs' must be a finite number > 0, got 0/);
    // the wasm binaries are fetched once: a late wasmPaths cannot take effect and says so
    await expect(initBackend({ backend: 'wasm', wasmPaths: '/assets/wasm/' })).rejects.toThrow(/option 'wasmPaths' arrived after the wasm backend had already started/);
  });

  it('a backend whose start fails or hangs is reported, and the previous backend is active again', async () => {
    await initBackend({ backend: 'wasm', log: false });
    // tfjs itself leaves its engine on a backend whose start failed; activate must undo that.
    tf.registerBackend('bilevel-test-failing', async () => {
      throw new Error('no device here');
    });
    tf.registerBackend('bilevel-test-hanging', () => new Promise(() => {}));
    try {
      expect(await activate('bilevel-test-failing')).toEqual({ ok: false, reason: 'no device here' });
      expect(tf.getBackend()).toBe('wasm');
      const started = Date.now();
      expect(await activate('bilevel-test-hanging', 200)).toEqual({ ok: false, reason: 'it did not finish starting within 0.2 s' });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(tf.getBackend()).toBe('wasm');
      // ops work on the restored backend (tfjs would otherwise say the hanging one "has not yet been initialized")
      expect(tf.sum(tf.ones([3])).dataSync()[0]).toBe(3);
    } finally {
      tf.removeBackend('bilevel-test-failing');
      tf.removeBackend('bilevel-test-hanging');
    }
  });
});
