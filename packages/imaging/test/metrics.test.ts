import { it, expect } from 'vitest';
import { tf } from '@bilevel/core';
import { describeEachBackend } from '@bilevel/testing/vitest';
import { psnr, ssim } from '../src/index.js';

/*
 * Reference values from scikit-image 0.26.0, computed independently in float64 from the
 * same float32-rounded inputs by this script (run in a throwaway venv):
 *
 *   import numpy as np
 *   from skimage.metrics import structural_similarity, peak_signal_noise_ratio
 *   h, w = 32, 40
 *   i, j = np.meshgrid(np.arange(h), np.arange(w), indexing='ij')
 *   def f32(a): return a.astype(np.float32).astype(np.float64)
 *   ref1 = f32(0.5 + 0.3 * np.sin(0.3 * i) * np.cos(0.2 * j))
 *   x1 = f32(ref1 + 0.05 * np.cos(0.7 * i + 0.4 * j) + 0.1 * ((i * j) % 7) / 7)
 *   ref2 = f32(((i // 8 + j // 8) % 2) * 0.6 + 0.2)
 *   x2 = f32(0.8 * ref2 + 0.1 + 0.05 * np.sin(1.3 * i - 0.9 * j))
 *   for x, r in [(x1, ref1), (x2, ref2)]:
 *       print(structural_similarity(x, r, gaussian_weights=True, sigma=1.5,
 *                                   use_sample_covariance=False, data_range=1.0),
 *             peak_signal_noise_ratio(r, x, data_range=1.0))
 *
 * Output:
 *   pair1 0.8378438759102532 24.657596040683348
 *   pair2 0.9555159889263398 23.150758256933493
 */
const SKIMAGE_SSIM = [0.8378438759102532, 0.9555159889263398];
const SKIMAGE_PSNR = [24.657596040683348, 23.150758256933493];

function pairs(): { x: tf.Tensor4D; ref: tf.Tensor4D } {
  const [h, w] = [32, 40];
  const f32 = (v: number) => Math.fround(v);
  const r1: number[] = [], x1: number[] = [], r2: number[] = [], x2: number[] = [];
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const a = f32(0.5 + 0.3 * Math.sin(0.3 * i) * Math.cos(0.2 * j));
      r1.push(a);
      x1.push(f32(a + 0.05 * Math.cos(0.7 * i + 0.4 * j) + (0.1 * ((i * j) % 7)) / 7));
      const b = f32(((Math.floor(i / 8) + Math.floor(j / 8)) % 2) * 0.6 + 0.2);
      r2.push(b);
      x2.push(f32(0.8 * b + 0.1 + 0.05 * Math.sin(1.3 * i - 0.9 * j)));
    }
  }
  return { x: tf.tensor4d([...x1, ...x2], [2, h, w, 1]), ref: tf.tensor4d([...r1, ...r2], [2, h, w, 1]) };
}

describeEachBackend('metrics', (backend) => {
  it('SSIM matches scikit-image (gaussian_weights, σ = 1.5, K1 = 0.01, K2 = 0.03)', () => {
    const { x, ref } = pairs();
    const before = tf.memory().numTensors;
    const s = ssim(x, ref);
    expect(tf.memory().numTensors).toBe(before);
    const errs = s.perImage.map((v, i) => Math.abs(v - SKIMAGE_SSIM[i]));
    console.log(`[${backend}] SSIM ${s.perImage.map((v) => v.toFixed(7))} vs skimage ${SKIMAGE_SSIM.map((v) => v.toFixed(7))}: abs errors ${errs.map((e) => e.toExponential(1))}`);
    // float32: local moments are 121-term sums (≈1e-7 relative each); the mean-shifted
    // variances avoid cancellation, so the per-pixel SSIM is good to ~1e-6 and the mean too.
    for (const e of errs) expect(e).toBeLessThan(1e-5);
    expect(s.mean).toBeCloseTo((SKIMAGE_SSIM[0] + SKIMAGE_SSIM[1]) / 2, 5);
    tf.dispose([x, ref]);
  });

  it('PSNR matches scikit-image, and a constant offset c gives −20 log10(c)', () => {
    const { x, ref } = pairs();
    const p = psnr(x, ref);
    // float32 MSE of ~10³ squared differences: relative error ≲ 1e-6, i.e. ≲ 1e-5 dB.
    p.perImage.forEach((v, i) => expect(Math.abs(v - SKIMAGE_PSNR[i])).toBeLessThan(1e-4));
    console.log(`[${backend}] PSNR ${p.perImage.map((v) => v.toFixed(6))} vs skimage ${SKIMAGE_PSNR.map((v) => v.toFixed(6))}`);
    for (const c of [0.5, 0.1, 0.01]) {
      // c is not exactly representable in float32: compare to the offset actually stored
      const offset = tf.tidy(() => tf.sub(tf.add(ref, c), ref));
      const cStored = Math.sqrt(tf.tidy(() => tf.mean(tf.square(offset))).dataSync()[0]);
      const shifted = tf.add(ref, offset);
      const q = psnr(shifted, ref);
      expect(q.mean).toBeCloseTo(-20 * Math.log10(c), 3);
      expect(Math.abs(q.mean - -20 * Math.log10(cStored))).toBeLessThan(1e-4);
      // data range scales it: R = 2 adds 20 log10 2
      expect(psnr(shifted, ref, 2).mean - q.mean).toBeCloseTo(20 * Math.log10(2), 4);
      tf.dispose([offset, shifted]);
    }
    expect(psnr(ref, ref).mean).toBe(Infinity);
    expect(ssim(ref, ref).perImage.every((v) => Math.abs(v - 1) < 1e-6)).toBe(true);
    tf.dispose([x, ref]);
  });

  it('rejects mismatched shapes and too-small images with a clear message', () => {
    const a = tf.zeros([1, 8, 8, 1]);
    const b = tf.zeros([1, 8, 9, 1]);
    expect(() => psnr(a, b)).toThrow(/psnr: 'x' \[1,8,8,1\] and 'ref' \[1,8,9,1\]/);
    expect(() => ssim(a, a)).toThrow(/smaller than the 11×11 window/);
    tf.dispose([a, b]);
  });
});
