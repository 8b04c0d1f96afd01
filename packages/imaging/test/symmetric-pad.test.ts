import { it, expect, afterEach } from 'vitest';
import { tf } from '@bilevel/core';
import { describeEachBackend, randn, relErr } from '@bilevel/testing/vitest';
import { symmetricPad } from '../src/internal/params.js';
import { symmetricPadAdjoint } from '../src/internal/filter-derivatives.js';
import { useSymmetricPadKernels, SYMMETRIC_PAD_KERNELS } from '../src/internal/symmetric-pad.js';
import { adjointError } from './helpers.js';

/*
 * Symmetric padding P and its adjoint Pᵀ: on wasm one kernel each (symmetric-pad.ts), elsewhere
 * and with the kernels off the op form (slices, reverses, concats / pads, AddN). P only copies
 * and Pᵀ sums in the op form's order, so the two forms must agree bit for bit.
 */

afterEach(() => useSymmetricPadKernels(true));

// (before, after) of filters of side 3, 4, 5, 7 (the filter regularizers' split), one-sided and asymmetric ones
const PADS: Array<[number, number]> = [[1, 1], [1, 2], [2, 2], [3, 3], [0, 1], [1, 0], [0, 3], [3, 0], [2, 1]];
// batch and channels > 1, non-square, and a side equal to the widest border
const SHAPES = [[2, 7, 6, 3], [1, 9, 5, 1], [3, 3, 4, 2]];

/** x with a few exact ±0 entries (AddN's start from +0 turns −0 into +0: the kernel must too). */
function withZeros(shape: number[], seed: number): tf.Tensor {
  const t = randn(shape, seed);
  const values = t.dataSync().slice();
  t.dispose();
  for (let i = 0; i < values.length; i += 5) values[i] = i % 10 === 0 ? -0 : 0;
  return tf.tensor(values, shape);
}

/** Element i where a and b differ in their bits (Object.is: −0 ≠ +0, NaN = NaN), or −1. */
function firstDifference(a: tf.Tensor, b: tf.Tensor): number {
  const u = a.dataSync();
  const v = b.dataSync();
  if (u.length !== v.length) return 0;
  for (let i = 0; i < u.length; i++) if (!Object.is(u[i], v[i])) return i;
  return -1;
}

/** `fn()` with the kernels off: the op form. */
function opForm<T>(fn: () => T): T {
  useSymmetricPadKernels(false);
  try {
    return fn();
  } finally {
    useSymmetricPadKernels(true);
  }
}

const fits = (shape: number[], [before, after]: [number, number]) => Math.max(before, after) <= Math.min(shape[1], shape[2]);
const padded = (shape: number[], [before, after]: [number, number]) => [shape[0], shape[1] + before + after, shape[2] + before + after, shape[3]];

async function kernelsOf(fn: () => tf.Tensor): Promise<string[]> {
  const info = await tf.profile(fn);
  tf.dispose(info.result as tf.Tensor);
  return info.kernels.map((k) => k.name);
}

