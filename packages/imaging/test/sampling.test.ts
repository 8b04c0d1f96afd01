import { it, expect } from 'vitest';
import { tf, lbfgs, cg, hypergradient, grad, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';
import { describeEachBackend, randn, relErr } from '@bilevel/testing/vitest';
import { adjointError, dot } from './helpers.js';
import {
  samplingProblem, samplingPenalty, smoothedTV, mrPhantoms, variableDensityMask, lowFrequencyMask, radialMask, binariseSampling,
} from '../src/index.js';
import type { SamplingProblem } from '../src/index.js';

const scalarOf = (t: tf.Tensor) => {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
};
const layouts = ['free', 'cartesian'] as const;
const parametrisations = ['box', 'ratio'] as const;

/** p ∈ [0.2, 0.8] (away from the box ends and from the ratio's pole at 1). */
const randomP = (shape: number[], seed: number) => tf.randomUniform(shape, 0.2, 0.8, 'float32', seed);

function build(n: number, layout: 'free' | 'cartesian', parametrisation: 'box' | 'ratio'): SamplingProblem {
  // ν = 0.1: five-point truncation (h|v|‖∇‖/ν)⁴ stays negligible (see regularizers.test.ts)
  return samplingProblem({ height: n, width: n, layout, parametrisation, regularizer: smoothedTV({ nu: 0.1, alpha: 0.05 }), xi: 1e-3 });
}

describeEachBackend('learnable MRI sampling', (backend) => {
  const n = backend === 'cpu' ? 6 : 8;

  for (const layout of layouts) {
    it(`${layout}: A(θ) = S(s)F has adjoint Re Fᴴ S(s), and the data term is ½‖A(θ)x − S(s)y‖²`, () => {
      const before = tf.memory().numTensors;
      const mri = build(n, layout, 'ratio');
      const p = randomP(mri.theta.sampling.shape, 3);
      const theta = { sampling: p };
      const A = mri.operatorAt(theta);
      const x = randn([2, n, n, 1], 4);
      const y = randn([2, n, n, 2], 5);
      const err = adjointError((z) => A.apply(z), (z) => A.adjoint(z), x, y);
      // float32 DFT matmuls over n ≤ 8 terms: ~1e-7 relative per entry
      expect(err).toBeLessThan(1e-5);
      // y = F x† (complex pairs): energy − R(x) − (ξ/2)‖x‖² = ½ Σ s²|F(x − x†)|²
      const clean = randn([2, n, n, 1], 6);
      const data = { y: mri.kspace(clean) };
      const energy = scalarOf(mri.problem.energy(x, theta, data));
      const tv = smoothedTV({ nu: 0.1, alpha: 0.05 });
      const thetaTv = tv.init();
      const r = scalarOf(tv.value(x, thetaTv)) + (1e-3 / 2) * dot(x, x);
      const expected = scalarOf(tf.tidy(() => tf.mul(0.5, tf.sum(tf.square(tf.sub(A.apply(x), A.apply(clean)))))));
      // float32 sums of ~10² terms of size ~1: ≲ 1e-5 relative
      expect(Math.abs(energy - r - expected) / expected).toBeLessThan(1e-4);
      tf.dispose([p, x, y, clean, data.y, thetaTv.logAlpha]);
      A.dispose();
      mri.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  for (const layout of layouts) {
    for (const parametrisation of parametrisations) {
      if (backend !== 'wasm') continue;
      it(`${layout}, ${parametrisation}: mixed product ∇_p⟨∇ₓΦ, v⟩ and the HVP match differences of gradients`, () => {
        const before = tf.memory().numTensors;
        const mri = build(n, layout, parametrisation);
        const theta: Params = { sampling: randomP(mri.theta.sampling.shape, 7) };
        const clean = tf.tidy(() => tf.add(0.5, tf.mul(0.2, randn([2, n, n, 1], 8))));
        const data = { y: tf.tidy(() => tf.add(mri.kspace(clean), tf.mul(0.05, randn([2, n, n, 2], 9)))) };
        const x = tf.tidy(() => tf.add(0.5, tf.mul(0.2, randn([2, n, n, 1], 10))));
        const v = randn(x.shape, 11);
        const d = randn(theta.sampling.shape, 12);
        const mixed = mri.problem.mixed(x, theta, data, v);
        const exact = dot(mixed.sampling, d);
        // gradients are local sums (no big cancellation): h = 1e-3 keeps the round-off
        // 6e-8·|∇Φ|/h ≈ 1e-4 relative; truncation (h/0.2)⁴ for the ratio's pole is ~1e-9
        const h = 1e-3;
        const at = (t: number) => {
          const th = { sampling: tf.tidy(() => tf.add(theta.sampling, tf.mul(d, t))) };
          const g = mri.problem.gradient(x, th, data);
          const r = dot(g, v);
          tf.dispose([g, th.sampling]);
          return r;
        };
        const fd = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h);
        expect(Math.abs(exact - fd) / Math.abs(exact)).toBeLessThan(2e-3);
        const hv = mri.problem.hvp(x, theta, data, v);
        const fdH = tf.tidy(() => {
          const g = (t: number) => grad((z) => mri.problem.energy(z, theta, data), tf.add(x, tf.mul(v, t)));
          return tf.div(tf.addN([tf.neg(g(2 * h)), tf.mul(8, g(h)), tf.mul(-8, g(-h)), g(-2 * h)]), 12 * h);
        });
        expect(relErr(hv, fdH)).toBeLessThan(2e-3);
        disposeParams(mixed);
        tf.dispose([theta.sampling, clean, data.y, x, v, d, hv, fdH]);
        mri.dispose();
        expect(tf.memory().numTensors).toBe(before);
      });

      it(`${layout}, ${parametrisation}: implicit hypergradient of ½‖x̂ − x†‖² + J(p) matches differences of the reduced objective`, () => {
        const before = tf.memory().numTensors;
        const mri = build(n, layout, parametrisation);
        const theta: Params = { sampling: randomP(mri.theta.sampling.shape, 13) };
        const clean = tf.tidy(() => tf.add(0.5, tf.mul(0.2, randn([2, n, n, 1], 14))));
        const data = { y: tf.tidy(() => tf.add(mri.kspace(clean), tf.mul(0.05, randn([2, n, n, 2], 15)))), clean };
        const penalty = { beta1: 1e-3, beta2: 2e-3 };
        const loss = (z: tf.Tensor, th: Params, dd: typeof data) =>
          tf.tidy(() => tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(z, dd.clean)))), samplingPenalty(th, penalty)));
        // 3e-6: the float32 floor of ‖∇ₓΦ‖ here is ~1e-6 (L-BFGS stalls there on some draws)
        const tight = { tol: 3e-6, maxIter: 2000 };
        const strategy = implicit({ inner: lbfgs(), linear: cg(), tol: 3e-6, linearTol: 1e-6, maxIter: 2000, linearMaxIter: 500 });
        const r = hypergradient({ problem: mri.problem, theta, data, loss, strategy, onNotConverged: 'error' });
        const d = randn(theta.sampling.shape, 16);
        const exact = dot(r.grad.sampling, d);
        const reduced = (t: number) => {
          const th = { sampling: tf.tidy(() => tf.add(theta.sampling, tf.mul(d, t))) };
          const s = lbfgs().solve(mri.problem, th, data, tight);
          const value = scalarOf(loss(s.x, th, data));
          tf.dispose([s.x, th.sampling]);
          return value;
        };
        // Central difference of F(p) = ℓ(x̂(p), p) with h = 1e-2: truncation h²|F'''|/6 and
        // the inner solves' error ‖∇ₓℓ‖·‖x̃ − x̂‖/h ≲ 3e-6·(1/μ)/h, μ ≥ min s² ≈ 0.04, give
        // ~1e-3 relative on a directional derivative of size ~0.1–1; we assert 1e-2.
        const h = 1e-2;
        const fd = (reduced(h) - reduced(-h)) / (2 * h);
        const err = Math.abs(exact - fd) / Math.abs(exact);
        console.log(`[${backend}] ${layout}/${parametrisation}: hypergradient ${exact.toExponential(4)} vs FD ${fd.toExponential(4)} (rel. ${err.toExponential(2)})`);
        expect(err).toBeLessThan(1e-2);
        disposeParams(r.grad);
        r.x?.dispose?.();
        strategy.dispose?.();
        tf.dispose([theta.sampling, clean, data.y, d]);
        mri.dispose();
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  }

  it('analytic gradient and Hessian (one F and one Fᴴ) equal autodiff of the energy; mixed product too', () => {
    const before = tf.memory().numTensors;
    for (const layout of layouts) {
      const make = (derivatives: boolean) => samplingProblem({ height: n, width: n, layout, parametrisation: 'ratio', regularizer: smoothedTV({ nu: 0.1, alpha: 0.05 }), xi: 1e-3, derivatives });
      const [fast, auto] = [make(true), make(false)];
      const theta: Params = { sampling: randomP(fast.theta.sampling.shape, 31) };
      const clean = tf.tidy(() => tf.add(0.5, tf.mul(0.2, randn([2, n, n, 1], 32))));
      const data = { y: tf.tidy(() => tf.add(fast.kspace(clean), tf.mul(0.05, randn([2, n, n, 2], 33)))) };
      const x = randn([2, n, n, 1], 34);
      const v = randn([2, n, n, 1], 35);
      const [g1, g2] = [fast.problem.gradient(x, theta, data), auto.problem.gradient(x, theta, data)];
      const [h1, h2] = [fast.problem.hvp(x, theta, data, v), auto.problem.hvp(x, theta, data, v)];
      const [m1, m2] = [fast.problem.mixed(x, theta, data, v), auto.problem.mixed(x, theta, data, v)];
      // the same derivatives in two float32 op orders: ~1e-6 relative
      expect(relErr(g1, g2)).toBeLessThan(1e-4);
      expect(relErr(h1, h2)).toBeLessThan(1e-4);
      expect(relErr(m1.sampling, m2.sampling)).toBeLessThan(1e-4);
      expect(fast.problem.supplied).toMatchObject({ gradient: true, hessian: true, mixed: false });
      expect(auto.problem.supplied).toMatchObject({ gradient: false, hessian: false });
      tf.dispose([g1, g2, h1, h2, theta.sampling, clean, data.y, x, v]);
      disposeParams(m1);
      disposeParams(m2);
      fast.dispose();
      auto.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('samplingPenalty is β₁Σp + β₂Σp(1 − p) on the box; constants bracket s²', () => {
    const before = tf.memory().numTensors;
    const p = tf.tensor1d([0, 0.25, 0.5, 1]);
    expect(scalarOf(samplingPenalty({ sampling: p }, { beta1: 2, beta2: 4 }))).toBeCloseTo(2 * 1.75 + 4 * (0.1875 + 0.25), 5);
    const mri = samplingProblem({ height: 4, width: 4, layout: 'cartesian', parametrisation: 'box', xi: 0.01 });
    const data = { y: tf.zeros([1, 4, 4, 2]) };
    const th = { sampling: tf.tensor1d([0.1, 0.5, 0.9, 0.3]) };
    expect(mri.problem.mu(th, data)).toBeCloseTo(0.01 + 0.01, 5);
    expect(mri.problem.lipschitz(th, data)!).toBeGreaterThan(0.81 + 0.01);
    const [x0, wrong] = [tf.zeros([1, 4, 4, 1]), tf.ones([4, 4])];
    expect(() => mri.problem.energy(x0, { sampling: wrong }, data)).toThrow(/theta\.sampling has shape \[4,4\], expected \[4\]/);
    tf.dispose([x0, wrong]);
    expect(() => samplingProblem({ height: 4, width: 4, init: 1, parametrisation: 'ratio' })).toThrow(/below 1/);
    expect(() => samplingProblem({ height: 4, width: 4, layot: 'free' } as never)).toThrow(/layout/);
    tf.dispose([p, data.y, th.sampling]);
    mri.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describeEachBackend('sampling masks and phantoms', () => {
  it('fixed-rate masks hit the rate; VDS keeps zero frequency and is seeded; binarisation keeps the largest', () => {
    const before = tf.memory().numTensors;
    const mean = (t: tf.Tensor) => scalarOf(tf.mean(t));
    for (const layout of layouts) {
      const vds = variableDensityMask({ height: 16, width: 16, rate: 0.25, layout, seed: 3 });
      expect(mean(vds)).toBeCloseTo(0.25, 6);
      expect(vds.arraySync()[0][0]).toBe(1);
      const again = variableDensityMask({ height: 16, width: 16, rate: 0.25, layout, seed: 3 });
      expect(scalarOf(tf.tidy(() => tf.sum(tf.abs(tf.sub(vds, again)))))).toBe(0);
      const low = lowFrequencyMask({ height: 16, width: 16, rate: 0.25, layout });
      expect(mean(low)).toBeCloseTo(0.25, 6);
      // the lowest frequencies (both signs) are in, the highest are out
      const l = low.arraySync();
      expect([l[0][0], l[1][0], l[15][0], l[8][8]]).toEqual([1, 1, 1, 0]);
      tf.dispose([vds, again, low]);
    }
    const radial = radialMask({ height: 16, width: 16, rate: 0.3 });
    const rate = mean(radial);
    expect(rate).toBeLessThanOrEqual(0.3);
    expect(rate).toBeGreaterThan(0.15);
    const p = tf.tensor1d([0.1, 0.9, 0.5, 0.7]);
    const bin = binariseSampling(p, 0.5, 3);
    expect(bin.arraySync()).toEqual([[0, 0, 0], [1, 1, 1], [0, 0, 0], [1, 1, 1]]);
    expect(() => binariseSampling(p, 0.5)).toThrow(/width/);
    expect(() => radialMask({ height: 8, width: 8, rate: 0.3, layout: 'cartesian' })).toThrow(/radialMask: option 'layout'/);
    expect(() => variableDensityMask({ height: 8, width: 8, rate: 0 })).toThrow(/rate/);
    tf.dispose([radial, p, bin]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('MR-like phantoms are in [0, 1], seeded, and differ between seeds', () => {
    const a = mrPhantoms({ count: 2, size: 24, seed: 1 });
    const b = mrPhantoms({ count: 2, size: 24, seed: 1 });
    const c = mrPhantoms({ count: 2, size: 24, seed: 2 });
    expect(scalarOf(tf.min(a))).toBeGreaterThanOrEqual(0);
    expect(scalarOf(tf.max(a))).toBeCloseTo(1, 6);
    expect(scalarOf(tf.sum(tf.abs(tf.sub(a, b))))).toBe(0);
    expect(scalarOf(tf.sum(tf.abs(tf.sub(a, c))))).toBeGreaterThan(1);
    expect(() => mrPhantoms({ count: 1, size: 8, bias: 1 })).toThrow(/bias/);
    tf.dispose([a, b, c]);
  });
});
