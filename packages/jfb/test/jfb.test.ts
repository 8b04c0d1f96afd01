import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, hypergradient, argmin, lbfgs, defineProblem, defineFixedPoint } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { describeEachBackend } from '@bilevel/testing/vitest';
import { jacobianFree } from '../src/index.js';
import { quadraticFixture, dot, norm, sub } from '@bilevel/testing';

const fx = quadraticFixture();
const theta0 = [0.3, -0.2, 0.5, 0.1];

describeEachBackend('jacobianFree', () => {
  it('returns a descent direction on the closed-form bilevel quadratic (k = 1 and k = 5)', () => {
    const before = tf.memory().numTensors;
    const data = fx.data();
    const theta = { theta: tf.tensor1d(theta0) };
    const exact = fx.exact(theta0).grad;
    for (const steps of [1, 5]) {
      const strategy = jacobianFree({ steps, tol: 1e-5 });
      const r = hypergradient({ problem: fx.problem, theta, data, loss: fx.loss, strategy, onNotConverged: 'error' });
      const g = Array.from(r.grad.theta.dataSync());
      const cosine = dot(g, exact) / (norm(g) * norm(exact));
      console.log(`JFB k=${steps}: cos(g_jfb, g_exact) = ${cosine.toFixed(4)}, rel err ${(norm(sub(g, exact)) / norm(exact)).toFixed(3)}, inner ${r.work.innerIterations}`);
      expect(dot(g, exact)).toBeGreaterThan(0);
      expect(r.converged).toBe(true);
      expect(r.residuals.backward).toBeUndefined();
      expect(Math.abs(r.value - fx.exact(theta0).value)).toBeLessThan(1e-4);
      r.dispose();
      strategy.dispose();
    }
    tf.dispose([theta.theta, ...Object.values(data)]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives the same gradient for the energy and for the equivalent FixedPointProblem, with Picard or an inner solver', () => {
    const before = tf.memory().numTensors;
    const data = fx.data();
    const theta = { theta: tf.tensor1d(theta0) };
    const s = 1 / fx.L;
    const fp = defineFixedPoint<Record<string, tf.Tensor>>({
      map: (x, th, d) => tf.sub(x, tf.mul(fx.problem.gradient(x, th, d), s)),
      init: () => tf.zeros([fx.n]),
    });
    const picard = jacobianFree({ stepSize: s, tol: 1e-5 });
    const viaInner = jacobianFree({ stepSize: s, inner: lbfgs(), tol: 1e-5 });
    const fixedPoint = jacobianFree({ tol: 1e-5 * s });
    const grads = [
      hypergradient({ problem: fx.problem, theta, data, loss: fx.loss, strategy: picard, onNotConverged: 'error' }),
      hypergradient({ problem: fx.problem, theta, data, loss: fx.loss, strategy: viaInner, onNotConverged: 'error' }),
      hypergradient({ problem: fp, theta, data, loss: fx.loss, strategy: fixedPoint, onNotConverged: 'error' }),
    ];
    const g = grads.map((r) => Array.from(r.grad.theta.dataSync()));
    expect(norm(sub(g[1], g[0])) / norm(g[0])).toBeLessThan(1e-3);
    expect(norm(sub(g[2], g[0])) / norm(g[0])).toBeLessThan(1e-3);
    grads.forEach((r) => r.dispose());
    [picard, viaInner, fixedPoint].forEach((x) => x.dispose());
    tf.dispose([theta.theta, ...Object.values(data)]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('tf.grad through argmin(problem, jacobianFree()) equals hypergradient() with the same strategy', () => {
    const data = fx.data();
    const strategy = jacobianFree({ steps: 2, tol: 1e-5 });
    const solve = argmin(fx.problem, strategy, { onNotConverged: 'error' });
    const theta = tf.tensor1d(theta0);
    const g = tf.grad((t: tf.Tensor) => fx.loss(solve({ theta: t }, data), {}, data))(theta);
    const r = hypergradient({ problem: fx.problem, theta: { theta }, data, loss: fx.loss, strategy });
    const a = Array.from(g.dataSync());
    const b = Array.from(r.grad.theta.dataSync());
    expect(norm(sub(a, b)) / norm(b)).toBeLessThan(1e-3);
    tf.dispose([g, theta, ...Object.values(data)]);
    r.dispose();
    strategy.dispose();
  });

  it('flags an unconverged forward solve, and validates options', () => {
    const data = fx.data();
    const theta = { theta: tf.tensor1d(theta0) };
    const strategy = jacobianFree({ maxIter: 2, tol: 1e-6 });
    const r = hypergradient({ problem: fx.problem, theta, data, loss: fx.loss, strategy, onNotConverged: 'warn' });
    expect(r.status).toBe('forward-not-converged');
    expect(r.converged).toBe(false);
    r.dispose();
    expect(() => hypergradient({ problem: fx.problem, theta, data, loss: fx.loss, strategy, onNotConverged: 'error' })).toThrow(/forward residual/);
    expect(() => jacobianFree({ steps: 0 })).toThrow(/jacobianFree: option 'steps'/);
    expect(() => jacobianFree({ stepsize: 1 } as never)).toThrow(/jacobianFree: unknown option 'stepsize'; did you mean 'stepSize'\?/);
    expect(() => jacobianFree({ inner: {} as never })).toThrow(/jacobianFree: option 'inner' must be an inner solver/);
    const noL = defineProblem<Record<string, tf.Tensor>>({ energy: fx.problem.energy, init: () => tf.zeros([fx.n]) });
    expect(() => hypergradient({ problem: noL, theta, data, loss: fx.loss, strategy: jacobianFree() })).toThrow(/option 'stepSize'/);
    strategy.dispose();
    tf.dispose([theta.theta, ...Object.values(data)]);
  });

  it("core's precedence rule: lbfgs({ tol }) is kept (softDefaults); jacobianFree({ tol }) beats it", () => {
    const data = fx.data();
    const theta = { theta: tf.tensor1d(theta0) };
    const residual = (strategy: ReturnType<typeof jacobianFree>) => {
      const r = hypergradient({ problem: fx.problem, theta, data, loss: fx.loss, strategy, onNotConverged: 'error' });
      const out = r.residuals.forward;
      r.dispose();
      strategy.dispose();
      return out;
    };
    // The exported default tol 1e-5 used to be passed per call and override lbfgs({ tol: 1e-1 }).
    const loose = residual(jacobianFree({ inner: lbfgs({ tol: 1e-1, tolMode: 'absolute' }) }));
    const strategyTol = residual(jacobianFree({ inner: lbfgs({ tol: 1e-1, tolMode: 'absolute' }), tol: 1e-5 }));
    expect(loose).toBeLessThanOrEqual(1e-1);
    expect(loose).toBeGreaterThan(1e-5);
    expect(strategyTol).toBeLessThanOrEqual(1e-5);
    tf.dispose([theta.theta, ...Object.values(data)]);
  });
});

// Non-quadratic energy: JFB's gradient is still a descent direction for smoothed TV.
describe('jacobianFree on smoothed TV [wasm]', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });
  it('is a descent direction compared with central differences of F', () => {
    const n = 24;
    const D = (x: tf.Tensor) => tf.sub(tf.slice(x, [1], [n - 1]), tf.slice(x, [0], [n - 1]));
    type Dt = { y: tf.Tensor; clean: tf.Tensor };
    const problem = defineProblem<Dt>({
      energy: (x, th, d) => tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.y)))),
        tf.mul(tf.exp(th.logAlpha), tf.sum(tf.sqrt(tf.add(tf.square(D(x)), 0.01))))),
      init: (_t, d) => d.y.clone(),
      strongConvexity: 1,
    });
    const clean = tf.tensor1d(Array.from({ length: n }, (_, i) => (i > 6 && i < 16 ? 1 : 0)));
    const y = tf.add(clean, tf.mul(0.2, tf.randomNormal([n], 0, 1, 'float32', 5)));
    const data = { y, clean };
    const loss = (x: tf.Tensor, _t: Params, d: Dt) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.clean))));
    const strategy = jacobianFree({ inner: lbfgs(), stepSize: 0.1, tol: 1e-6 });
    const F = (a: number) => {
      const r = hypergradient({ problem, theta: { logAlpha: tf.scalar(a) }, data, loss, strategy, onNotConverged: 'error' });
      const out = { value: r.value, grad: r.grad.logAlpha.dataSync()[0] };
      r.dispose();
      return out;
    };
    for (const a of [-3, -1]) {
      const fd = (F(a + 1e-2).value - F(a - 1e-2).value) / 2e-2;
      const g = F(a).grad;
      expect(g * fd).toBeGreaterThan(0);
    }
    strategy.dispose();
    tf.dispose([clean, y]);
  });
});
