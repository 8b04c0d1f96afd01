import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { tf, initBackend, hypergradient, defineFixedPoint, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { unrolled } from '../src/index.js';
import { makeQuadratic, quadraticTensors, disposeData, relErrNumbers, matvec, transpose, sub } from '@bilevel/testing';

/*
 * The unrolled strategy on core's driver, against finite differences of the float64 unrolled
 * map θ ↦ ℓ(x_T(θ)) on the closed-form quadratic. x_T is affine in θ and ℓ quadratic, so the
 * central quotient is exact up to float64 rounding (~1e-10 here); the float32 strategy runs
 * T = 30 contracting steps, accumulating ~1e-6 relative error: we assert 1e-4.
 */
describe('unrolled on the driver [wasm]', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });
  const q = makeQuadratic();
  let t: ReturnType<typeof quadraticTensors>;
  beforeAll(() => {
    t = quadraticTensors(q);
  });
  afterAll(() => {
    disposeData(t.data);
    disposeParams(t.theta);
  });

  /** ℓ(x_T(θ)) in float64: T gradient steps of size 1/L from x_0 = 0. */
  function unrolledLoss(theta: number[], T: number): number {
    const s = 1 / q.L;
    const c = sub(matvec(q.A3, theta), q.b2);
    const g0 = matvec(transpose(q.A2), c);
    let x = new Array<number>(q.n).fill(0);
    for (let k = 0; k < T; k++) {
      const grad = matvec(q.H, x).map((v, i) => v + g0[i]);
      x = x.map((v, i) => v - s * grad[i]);
    }
    const r = sub(matvec(q.A1, x), q.b1);
    return 0.5 * r.reduce((a, v) => a + v * v, 0);
  }

  it('reverse, checkpointed and forward mode match central differences of the float64 unrolled map; no tol gives status fixed-steps', () => {
    const T = 30;
    const h = 1e-4;
    const fd = q.theta0.map((_, j) => {
      const plus = q.theta0.slice();
      const minus = q.theta0.slice();
      plus[j] += h;
      minus[j] -= h;
      return (unrolledLoss(plus, T) - unrolledLoss(minus, T)) / (2 * h);
    });
    const before = tf.memory().numTensors;
    for (const options of [{}, { memory: { checkpointEvery: 4 } }, { mode: 'forward' as const }]) {
      const strategy = unrolled({ steps: T, ...options });
      const r = hypergradient({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss, strategy, onNotConverged: 'error' });
      const err = relErrNumbers(r.grad.theta.dataSync(), fd);
      console.log(`unrolled ${JSON.stringify(options)} T=${T} vs float64 FD: ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-4);
      expect(Math.abs(r.value - unrolledLoss(q.theta0, T))).toBeLessThan(1e-5 * Math.abs(r.value));
      expect(r.status).toBe('fixed-steps');
      expect(r.converged).toBe(true);
      expect(r.message).toMatch(/exact gradient of T = 30 steps, not of the solution map/);
      r.dispose();
      strategy.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('unrolled flags a diverging or non-finite unroll [wasm]', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('T(x) = 1.5x + θ: not converged, status forward-not-converged, a message naming the fix, with or without tol', () => {
    const problem = defineFixedPoint({ map: (x, th) => tf.add(tf.mul(1.5, x), th.theta), init: () => tf.zeros([3]) });
    const theta: Params = { theta: tf.tensor1d([0.1, -0.2, 0.3]) };
    const loss = (x: tf.Tensor) => tf.sum(tf.square(x));
    const before = tf.memory().numTensors;
    for (const tol of [undefined, 1e-3]) {
      const r = unrolled({ steps: 60 }).compute({ problem, theta, data: {}, loss, tol });
      expect(r.converged).toBe(false);
      expect(r.status).toBe('forward-not-converged');
      expect(r.message).toMatch(/the iteration diverges: ‖T\(x_T\) − x_T‖ went from .* after 60 steps.*contraction/);
      expect(r.residuals.forward).toBeGreaterThan(1e6);
      if (tol == null) {
        const g = tf.norm(r.grad.theta);
        console.log(`T(x) = 1.5x + θ, 60 steps: residual ${r.residuals.forward.toExponential(2)}, ‖grad‖ ${g.dataSync()[0].toExponential(2)}, status ${r.status}: ${r.message}`);
        g.dispose();
      }
      r.dispose();
    }
    // Through hypergradient(): 'error' refuses it, 'warn' returns it flagged.
    expect(() => hypergradient({ problem, theta, data: {}, loss, strategy: unrolled({ steps: 60 }), onNotConverged: 'error' })).toThrow(/did not converge.*diverges/);
    // Overflow to Infinity: a non-finite iterate is flagged too.
    const r = unrolled({ steps: 400 }).compute({ problem, theta, data: {}, loss });
    expect(r.converged).toBe(false);
    expect(r.message).toMatch(/diverges/);
    r.dispose();
    // A contraction with the same start is fine: fixed-steps, converged.
    const ok = defineFixedPoint({ map: (x, th) => tf.add(tf.mul(0.5, x), th.theta), init: () => tf.zeros([3]) });
    const good = unrolled({ steps: 60 }).compute({ problem: ok, theta, data: {}, loss });
    expect(good.status).toBe('fixed-steps');
    expect(good.converged).toBe(true);
    good.dispose();
    expect(tf.memory().numTensors).toBe(before);
    disposeParams(theta);
  });
});
