import { it, expect } from 'vitest';
import { tf } from '@bilevel/core';
import { describeEachBackend, randn, relErr } from '@bilevel/testing/vitest';
import { transposedPass, transposedPassFor } from '../src/internal/filter-passes.js';
import { filterSimdOf } from '../src/internal/filter-simd.js';
import { adjointError } from './helpers.js';

/*
 * The SIMD transposed convolution Cᵀ of the filter regularizers (filter-passes.ts `transposedPass`,
 * filter-simd.wat `padChannels` and `transposed`: K channels → 1, stride 1) against tfjs's
 * conv2dTranspose and against a float64 sum, for 'same' and 'valid' (the symmetric padding's inner
 * convolution), channel counts 1–5 around the 4-channel vectors (K = 1, 2, 3 padded to 4 per pixel;
 * 5, 6, 13, 30 with an overlapping last vector), odd and even filter sides (an even 'same' filter pads
 * unevenly), odd sizes and widths around the 6-pixel tiles, batches 1–3; the adjoint identity
 * ⟨C x, s⟩ = ⟨x, Cᵀ s⟩ with tfjs's conv2d as C; the pass's determinism; the tape's fallback.
 *
 * Tolerances. Each output of the pass is a float32 sum of n = S²·⌈K/4⌉ products per lane plus two
 * additions across the lanes, so |pass − exact| ≤ (n + 2)·u·A with u = 2⁻²⁴ and A = Σ|products| of that
 * output (the standard bound for recursive summation, each product rounded once: (n + 3)·u); it is
 * asserted per output against a float64 sum with the factor (n + 3)·u, which an indexing, flip or
 * padding error (O(1) of A) cannot meet. Against conv2dTranspose (both routes rounded) 1e-5 relative in
 * norm, as the derivative tests (filter-passes.test.ts); the adjoint identity to 1e-6 of ‖C x‖‖s‖.
 */
const TOL = 1e-5;
const U = 2 ** -24;

interface Case { n: number; h: number; w: number; size: number; k: number; mode: 'same' | 'valid' }
const CASES: Case[] = [
  { n: 1, h: 96, w: 96, size: 7, k: 30, mode: 'same' }, // the benchmark
  { n: 2, h: 17, w: 13, size: 7, k: 30, mode: 'same' },
  { n: 1, h: 19, w: 23, size: 5, k: 24, mode: 'valid' }, // the symmetric padding's inner convolution (5×5 DCT)
  { n: 3, h: 9, w: 11, size: 3, k: 1, mode: 'valid' },
  { n: 2, h: 8, w: 7, size: 3, k: 1, mode: 'same' },
  { n: 1, h: 10, w: 9, size: 3, k: 2, mode: 'same' },
  { n: 1, h: 11, w: 5, size: 5, k: 3, mode: 'valid' },
  { n: 2, h: 12, w: 10, size: 4, k: 5, mode: 'same' }, // even side: 1 row/column of padding before, 2 after
  { n: 1, h: 12, w: 10, size: 4, k: 13, mode: 'valid' },
  { n: 3, h: 8, w: 5, size: 5, k: 6, mode: 'same' },
  { n: 1, h: 7, w: 6, size: 2, k: 8, mode: 'same' },
];

/** Cᵀ dy in float64 (each output's exact sum) and A = Σ|products| per output. */
function exactTransposed(dy: Float32Array, f: Float32Array, c: Case): { exact: Float64Array; abs: Float64Array } {
  const { n, h, w, size, k, mode } = c;
  const top = mode === 'same' ? Math.floor((size - 1) / 2) : 0;
  const oh = mode === 'same' ? h : h - size + 1;
  const ow = mode === 'same' ? w : w - size + 1;
  const exact = new Float64Array(n * h * w);
  const abs = new Float64Array(n * h * w);
  // C x[p, q, c] = Σ_{a, b} x[p − top + a, q − top + b] · f[a, b, c], so Cᵀ s[i, j] = Σ s[i + top − a, j + top − b, c] · f[a, b, c]
  for (let img = 0; img < n; img++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        let s = 0;
        let a = 0;
        for (let r = 0; r < size; r++) {
          for (let q = 0; q < size; q++) {
            const p = i + top - r;
            const t = j + top - q;
            if (p < 0 || p >= oh || t < 0 || t >= ow) continue;
            for (let ch = 0; ch < k; ch++) {
              const term = dy[((img * oh + p) * ow + t) * k + ch] * f[(r * size + q) * k + ch];
              s += term;
              a += Math.abs(term);
            }
          }
        }
        exact[(img * h + i) * w + j] = s;
        abs[(img * h + i) * w + j] = a;
      }
    }
  }
  return { exact, abs };
}

