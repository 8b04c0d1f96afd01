import { it, expect } from 'vitest';
import { tf, disposeParams } from '@bilevel/core';
import { describeEachBackend, randn, relErr } from '@bilevel/testing/vitest';
import { foeProblem } from '../src/index.js';
import { randomFilterCase } from './helpers.js';

/*
 * The Student-t FoE derivatives as SIMD passes on wasm (filter-passes.ts): the gradient
 * (C x with ρ' from the taps), the prepared Hessian (ρ'' once per x, ρ'' ⊙ C v per product) and
 * the one-shot HVP (C x, C v and the curvature in one pass), each against autodiff of the same
 * energy, on every padding, with channel counts around the passes' 16-channel tiles and
 * 4-channel vectors (6, 8, 24, 30), an odd output width (the 2-pixel tiles) and a batch of 2; Cᵀ is the
 * SIMD transposed convolution on wasm for every expert (filter-transposed.test.ts tests it alone).
 * Each entry is a float32 sum of ≤ 2·49 products in different orders on the routes: 1e-5
 * relative (~100 ulp) is far above their rounding and far below an indexing or factor error (O(1)).
 */
const TOL = 1e-5;

async function kernelsOf(fn: () => tf.Tensor): Promise<string[]> {
  const info = await tf.profile(fn);
  tf.dispose(info.result as tf.Tensor);
  return info.kernels.map((k) => k.name);
}

type Options = Parameters<typeof foeProblem>[0];
const random = (size: number, count: number, seed: number) => () => tf.tidy(() => tf.mul(0.3, randn([size, size, 1, count], seed)));
const CASES: Record<string, { options: Options; filters?: () => tf.Tensor; studentT: boolean }> = {
  'Student-t, same, 7×7, 30 filters (the benchmark)': { options: { alpha: 0.05, nu: 0.3, padding: 'same' }, filters: random(7, 30, 9), studentT: true },
  'Student-t, same, 7×7, 6 filters': { options: { alpha: 0.05, nu: 0.3, padding: 'same' }, filters: random(7, 6, 10), studentT: true },
  'Student-t, symmetric, 5×5 DCT (24)': { options: { size: 5, alpha: 0.05, nu: 0.3 }, studentT: true },
  'Student-t, valid, 3×3 DCT (8)': { options: { size: 3, alpha: 0.05, nu: 0.3, padding: 'valid' }, studentT: true },
  'Charbonnier, same, 3×3 (prepared route)': { options: { size: 3, alpha: 0.05, nu: 0.3, padding: 'same', expert: 'charbonnier' }, studentT: false },
};

describeEachBackend('imaging: SIMD passes of the Fields-of-Experts derivatives', (backend) => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: gradient, problem.hvp and the prepared Hessian match autodiff; on wasm (Student-t) no forward Conv2D runs`, async () => {
      const before = tf.memory().numTensors;
      const filters = c.filters?.();
      const options = { ...c.options, ...(filters != null ? { filters } : {}) };
      const fast = foeProblem({ ...options, verify: true });
      const auto = foeProblem({ ...options, derivatives: false });
      filters?.dispose(); // foeProblem copies it
      const shape = [2, 17, 13, 1]; // 13: odd output widths on every padding
      const { x, v, data, theta } = randomFilterCase(shape, fast.theta); // θ perturbed: ν_k, α_k away from 1 and each other
      try {
        const one = fast.problem.hvp(x, theta, data, v); // verify checks it against autodiff first
        const ref = auto.problem.hvp(x, theta, data, v);
        const h = fast.problem.hessianAt(x, theta, data);
        const prepared = h.apply(v);
        h.dispose();
        expect(one.shape).toEqual(shape);
        expect(relErr(one, ref)).toBeLessThan(TOL);
        expect(relErr(prepared, ref)).toBeLessThan(TOL);
        const [g, gRef] = [fast.problem.gradient(x, theta, data), auto.problem.gradient(x, theta, data)];
        expect(relErr(g, gRef)).toBeLessThan(TOL);
        tf.dispose([one, ref, prepared, g, gRef]);
        const passes = backend === 'wasm' && c.studentT;
        for (const run of [() => fast.problem.hvp(x, theta, data, v), () => fast.problem.gradient(x, theta, data)]) {
          const kernels = await kernelsOf(run);
          expect(kernels.includes('Conv2D')).toBe(!passes);
          // Cᵀ by the SIMD transposed convolution on wasm (filter-transposed.test.ts), for every expert
          expect(kernels.includes('Conv2DBackpropInput')).toBe(backend !== 'wasm');
        }
        const h2 = fast.problem.hessianAt(x, theta, data);
        const applied = await kernelsOf(() => h2.apply(v));
        h2.dispose();
        expect(applied.includes('Conv2D')).toBe(!passes);
        expect(applied.includes('Conv2DBackpropInput')).toBe(backend !== 'wasm');
      } finally {
        fast.dispose();
        auto.dispose();
        disposeParams(theta);
        tf.dispose([x, v, data.y]);
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('while a tape records, gradient, hvp and a prepared Hessian take the differentiable route: ∇_v Σ(H v) = H 1 (H symmetric)', () => {
    const before = tf.memory().numTensors;
    const fast = foeProblem({ size: 5, alpha: 0.05, nu: 0.3, padding: 'same' });
    const shape = [1, 11, 9, 1];
    const { x, v, data } = randomFilterCase(shape);
    const ones = tf.onesLike(x);
    try {
      const g = tf.grad((w: tf.Tensor) => tf.sum(fast.problem.hvp(x, fast.theta, data, w)))(v);
      const h1 = fast.problem.hvp(x, fast.theta, data, ones);
      expect(relErr(g, h1)).toBeLessThan(TOL);
      // the Hessian prepared outside the tape (its curvature by a pass), applied inside it
      const h = fast.problem.hessianAt(x, fast.theta, data);
      const gh = tf.grad((w: tf.Tensor) => tf.sum(h.apply(w)))(v);
      h.dispose();
      expect(relErr(gh, h1)).toBeLessThan(TOL);
      // ∇_x Σ ∇Φ(x) = H 1 through the gradient's differentiable route
      const gg = tf.grad((z: tf.Tensor) => tf.sum(fast.problem.gradient(z, fast.theta, data)))(x);
      expect(relErr(gg, h1)).toBeLessThan(TOL);
      tf.dispose([g, h1, gh, gg]);
    } finally {
      fast.dispose();
      tf.dispose([x, v, data.y, ones]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
