import { it, expect } from 'vitest';
import { tf } from '@bilevel/core';
import { describeEachBackend, randn } from '@bilevel/testing/vitest';
import { curvatureHessianProduct, curvatureProduct, transposedPass, passesFor, type PassConvolution } from '../src/internal/filter-passes.js';
import { filterSimdOf } from '../src/internal/filter-simd.js';

/*
 * The one-shot HVP's fused route (filter-passes.ts `curvatureHessianProduct`, filter-simd.ts `curvatureTransposed`:
 * the curvature pass writing `((1 − t²)/(1 + t²)²) ⊙ C v` straight into the zero-padded layout of filter-simd.wat
 * `transposed`, the border zeroed by `zeroBorder`) against the two passes it fuses (`curvatureProduct` then
 * `transposedPass`: the same bits) and against a float64 evaluation of Cᵀ (φ(t) ⊙ C v), t = s ⊙ C x, φ(t) =
 * (1 − t²)/(1 + t²)², for 'same' and 'valid', K = 4–30 around the 8-channel tiles and 4-channel vectors, odd and even
 * and non-square filters, odd widths (the 2- and 6-pixel tiles), batches 1–3; non-finite inputs; determinism; K < 4
 * (null: the caller runs the two passes); no tensors left.
 *
 * The float64 bound, per output (u = 2⁻²⁴, n = kh·kw products per response, m = kh·kw·⌈K/4⌉ products per Cᵀ lane):
 *   responses z = C x, u = C v (recursive sums, each product rounded): |ẑ − z| ≤ (n + 1)·u·Σ|x f| =: e_z, e_u alike;
 *   t = s·z: e_t = |s|·e_z + u·|t|; φ at t̂ in float32 (a square, a sum, a difference, a square, a quotient):
 *   |φ̂ − φ(t̂)| ≤ 8u/(1 + t²), and |φ(t̂) − φ(t)| ≤ 1.5·e_t (|φ'| ≤ 1.46); d = φ·u: e_d = |φ|·e_u + |u|·e_φ + e_φ·e_u + u·|d|;
 *   Cᵀ: |out − exact| ≤ (m + 3)·u·Σ|d a| + Σ|a|·e_d   (filter-transposed.test.ts for its first term).
 * An indexing, flip, border or factor error is O(1) of Σ|d a| and cannot meet it.
 */
const U = 2 ** -24;

interface Case { n: number; h: number; w: number; kh: number; kw: number; k: number; mode: 'same' | 'valid' }
const CASES: Case[] = [
  { n: 1, h: 96, w: 96, kh: 7, kw: 7, k: 30, mode: 'same' }, // the benchmark
  { n: 2, h: 17, w: 13, kh: 7, kw: 7, k: 30, mode: 'same' },
  { n: 1, h: 19, w: 23, kh: 5, kw: 5, k: 24, mode: 'valid' }, // the symmetric padding's inner convolution (5×5 DCT)
  { n: 3, h: 9, w: 11, kh: 3, kw: 3, k: 8, mode: 'valid' },
  { n: 2, h: 12, w: 10, kh: 4, kw: 4, k: 5, mode: 'same' }, // even side: 1 row/column of padding before, 2 after
  { n: 1, h: 12, w: 11, kh: 4, kw: 4, k: 13, mode: 'valid' },
  { n: 3, h: 8, w: 5, kh: 5, kw: 5, k: 6, mode: 'same' },
  { n: 1, h: 7, w: 6, kh: 2, kw: 2, k: 4, mode: 'same' },
  { n: 2, h: 10, w: 9, kh: 3, kw: 5, k: 10, mode: 'same' }, // non-square
];

const identity: (mode: 'same' | 'valid') => PassConvolution = (mode) => ({ padded: (x) => x, mode });

