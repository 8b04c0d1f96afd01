// The one loader of the library's WebAssembly SIMD modules (core's solver loops, imaging's TV
// and filter kernels): its base64 decoder (no Buffer / atob, for worker-like browser contexts)
// and its per-backend instantiation with the fallback to null.
import { it, expect, beforeAll } from 'vitest';
import { tf, initBackend, base64Bytes, wasmHeapModule } from '../src/index.js';
import { SOLVER_SIMD_WASM } from '../src/kernels/solver-simd-module.js';

beforeAll(async () => {
  await initBackend({ log: false });
});

it('base64Bytes decodes as Buffer does, for every padding length; a non-base64 digit is an error', () => {
  let seed = 7;
  for (let n = 0; n < 70; n++) {
    const bytes = Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) % 2147483648) & 0xff);
    const text = Buffer.from(bytes).toString('base64');
    expect(Array.from(base64Bytes(text))).toEqual(Array.from(bytes));
  }
  expect(() => base64Bytes('AG$z')).toThrow(/base64Bytes: '\$' is not a base64 digit/);
});

it('wasmHeapModule binds once per wasm backend and gives null elsewhere or for bytes the engine rejects', () => {
  let binds = 0;
  const loopsOf = wasmHeapModule(SOLVER_SIMD_WASM, (_b, e: { axpy: unknown }) => {
    binds++;
    return { axpy: e.axpy };
  });
  expect(tf.getBackend()).toBe('wasm');
  const a = loopsOf(tf.backend());
  expect(typeof a?.axpy).toBe('function');
  expect(loopsOf(tf.backend())).toBe(a);
  expect(binds).toBe(1);
  // Not a wasm backend (no heap): null, and bind is never called.
  expect(loopsOf({ wasm: {} })).toBeNull();
  expect(loopsOf(null)).toBeNull();
  // Bytes that are not a module: null (the callers then take their op form).
  expect(wasmHeapModule(Buffer.from('not wasm').toString('base64'), () => 1)(tf.backend())).toBeNull();
  expect(binds).toBe(1);
});
