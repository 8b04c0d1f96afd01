import { it, expect } from 'vitest';
import { tf } from '@bilevel/core';
import { describeEachBackend, randn } from '@bilevel/testing/vitest';
import { adjointError, dot } from './helpers.js';
import {
  identity, convolution, blur, gaussianKernel, boxKernel, motionKernel, finiteDifference, gradient2d, divergence,
  subsampledFourier, fft2, ifft2, inpainting, dftMatrices, cartesianMask, randomMask,
} from '../src/index.js';
import type { LinearOperator } from '../src/index.js';

/*
 * Adjoint tolerance 1e-5: the inner products are accumulated in doubles (test/helpers.ts), so
 * the mismatch is the float32 round-off of Ax and Aᵀy themselves: each output entry is a sum
 * of at most a few hundred products (a 9×9 kernel, a 16-point DFT row pair), relative error
 * ~ √terms · 6e-8 ≲ 1e-6 per entry, and it averages further in the inner product.
 * Measured values are logged below (≈ 1e-8 … 1e-7).
 */
const ADJOINT_TOL = 1e-5;

describeEachBackend('operators', (backend) => {
  // The cpu backend is ~20× slower: keep its images tiny.
  const [b, h, w] = backend === 'cpu' ? [2, 8, 10] : [3, 16, 20];

  /** Builds an operator from a temporary tensor the operator copies, then frees the temporary. */
  const from = (make: () => tf.Tensor, op: (t: tf.Tensor) => LinearOperator): LinearOperator => {
    const t = tf.tidy(make);
    const A = op(t);
    t.dispose();
    return A;
  };
  const cases: Array<[string, () => LinearOperator, number]> = [
    ['identity', () => identity(), 1],
    ['gaussian blur 9×9', () => blur({ kind: 'gaussian', size: 9, sigma: 1.5 }), 1],
    ['box blur 4×4 (even: asymmetric same padding)', () => from(() => boxKernel(4), convolution), 1],
    ['motion blur 7 px at 30°', () => blur({ kind: 'motion', length: 7, angle: 30 }), 1],
    ['non-symmetric 3×2 kernel', () => from(() => tf.tensor2d([1, -2, 0.5, 3, -1, 0.25], [3, 2]), convolution), 1],
    ['finite difference', () => finiteDifference(), 2],
    ['inpainting', () => from(() => tf.cast(tf.greater(tf.randomUniform([h, w], 0, 1, 'float32', 7), 0.4), 'float32'), inpainting), 1],
    ['subsampled Fourier', () => from(() => tf.cast(tf.greater(tf.randomUniform([h, w], 0, 1, 'float32', 8), 0.6), 'float32'), (m) => subsampledFourier(m)), 2],
    ['weighted subsampled Fourier', () => from(() => tf.randomUniform([h, w], 0.5, 2, 'float32', 9), (wt) => from(() => tf.ones([h, w]), (m) => subsampledFourier(m, { weights: wt }))), 2],
  ];

  for (const [name, make, outChannels] of cases) {
    it(`adjoint of ${name}: ⟨Ax, y⟩ = ⟨x, Aᵀy⟩`, () => {
      const before = tf.memory().numTensors;
      const A = make();
      const created = tf.memory().numTensors;
      const x = randn([b, h, w, 1], 1);
      const y = randn([b, h, w, outChannels], 2);
      const err = adjointError((z) => A.apply(z), (z) => A.adjoint(z), x, y);
      console.log(`[${backend}] adjoint error ${name}: ${err.toExponential(2)}`);
      expect(err).toBeLessThan(ADJOINT_TOL);
      // norm bound holds on a random input
      const ax = A.apply(x);
      expect(Math.sqrt(dot(ax, ax))).toBeLessThanOrEqual((A.normBound ?? Infinity) * Math.sqrt(dot(x, x)) * (1 + 1e-5));
      tf.dispose([x, y, ax]);
      expect(tf.memory().numTensors).toBe(created);
      A.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('divergence is −∇ᵀ and ∇ of a constant is 0', () => {
    const x = randn([b, h, w, 1], 3);
    const p = randn([b, h, w, 2], 4);
    const err = adjointError((z) => gradient2d(z), (q) => tf.neg(divergence(q)), x, p);
    expect(err).toBeLessThan(ADJOINT_TOL);
    const g = gradient2d(tf.fill([1, h, w, 1], 0.7));
    expect(tf.max(tf.abs(g)).dataSync()[0]).toBe(0);
    tf.dispose([x, p, g]);
  });

  it('convolution is a true convolution (a shifted delta reproduces the flipped-free kernel)', () => {
    const k = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3]);
    const A = convolution(k);
    const delta = tf.buffer([1, 5, 5, 1]);
    delta.set(1, 0, 2, 2, 0);
    const d = delta.toTensor();
    const out = A.apply(d);
    const centre = tf.slice(out, [0, 1, 1, 0], [1, 3, 3, 1]).reshape([3, 3]);
    expect(Array.from(centre.dataSync())).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    tf.dispose([k, d, out, centre]);
    A.dispose();
  });
});

describeEachBackend('Fourier transform', (backend) => {
  it('fft2 matches a direct DFT in doubles on an 8×8 image, and ifft2 inverts it', () => {
    const n = 8;
    const img: number[] = [];
    for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) img.push(Math.sin(0.7 * j + 0.3 * k * k) + 0.1 * j * k / n);
    // direct DFT, unitary scaling, in float64
    const re = new Float64Array(n * n);
    const im = new Float64Array(n * n);
    for (let u = 0; u < n; u++) for (let v = 0; v < n; v++) {
      let sr = 0, si = 0;
      for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) {
        const a = (-2 * Math.PI * (u * j + v * k)) / n;
        sr += img[j * n + k] * Math.cos(a);
        si += img[j * n + k] * Math.sin(a);
      }
      re[u * n + v] = sr / n;
      im[u * n + v] = si / n;
    }
    const x = tf.tensor4d(img, [1, n, n, 1]);
    const z = fft2(x);
    const zd = z.dataSync();
    let err = 0, ref = 0;
    for (let i = 0; i < n * n; i++) {
      err = Math.max(err, Math.abs(zd[2 * i] - re[i]), Math.abs(zd[2 * i + 1] - im[i]));
      ref = Math.max(ref, Math.abs(re[i]), Math.abs(im[i]));
    }
    console.log(`[${backend}] fft2 vs direct DFT: max abs error ${err.toExponential(2)} (max |X| ${ref.toFixed(2)})`);
    // float32: 64-term sums of O(1) entries, each rounded at 6e-8 relative: ≲ 1e-6 absolute.
    expect(err).toBeLessThan(1e-5);
    const back = ifft2(z);
    const backRe = tf.slice(back, [0, 0, 0, 0], [1, n, n, 1]);
    const backIm = tf.slice(back, [0, 0, 0, 1], [1, n, n, 1]);
    expect(tf.max(tf.abs(tf.sub(backRe, x))).dataSync()[0]).toBeLessThan(1e-5);
    expect(tf.max(tf.abs(backIm)).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([x, z, back, backRe, backIm]);
  });

  it('fft2 handles complex input and non-square images (Parseval holds)', () => {
    const z = randn([2, 6, 10, 2], 5);
    const before = tf.memory().numTensors;
    const f = fft2(z);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(Math.abs(dot(f, f) - dot(z, z)) / dot(z, z)).toBeLessThan(1e-5);
    const back = ifft2(f);
    expect(tf.max(tf.abs(tf.sub(back, z))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([z, f, back]);
  });

  it('dftMatrices are unitary', () => {
    const { cos, sin } = dftMatrices(12);
    // FᴴF = (C + iS)(C − iS) = C² + S² + i(SC − CS)
    const real = tf.add(tf.matMul(cos, cos), tf.matMul(sin, sin));
    expect(tf.max(tf.abs(tf.sub(real, tf.eye(12)))).dataSync()[0]).toBeLessThan(1e-6);
    tf.dispose([cos, sin, real]);
  });

  it('sampling masks: Cartesian keeps the centre lines and about h/R rows; random masks are seeded', () => {
    const m = cartesianMask({ height: 32, width: 8, acceleration: 4, centerLines: 6, seed: 2 });
    const rows = Array.from(tf.tidy(() => tf.max(m, 1)).dataSync());
    expect(rows.reduce((a, b) => a + b, 0)).toBe(8);
    for (const r of [0, 1, 2, 29, 30, 31]) expect(rows[r]).toBe(1);
    const a = randomMask(16, 16, 0.3, 4);
    const b = randomMask(16, 16, 0.3, 4);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    const frac = tf.tidy(() => tf.mean(a)).dataSync()[0];
    expect(Math.abs(frac - 0.3)).toBeLessThan(0.1);
    tf.dispose([m, a, b]);
  });

  it('kernels are normalised', () => {
    for (const k of [gaussianKernel(7, 1.2), boxKernel(3), motionKernel(9, 45)]) {
      expect(Math.abs(tf.sum(k).dataSync()[0] - 1)).toBeLessThan(1e-6);
      k.dispose();
    }
  });
});
