import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, hypergradient, defineProblem, lbfgs, cg, gmres, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { implicit } from '../src/index.js';
import { makeQuadratic, relErrNumbers, matvec, sub } from '@bilevel/testing';

/*
 * The implicit strategy on core's driver against central differences of the float64
 * closed-form F(θ) = ℓ(x̂(θ), θ) on the bilevel quadratic, with a loss that also depends on
 * θ directly (so the driver's split ∇_θℓ is exercised) and θ's key named 'x' (no key is
 * reserved). F is quadratic in θ, so the quotient is exact up to float64 rounding; the
 * float32 solves at tol 1e-6 (κ ≈ 10) leave ~1e-6 relative error: we assert 1e-3.
 */
describe('implicit on the driver [wasm]', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('matches central differences of the closed-form F(θ) with a direct θ term, for cg and gmres adjoints', () => {
    const q = makeQuadratic();
    const data = { A1: tf.tensor2d(q.A1), b1: tf.tensor1d(q.b1), A2: tf.tensor2d(q.A2), A3: tf.tensor2d(q.A3), b2: tf.tensor1d(q.b2) };
    const mv = (A: tf.Tensor, v: tf.Tensor) => tf.squeeze(tf.matMul(A as tf.Tensor2D, tf.reshape(v, [-1, 1]) as tf.Tensor2D), [1]);
    const problem = defineProblem<typeof data>({
      energy: (x, th, d) => tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(tf.add(mv(d.A2, x), mv(d.A3, th.x)), d.b2)))), tf.mul(0.5 * q.xi, tf.sum(tf.square(x)))),
      init: () => tf.zeros([q.n]),
      strongConvexity: q.mu,
    });
    const c = 0.3;
    const loss = (x: tf.Tensor, th: Params, d: typeof data) => tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(mv(d.A1, x), d.b1)))), tf.mul(0.5 * c, tf.sum(tf.square(th.x))));
    const F = (theta: number[]) => {
      const r = sub(matvec(q.A1, q.exact(theta).x), q.b1);
      return 0.5 * r.reduce((a, v) => a + v * v, 0) + 0.5 * c * theta.reduce((a, v) => a + v * v, 0);
    };
    const h = 1e-4;
    const fd = q.theta0.map((_, j) => {
      const plus = q.theta0.slice();
      const minus = q.theta0.slice();
      plus[j] += h;
      minus[j] -= h;
      return (F(plus) - F(minus)) / (2 * h);
    });
    const theta = { x: tf.tensor1d(q.theta0) };
    const before = tf.memory().numTensors;
    for (const linear of [cg(), gmres()]) {
      const strategy = implicit({ inner: lbfgs(), linear, tol: 1e-6, linearTol: 1e-6 });
      const r = hypergradient({ problem, theta, data, loss, strategy, onNotConverged: 'error' });
      const err = relErrNumbers(r.grad.x.dataSync(), fd);
      console.log(`implicit(lbfgs, ${linear.name}) vs float64 FD of F: ${err.toExponential(2)}; value ${r.value.toFixed(6)} vs ${F(q.theta0).toFixed(6)}`);
      expect(err).toBeLessThan(1e-3);
      expect(Math.abs(r.value - F(q.theta0))).toBeLessThan(1e-4 * F(q.theta0));
      expect(r.status).toBe('converged');
      // Work: loss split (1 VJP) + mixed product (1 VJP); every adjoint iteration one HVP.
      expect(r.work.vjps).toBe(2);
      expect(r.work.hvps).toBeGreaterThanOrEqual(r.work.linearIterations);
      r.dispose();
      strategy.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    disposeParams(theta);
    for (const t of Object.values(data)) t.dispose();
  });
});