/** Cᵀ (φ(t) ⊙ C v) in float64 and the per-output bound of the file comment. */
function exact(x: Float32Array, v: Float32Array, f: Float32Array, s: Float32Array, a: Float32Array, c: Case): { exact: Float64Array; bound: Float64Array } {
  const { n, h, w, kh, kw, k, mode } = c;
  const top = mode === 'same' ? Math.floor((kh - 1) / 2) : 0;
  const left = mode === 'same' ? Math.floor((kw - 1) / 2) : 0;
  const oh = mode === 'same' ? h : h - kh + 1;
  const ow = mode === 'same' ? w : w - kw + 1;
  const taps = kh * kw;
  const d = new Float64Array(n * oh * ow * k);
  const ed = new Float64Array(n * oh * ow * k);
  const at = (img: number, i: number, j: number) => (i < 0 || i >= h || j < 0 || j >= w ? -1 : (img * h + i) * w + j);
  for (let img = 0; img < n; img++) {
    for (let p = 0; p < oh; p++) {
      for (let q = 0; q < ow; q++) {
        for (let ch = 0; ch < k; ch++) {
          let z = 0, zAbs = 0, uu = 0, uAbs = 0;
          for (let r = 0; r < kh; r++) {
            for (let t = 0; t < kw; t++) {
              const idx = at(img, p - top + r, q - left + t);
              if (idx < 0) continue;
              const fv = f[(r * kw + t) * k + ch];
              z += x[idx] * fv;
              zAbs += Math.abs(x[idx] * fv);
              uu += v[idx] * fv;
              uAbs += Math.abs(v[idx] * fv);
            }
          }
          const tt = s[ch] * z;
          const phi = (1 - tt * tt) / (1 + tt * tt) ** 2;
          const eT = Math.abs(s[ch]) * (taps + 1) * U * zAbs + U * Math.abs(tt);
          const ePhi = 1.5 * eT + (8 * U) / (1 + tt * tt);
          const eU = (taps + 1) * U * uAbs;
          const o = ((img * oh + p) * ow + q) * k + ch;
          d[o] = phi * uu;
          ed[o] = Math.abs(phi) * eU + Math.abs(uu) * ePhi + ePhi * eU + U * Math.abs(d[o]);
        }
      }
    }
  }
  const m = taps * Math.ceil(k / 4);
  const out = new Float64Array(n * h * w);
  const bound = new Float64Array(n * h * w);
  // C z[p, q] = Σ z[p − top + r, q − left + t] f[r, t], so Cᵀ d[i, j] = Σ d[i + top − r, j + left − t] a[r, t]
  for (let img = 0; img < n; img++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        let sum = 0, abs = 0, carried = 0;
        for (let r = 0; r < kh; r++) {
          for (let t = 0; t < kw; t++) {
            const p = i + top - r;
            const q = j + left - t;
            if (p < 0 || p >= oh || q < 0 || q >= ow) continue;
            for (let ch = 0; ch < k; ch++) {
              const o = ((img * oh + p) * ow + q) * k + ch;
              const av = a[(r * kw + t) * k + ch];
              sum += d[o] * av;
              abs += Math.abs(d[o] * av);
              carried += Math.abs(av) * ed[o];
            }
          }
        }
        out[(img * h + i) * w + j] = sum;
        bound[(img * h + i) * w + j] = (m + 3) * U * abs + carried;
      }
    }
  }
  return { exact: out, bound };
}

