import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { tf, initBackend } from '../src/index.js';
import { useWasmKernels } from '../src/kernels/register.js';
import { sliceRuns } from '../src/kernels/slice-runs.js';

/*
 * bilevel's wasm Slice (slice-runs.ts) against tfjs-backend-wasm's stock kernel and against a
 * plain JS reference. A slice copies values, so the three must agree bit for bit (no
 * tolerance): every case compares with Object.is.
 */

type Case = { shape: number[]; begin: number[]; size: number[] };
const CASES: Case[] = [
  { shape: [1, 68, 68, 1], begin: [0, 0, 2, 0], size: [1, 68, 64, 1] },   // symmetric padding's adjoint, width
  { shape: [1, 68, 68, 1], begin: [0, 2, 0, 0], size: [1, 64, -1, 1] },   // ... height (contiguous)
  { shape: [1, 64, 68, 1], begin: [0, 0, 66, 0], size: [-1, -1, 2, -1] }, // a mirrored border
  { shape: [2, 5, 6, 3], begin: [0, 1, 2, 1], size: [2, 3, 2, 2] },       // every axis partial
  { shape: [2, 5, 6, 3], begin: [1, 0, 0, 0], size: [1, -1, -1, -1] },    // one sample
  { shape: [3, 4, 5, 2], begin: [0, 0, 1, 0], size: [-1, -1, 3, -1] },    // whole inner axis merges into the run
  { shape: [2, 3, 4, 5], begin: [1, 1, 0, 2], size: [1, 2, 4, 3] },       // whole axis between partial ones
  { shape: [7], begin: [2], size: [4] },
  { shape: [4, 9], begin: [1, 3], size: [2, 5] },
  { shape: [2, 3, 4, 5, 6], begin: [1, 0, 2, 1, 3], size: [1, 3, 2, 4, 3] },
  { shape: [1, 1, 1, 1], begin: [0, 0, 0, 0], size: [1, 1, 1, 1] },       // one value, every axis of size 1
  { shape: [3, 4], begin: [1, 2], size: [0, 2] },                         // empty
  { shape: [2, 6, 6, 4], begin: [0, 0, 0, 0], size: [-1, -1, -1, -1] },   // everything
];

function reference(values: ArrayLike<number>, c: Case): number[] {
  const size = c.size.map((s, a) => (s === -1 ? c.shape[a] - c.begin[a] : s));
  const strides = c.shape.map((_, a) => c.shape.slice(a + 1).reduce((p, q) => p * q, 1));
  const out: number[] = [];
  const index = new Array(c.shape.length).fill(0);
  const total = size.reduce((p, q) => p * q, 1);
  for (let k = 0; k < total; k++) {
    out.push(values[index.reduce((at, i, a) => at + (c.begin[a] + i) * strides[a], 0)]);
    for (let a = index.length - 1; a >= 0; a--) {
      if (++index[a] < size[a]) break;
      index[a] = 0;
    }
  }
  return out;
}

const data = (n: number, dtype: 'float32' | 'int32' | 'bool') =>
  Array.from({ length: n }, (_, i) => (dtype === 'bool' ? (i * 7) % 3 === 0 ? 1 : 0 : dtype === 'int32' ? i * 37 - 1000 : Math.sin(i * 1.7) * 1e3 + 1 / (i + 1)));

describe('Slice on wasm (slice-runs.ts)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });
  afterAll(() => useWasmKernels(true));

  it('merges the axes a slice keeps whole and drops axes of size 1', () => {
    expect(sliceRuns([1, 68, 68, 1], [0, 0, 2, 0], [1, 68, 64, 1])).toEqual({ shape: [68, 68], begin: [0, 2], size: [68, 64] });
    expect(sliceRuns([1, 68, 68, 1], [0, 2, 0, 0], [1, 64, 68, 1])).toEqual({ shape: [4624], begin: [136], size: [4352] });
    expect(sliceRuns([3, 4, 5, 2], [0, 0, 1, 0], [3, 4, 3, 2])).toEqual({ shape: [12, 10], begin: [0, 2], size: [12, 6] });
    expect(sliceRuns([1, 1], [0, 0], [1, 1])).toEqual({ shape: [], begin: [], size: [] });
  });

  for (const dtype of ['float32', 'int32', 'bool'] as const) {
    it(`equals the stock kernel and the reference bit for bit (${dtype})`, () => {
      const before = tf.memory().numTensors;
      for (const c of CASES) {
        const n = c.shape.reduce((p, q) => p * q, 1);
        const values = data(n, dtype);
        const x = tf.tensor(values, c.shape, dtype);
        useWasmKernels(true);
        const ours = tf.slice(x, c.begin, c.size);
        useWasmKernels(false);
        const stock = tf.slice(x, c.begin, c.size);
        useWasmKernels(true);
        const want = reference(new (dtype === 'float32' ? Float32Array : Int32Array)(values), c);
        expect(ours.shape).toEqual(stock.shape);
        expect(ours.dtype).toBe(dtype);
        const a = Array.from(ours.dataSync());
        const b = Array.from(stock.dataSync());
        expect(a.length).toBe(want.length);
        expect(a.every((v, i) => Object.is(v, b[i]) && Object.is(v, want[i]))).toBe(true);
        tf.dispose([x, ours, stock]);
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('keeps gradients through slices right (pad of the cotangent)', () => {
    const before = tf.memory().numTensors;
    const x = tf.tensor(data(2 * 5 * 6 * 3, 'float32'), [2, 5, 6, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.slice(t, [0, 1, 2, 1], [2, 3, 2, 2]))))(x);
    const xs = x.dataSync();
    const gs = g.dataSync();
    const inside = (i: number) => {
      const [w, h, c] = [6, 5, 3];
      const ci = i % c, wi = Math.floor(i / c) % w, hi = Math.floor(i / (c * w)) % h;
      return hi >= 1 && hi < 4 && wi >= 2 && wi < 4 && ci >= 1 && ci < 3;
    };
    // d/dx Σ x² = 2x inside the slice, 0 outside: exact in float32 (a doubling)
    expect(Array.from(gs).every((v, i) => Object.is(v, inside(i) ? 2 * xs[i] : 0))).toBe(true);
    tf.dispose([x, g]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
