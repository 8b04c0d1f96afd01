import { it, expect } from 'vitest';
import { tf, disposeParams } from '@bilevel/core';
import { describeEachBackend, randn, relErr } from '@bilevel/testing/vitest';
import { foeProblem } from '../src/index.js';
import { filterSimdOf } from '../src/internal/filter-simd.js';
import { randomFilterCase } from './helpers.js';

/*
 * The mixed product's SIMD route for one-channel filters (filter-simd.ts): the filter gradient
 * against tfjs's Conv2DBackpropFilter kernel (core's im2col route on wasm), and the whole FoE
 * mixed product against autodiff of the same energy, on every padding and expert, with filter
 * widths and channel counts that are not multiples of the loop's 4-tap × 8-channel tiles.
 * Both sides are float32 sums of ≤ 2·16² products in different orders: 1e-5 relative (~100 ulp)
 * is far above their rounding and far below any indexing error (O(1)).
 */
const TOL = 1e-5;

async function kernelsOf(fn: () => tf.Tensor | tf.Tensor[]): Promise<string[]> {
  const info = await tf.profile(fn);
  tf.dispose(info.result as tf.Tensor[]);
  return info.kernels.map((k) => k.name);
}

describeEachBackend('imaging: SIMD route of the filter mixed product', (backend) => {
  it('is bound on wasm only (a silent fallback to the tfjs kernels would show here)', () => {
    expect(filterSimdOf(tf.backend()) != null).toBe(backend === 'wasm');
  });

  it('computes the filter gradient of Conv2DBackpropFilter for same and valid padding, any tile remainder', () => {
    const simd = filterSimdOf(tf.backend());
    if (simd == null) return;
    const before = tf.memory().numTensors;
    for (const [n, h, w, kh, kw, co, pad] of [[2, 13, 11, 5, 3, 5, 'same'], [1, 16, 16, 7, 7, 30, 'same'], [2, 9, 12, 3, 5, 9, 'valid'], [1, 8, 8, 4, 4, 8, 'same']] as const) {
      const x = randn([n, h, w, 1], 1);
      const oh = pad === 'same' ? h : h - kh + 1;
      const ow = pad === 'same' ? w : w - kw + 1;
      const dy = randn([n, oh, ow, co], 2);
      const ref = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
        strides: [1, 1], pad, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: [kh, kw, 1, co],
      } as never) as tf.Tensor;
      const same = pad === 'same';
      const g = simd.filterGradient(x, dy, { n, h, w, kh, kw, co, oh, ow, top: same ? Math.floor((kh - 1) / 2) : 0, left: same ? Math.floor((kw - 1) / 2) : 0 });
      expect(g).not.toBeNull();
      const mine = tf.tensor(g!, ref.shape);
      expect(relErr(mine, ref)).toBeLessThan(TOL);
      tf.dispose([x, dy, ref, mine]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('computes the curvature pass and both mixed-product factors of the tfjs ops for every remainder of its 2-pixel × 8-channel tiles', () => {
    const simd = filterSimdOf(tf.backend());
    if (simd == null) return;
    const before = tf.memory().numTensors;
    type Backend = { dataIdMap: { get(id: object): { memoryOffset: number } }; wasm: { HEAPF32: Float32Array } };
    const heap = tf.backend() as unknown as Backend;
    // channel counts around the 4-lane vectors and 8-channel tiles (a tile's second vector partly or wholly past co),
    // odd and even output widths, batches of 1–3, square and non-square filters, 'same' and 'valid'
    const cases = [[2, 9, 11, 5, 5, 1, 'same'], [3, 7, 7, 7, 7, 3, 'same'], [1, 8, 6, 3, 3, 5, 'valid'], [2, 10, 9, 3, 5, 10, 'same'],
      [1, 6, 12, 5, 3, 13, 'valid'], [2, 8, 8, 7, 7, 16, 'same'], [1, 11, 13, 7, 7, 30, 'same'], [2, 6, 5, 3, 3, 8, 'same']] as const;
    for (const [n, h, w, kh, kw, co, pad] of cases) {
      const same = pad === 'same';
      const oh = same ? h : h - kh + 1;
      const ow = same ? w : w - kw + 1;
      const g = { n, h, w, kh, kw, co, oh, ow, top: same ? Math.floor((kh - 1) / 2) : 0, left: same ? Math.floor((kw - 1) / 2) : 0 };
      const x = randn([n, h, w, 1], 11);
      const v = randn([n, h, w, 1], 12);
      const f = tf.tidy(() => tf.mul(0.4, randn([kh, kw, 1, co], 13)));
      const s = tf.tidy(() => tf.exp(tf.mul(0.3, randn([co], 14))));
      const [curvatureRef, firstRef] = tf.tidy(() => {
        const t = tf.mul(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, pad), s);
        const d = tf.add(tf.square(t), 1);
        const u = tf.conv2d(v as tf.Tensor4D, f as tf.Tensor4D, 1, pad);
        return [tf.mul(tf.div(tf.sub(1, tf.square(t)), tf.square(d)), u), tf.div(t, d)];
      });
      const filters = f.dataSync() as Float32Array;
      const scale = s.dataSync() as Float32Array;
      const out = tf.fill(curvatureRef.shape, 7);
      simd.curvature(x, v, filters, scale, heap.dataIdMap.get(out.dataId).memoryOffset, g);
      expect(relErr(out, curvatureRef)).toBeLessThan(TOL);
      const size = n * oh * ow * co;
      const factors = simd.curvatureFactors(x, v, filters, scale, g);
      const read = (at: number) => tf.tensor(heap.wasm.HEAPF32.slice(at >> 2, (at >> 2) + size), curvatureRef.shape);
      const [d1, d2] = [read(factors.d1), read(factors.d2)];
      expect(relErr(d1, curvatureRef)).toBeLessThan(TOL);
      expect(relErr(d2, firstRef)).toBeLessThan(TOL);
      tf.dispose([x, v, f, s, curvatureRef, firstRef, out, d1, d2]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  type Options = Parameters<typeof foeProblem>[0];
  // 6 random 7×7 filters: a channel count that is not a multiple of 8 (the DCT banks have 8, 24, 48)
  const CASES: Record<string, Options | (() => Options)> = {
    'Student-t, same, 7×7, 6 filters': () => ({ filters: tf.tidy(() => tf.mul(0.3, randn([7, 7, 1, 6], 9))), alpha: 0.05, nu: 0.3, padding: 'same' }),
    'Student-t, symmetric, 5×5': { size: 5, alpha: 0.05, nu: 0.3 },
    'Student-t, valid, 3×3': { size: 3, alpha: 0.05, nu: 0.3, padding: 'valid' },
    'Charbonnier, same, 3×3': { size: 3, alpha: 0.05, nu: 0.3, padding: 'same', expert: 'charbonnier' },
  };
  for (const [name, make] of Object.entries(CASES)) {
    it(`${name}: the mixed product matches autodiff, and on wasm runs no Conv2DBackpropFilter`, async () => {
      const before = tf.memory().numTensors;
      const options = typeof make === 'function' ? make() : make;
      const fast = foeProblem(options);
      const auto = foeProblem({ ...options, derivatives: false });
      options?.filters?.dispose(); // foeProblem copies it
      const shape = [2, 12, 10, 1];
      const { x, v, data, theta } = randomFilterCase(shape, fast.theta);
      try {
        const m = fast.problem.mixed(x, theta, data, v);
        const ref = auto.problem.mixed(x, theta, data, v);
        expect(Object.keys(m).sort()).toEqual(Object.keys(ref).sort());
        for (const k of Object.keys(ref)) {
          expect(m[k].shape).toEqual(ref[k].shape);
          expect(relErr(m[k], ref[k])).toBeLessThan(TOL);
        }
        disposeParams(m);
        disposeParams(ref);
        const kernels = await kernelsOf(() => Object.values(fast.problem.mixed(x, theta, data, v)));
        expect(kernels.includes('Conv2DBackpropFilter')).toBe(backend !== 'wasm');
        // Student-t on wasm: C x, C v and both factors come from one pass over the taps (filter-passes.ts), no Conv2D
        expect(kernels.includes('Conv2D')).toBe(!(backend === 'wasm' && !name.startsWith('Charbonnier')));
      } finally {
        fast.dispose();
        auto.dispose();
        disposeParams(theta);
        tf.dispose([x, v, data.y]);
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