describeEachBackend('imaging: the one-shot HVP curvature pass written into Cᵀ’s padded input', (backend) => {
  it('applies where the passes do (wasm, no tape), and declines K < 4', () => {
    const x = tf.zeros([1, 6, 6, 1]);
    const f3 = tf.zeros([3, 3, 1, 3]);
    const s3 = tf.ones([3]);
    const simd = passesFor(true, f3, x, x);
    expect(simd != null).toBe(backend === 'wasm');
    if (simd != null) expect(curvatureHessianProduct(simd, x, x, { filters: f3, scale: s3 }, f3, identity('same'))).toBeNull();
    let taped: unknown = 'unset';
    tf.grad((z: tf.Tensor) => {
      taped = passesFor(true, f3, x, x);
      return tf.sum(z);
    })(tf.zeros([1])).dispose();
    expect(taped).toBeNull();
    tf.dispose([x, f3, s3]);
  });

  for (const c of CASES) {
    const name = `${c.n}×${c.h}×${c.w}, ${c.kh}×${c.kw}, ${c.k} filters, '${c.mode}'`;
    it(`${name}: the bits of curvatureProduct then transposedPass, within the float64 bound per output, deterministic, no tensors left`, () => {
      const simd = filterSimdOf(tf.backend());
      if (simd == null) return; // wasm only (tested above)
      const before = tf.memory().numTensors;
      const x = tf.tidy(() => tf.add(0.5, randn([c.n, c.h, c.w, 1], 7 + c.k)));
      const v = randn([c.n, c.h, c.w, 1], 8 + c.k);
      const filters = tf.tidy(() => tf.mul(0.4, randn([c.kh, c.kw, 1, c.k], 5 + c.kh)));
      const scale = tf.tidy(() => tf.exp(tf.mul(0.3, randn([c.k], 6 + c.k))));
      const adjoint = tf.tidy(() => tf.mul(0.7, randn([c.kh, c.kw, 1, c.k], 9 + c.kw)));
      const p = { filters, scale };
      const made: tf.Tensor[] = [];
      try {
        const out = curvatureHessianProduct(simd, x, v, p, adjoint, identity(c.mode));
        expect(out).not.toBeNull();
        made.push(out!);
        expect(out!.shape).toEqual([c.n, c.h, c.w, 1]);
        const got = out!.dataSync();
        const product = curvatureProduct(simd, x, v, p, identity(c.mode));
        made.push(product);
        const twoPasses = transposedPass(simd, product, adjoint, c.mode);
        made.push(twoPasses);
        expect(Array.from(got)).toEqual(Array.from(twoPasses.dataSync()));
        const read = (t: tf.Tensor) => t.dataSync() as Float32Array;
        const ref = exact(read(x), read(v), read(filters), read(scale), read(adjoint), c);
        let worst = 0;
        for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref.exact[i]) / Math.max(ref.bound[i], 1e-30));
        expect(worst).toBeLessThanOrEqual(1);
        // the same bits on a second call, after another pass has used the scratch (the border is zeroed again)
        const other = tf.fill(product.shape, 3);
        made.push(other, transposedPass(simd, other, adjoint, c.mode));
        const again = curvatureHessianProduct(simd, x, v, p, adjoint, identity(c.mode))!;
        made.push(again);
        expect(Array.from(again.dataSync())).toEqual(Array.from(got));
      } finally {
        tf.dispose([x, v, filters, scale, adjoint, ...made]);
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('non-finite inputs reach exactly the outputs the two passes give them (a NaN in x, an inf in v near the borders)', () => {
    const simd = filterSimdOf(tf.backend());
    if (simd == null) return;
    const before = tf.memory().numTensors;
    const xs = tf.tidy(() => randn([2, 14, 13, 1], 21).dataSync() as Float32Array);
    const vs = tf.tidy(() => randn([2, 14, 13, 1], 22).dataSync() as Float32Array);
    xs[4 * 13 + 6] = NaN; // image 0, inside
    vs[14 * 13 + 9 * 13 + 0] = Infinity; // image 1, left border
    xs[14 * 13 + 13 * 13 + 12] = -Infinity; // image 1, bottom right corner
    const x = tf.tensor4d(xs, [2, 14, 13, 1]);
    const v = tf.tensor4d(vs, [2, 14, 13, 1]);
    const filters = tf.tidy(() => tf.add(0.5, tf.abs(randn([5, 5, 1, 6], 23)))); // no zero filter values
    const scale = tf.ones([6]);
    const adjoint = tf.tidy(() => tf.add(0.5, tf.abs(randn([5, 5, 1, 6], 24))));
    const p = { filters, scale };
    const out = curvatureHessianProduct(simd, x, v, p, adjoint, identity('same'))!;
    const product = curvatureProduct(simd, x, v, p, identity('same'));
    const ref = transposedPass(simd, product, adjoint, 'same');
    try {
      const [a, b] = [out.dataSync(), ref.dataSync()];
      const finite = (z: number) => Number.isFinite(z);
      expect(Array.from(a, finite)).toEqual(Array.from(b, finite));
      expect(Array.from(a, Number.isNaN)).toEqual(Array.from(b, Number.isNaN));
      // a non-finite input reaches the outputs within two filter radii (C then Cᵀ), clipped at the borders
      expect(Array.from(a).filter((z) => !finite(z)).length).toBeGreaterThan(0);
      expect(Array.from(a.subarray(0, 14 * 13)).filter((z) => !finite(z)).length).toBe(81);
    } finally {
      tf.dispose([x, v, filters, scale, adjoint, out, product, ref]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
