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