describeEachBackend('imaging: the SIMD transposed convolution of the filter regularizers', (backend) => {
  it('applies on wasm only, and never while a tape records', () => {
    const dy = tf.zeros([1, 4, 4, 3]);
    const f = tf.zeros([3, 3, 1, 3]);
    expect(transposedPassFor(dy, f) != null).toBe(backend === 'wasm');
    let taped: unknown = 'unset';
    tf.grad((z: tf.Tensor) => {
      taped = transposedPassFor(dy, f);
      return tf.sum(z);
    })(tf.zeros([1])).dispose();
    expect(taped).toBeNull();
    // a filter of another channel count, several input channels: not the pass's shape
    const wrong = tf.zeros([3, 3, 2, 3]);
    expect(transposedPassFor(dy, wrong)).toBeNull();
    tf.dispose([dy, f, wrong]);
  });

  for (const c of CASES) {
    const name = `${c.n}×${c.h}×${c.w}, ${c.size}×${c.size}, ${c.k} channel${c.k > 1 ? 's' : ''}, '${c.mode}'`;
    it(`${name}: within (n + 3)·u·Σ|products| of the float64 sum per output, conv2dTranspose to ${TOL}, the adjoint of conv2d, deterministic, no tensors left`, () => {
      const simd = filterSimdOf(tf.backend());
      if (simd == null) return; // wasm only (tested above)
      const before = tf.memory().numTensors;
      const oh = c.mode === 'same' ? c.h : c.h - c.size + 1;
      const ow = c.mode === 'same' ? c.w : c.w - c.size + 1;
      const dy = randn([c.n, oh, ow, c.k], 3 + c.k);
      const f = tf.tidy(() => tf.mul(0.3, randn([c.size, c.size, 1, c.k], 5 + c.size)));
      const x = randn([c.n, c.h, c.w, 1], 7);
      const made: tf.Tensor[] = [];
      try {
        const out = transposedPass(simd, dy, f, c.mode);
        made.push(out);
        expect(out.shape).toEqual([c.n, c.h, c.w, 1]);
        const got = out.dataSync();
        const { exact, abs } = exactTransposed(dy.dataSync() as Float32Array, f.dataSync() as Float32Array, c);
        const bound = (c.size * c.size * Math.ceil(c.k / 4) + 3) * U;
        let worst = 0;
        for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - exact[i]) / Math.max(abs[i], 1e-30));
        expect(worst).toBeLessThanOrEqual(bound);
        const ref = tf.conv2dTranspose(dy as tf.Tensor4D, f as tf.Tensor4D, [c.n, c.h, c.w, 1], 1, c.mode);
        made.push(ref);
        expect(relErr(out, ref)).toBeLessThan(TOL);
        // the same bits on a second call (the pool's workers rely on it)
        const again = transposedPass(simd, dy, f, c.mode);
        made.push(again);
        expect(Array.from(again.dataSync())).toEqual(Array.from(got));
        const err = adjointError((z) => tf.conv2d(z as tf.Tensor4D, f as tf.Tensor4D, 1, c.mode), (s) => transposedPass(simd, s, f, c.mode), x, dy);
        expect(err).toBeLessThan(1e-6);
      } finally {
        tf.dispose([dy, f, x, ...made]);
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('non-finite values stay where conv2dTranspose puts them: a NaN and an inf in dy make exactly the outputs their taps reach non-finite (9 and 6 at the border)', () => {
    const simd = filterSimdOf(tf.backend());
    if (simd == null) return;
    const before = tf.memory().numTensors;
    const values = tf.tidy(() => randn([1, 12, 13, 6], 11).dataSync() as Float32Array);
    values[(4 * 13 + 5) * 6 + 5] = NaN; // the last channel of a pixel (the overlapping vector's last lane)
    values[(9 * 13 + 0) * 6 + 2] = Infinity; // a pixel at the left border
    const dy = tf.tensor4d(values, [1, 12, 13, 6]);
    const f = tf.tidy(() => tf.add(1, tf.abs(randn([3, 3, 1, 6], 12)))); // no zero filter values
    const out = transposedPass(simd, dy, f, 'same');
    const ref = tf.conv2dTranspose(dy as tf.Tensor4D, f as tf.Tensor4D, [1, 12, 13, 1], 1, 'same');
    try {
      const [a, b] = [out.dataSync(), ref.dataSync()];
      const finite = (v: number) => Number.isFinite(v);
      expect(Array.from(a, finite)).toEqual(Array.from(b, finite));
      expect(Array.from(a).filter((v) => !finite(v)).length).toBe(15);
    } finally {
      tf.dispose([dy, f, out, ref]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