describeEachBackend('imaging: symmetric padding and its adjoint', (backend) => {
  it('on wasm each is one kernel; elsewhere and with the kernels off, the op form', async () => {
    const x = randn([1, 6, 6, 1], 1);
    const g = randn([1, 10, 10, 1], 2);
    const pad = await kernelsOf(() => symmetricPad(x, 2, 2));
    const adjoint = await kernelsOf(() => symmetricPadAdjoint(g, 2, 2));
    expect(pad).toEqual(backend === 'wasm' ? [SYMMETRIC_PAD_KERNELS.pad] : expect.arrayContaining(['Reverse', 'Concat']));
    expect(adjoint).toEqual(backend === 'wasm' ? [SYMMETRIC_PAD_KERNELS.adjoint] : expect.arrayContaining(['Reverse', 'AddN']));
    const off = await opForm(() => kernelsOf(() => symmetricPad(x, 2, 2)));
    expect(off).not.toContain(SYMMETRIC_PAD_KERNELS.pad);
    tf.dispose([x, g]);
  });

  it('⟨P x, g⟩ = ⟨x, Pᵀ g⟩ and the same bits as the op form, at every (before, after) and shape, without leaks', () => {
    for (const shape of SHAPES) {
      for (const pad of PADS) {
        if (!fits(shape, pad)) continue;
        const before = tf.memory().numTensors;
        const x = withZeros(shape, 3);
        const g = withZeros(padded(shape, pad), 4);
        const p = symmetricPad(x, ...pad);
        const pt = symmetricPadAdjoint(g, ...pad);
        const [pOps, ptOps] = opForm(() => [symmetricPad(x, ...pad), symmetricPadAdjoint(g, ...pad)]);
        const where = `shape ${shape}, (before, after) = (${pad})`;
        expect(p.shape, where).toEqual(padded(shape, pad));
        expect(pt.shape, where).toEqual(shape);
        expect(firstDifference(p, pOps), where).toBe(-1);
        expect(firstDifference(pt, ptOps), where).toBe(-1);
        // the inner products in doubles: only Pᵀ's float32 sums of ≤ 9 terms remain (≈ 1e-7 relative)
        expect(adjointError((t) => symmetricPad(t, ...pad), (t) => symmetricPadAdjoint(t, ...pad), x, g), where).toBeLessThan(1e-6);
        tf.dispose([x, g, p, pt, pOps, ptOps]);
        expect(tf.memory().numTensors, where).toBe(before);
      }
    }
  });

  it('the mirror is NumPy\'s symmetric padding (edge repeated)', () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 2, 3, 1]);
    const p = symmetricPad(x, 1, 2);
    // rows: x₀ | x₀ x₁ | x₁ x₀; columns: c₀ | c₀ c₁ c₂ | c₂ c₁
    expect(Array.from(p.dataSync())).toEqual([
      1, 1, 2, 3, 3, 2,
      1, 1, 2, 3, 3, 2,
      4, 4, 5, 6, 6, 5,
      4, 4, 5, 6, 6, 5,
      1, 1, 2, 3, 3, 2,
    ]);
    tf.dispose([x, p]);
  });

  it('gradients through P (first and second order) and through Pᵀ match the op form\'s autodiff', () => {
    for (const [shape, pad] of [[[2, 6, 5, 2], [2, 2]], [[1, 7, 7, 1], [1, 2]], [[1, 5, 6, 1], [0, 3]]] as Array<[number[], [number, number]]>) {
      const before = tf.memory().numTensors;
      const x = randn(shape, 5);
      const v = randn(shape, 6);
      const w = randn(padded(shape, pad), 7);
      const where = `shape ${shape}, (before, after) = (${pad})`;
      // f(x) = Σ w ⊙ (P x)³: ∇f = Pᵀ(3 w ⊙ (P x)²), ∇²f v = Pᵀ(6 w ⊙ P x ⊙ P v)
      const f = (t: tf.Tensor) => tf.sum(tf.mul(w, tf.pow(symmetricPad(t, ...pad), 3)));
      const grad = tf.grad(f);
      const hvp = (t: tf.Tensor) => tf.grad((s: tf.Tensor) => tf.sum(tf.mul(grad(s), v)))(t);
      const dual = tf.grad((s: tf.Tensor) => tf.sum(tf.mul(symmetricPadAdjoint(s, ...pad), x)));
      const ours = [grad(x), hvp(x), dual(w)];
      const ops = opForm(() => [grad(x), hvp(x), dual(w)]);
      const closed = tf.tidy(() => {
        const px = symmetricPad(x, ...pad);
        return [
          symmetricPadAdjoint(tf.mul(tf.mul(3, w), tf.square(px)), ...pad),
          symmetricPadAdjoint(tf.mul(tf.mul(6, w), tf.mul(px, symmetricPad(v, ...pad))), ...pad),
          px,
        ];
      });
      for (let i = 0; i < 3; i++) {
        expect(ours[i].shape, `${where}, output ${i}`).toEqual(ops[i].shape);
        // autodiff's products in another order than the closed forms: float32 rounding (≈ 1e-7), far below a wrong border (O(1))
        expect(relErr(ours[i], ops[i]), `${where}, output ${i}`).toBeLessThan(1e-6);
        expect(relErr(ours[i], closed[i]), `${where}, output ${i}`).toBeLessThan(1e-6);
      }
      // P's gradient of ⟨Pᵀ s, x⟩ is P x: a copy either way
      expect(firstDifference(ours[2], closed[2]), where).toBe(-1);
      tf.dispose([x, v, w, ...ours, ...ops, ...closed]);
      expect(tf.memory().numTensors, where).toBe(before);
    }
  });

  it('a border wider than the image is an error naming the function, and leaks nothing', () => {
    const x = randn([1, 2, 5, 1], 8);
    const before = tf.memory().numTensors;
    expect(() => symmetricPad(x, 3, 1)).toThrow(/symmetricPad: padding 3 exceeds the image side 2/);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
