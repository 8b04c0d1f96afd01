import { describe, it, expect, beforeAll, vi } from 'vitest';
import {
  tf, initBackend, hypergradient, lbfgs, cg, gmres, richardson, neumann, defineProblem, defineFixedPoint,
  resetConvergenceWarnings, normParams,
} from '@bilevel/core';
import type { LinearSolver, Params } from '@bilevel/core';
import { describeEachBackend } from '@bilevel/testing/vitest';
import { implicit, implicitErrorBound } from '../src/index.js';
import { quadraticFixture, matmul, transpose, norm, sub } from '@bilevel/testing';

const fx = quadraticFixture();
const theta0 = [0.3, -0.2, 0.5, 0.1];
const frob = (m: number[][]) => Math.sqrt(m.flat().reduce((s, v) => s + v * v, 0));

function gradOf(r: { grad: Params }): number[] {
  return Array.from(r.grad.theta.dataSync());
}

describeEachBackend('implicit on the closed-form bilevel quadratic', () => {
  const exact = fx.exact(theta0);
  const solvers: Array<[string, (level: number) => { linear: LinearSolver; linearMaxIter?: number }]> = [
    ['cg', () => ({ linear: cg() })],
    ['gmres', () => ({ linear: gmres() })],
    ['richardson', () => ({ linear: richardson({ step: 1 / fx.L }) })],
    // The Neumann series has a fixed number of terms; (1 − μ/L)^K ≤ δ needs a few hundred terms at δ = 1e-5 with s = 1/‖H‖_F.
    ['neumann', (level) => ({ linear: neumann({ step: 1 / fx.L, terms: [80, 200, 400][level] }) })],
  ];
  for (const [name, make] of solvers) {
    it(`${name}: relative error decreases with the tolerances and is < 1e-3 at tol 1e-5 (float32)`, () => {
      const before = tf.memory().numTensors;
      const data = fx.data();
      const theta = { theta: tf.tensor1d(theta0) };
      // Absolute tolerances on ‖∇ₓΦ‖ and ‖Hq − ∇ₓℓ‖ (both O(1) here). 1e-5 is about 100×
      // float32 round-off of these sums, the tightest level that is met reliably.
      const levels = [1e-1, 1e-3, 1e-5];
      const errors: number[] = [];
      const constants = {
        lossLipschitz: frob(matmul(transpose(fx.A1), fx.A1)),
        lossThetaLipschitz: 0,
        hessianLipschitz: 0,
        mixedLipschitz: 0,
        mixedNorm: frob(matmul(transpose(fx.A2), fx.A3)),
      };
      levels.forEach((tol, level) => {
        const { linear } = make(level);
        const strategy = implicit({ inner: lbfgs(), linear, tol, linearTol: tol, warmStart: false, constants });
        const r = hypergradient({ problem: fx.problem, theta, data, loss: fx.loss, strategy, onNotConverged: 'error' });
        const g = gradOf(r);
        const err = norm(sub(g, exact.grad)) / norm(exact.grad);
        errors.push(err);
        expect(r.converged).toBe(true);
        expect(r.status).toBe('converged');
        // The a-posteriori bound holds (exact arithmetic bound; float32 error is far below it here).
        expect(r.bound).toBeDefined();
        expect(norm(sub(g, exact.grad))).toBeLessThanOrEqual(r.bound!);
        expect(Math.abs(r.value - exact.value)).toBeLessThanOrEqual(r.valueBound! + 1e-6);
        r.dispose();
        strategy.dispose();
      });
      expect(errors[1]).toBeLessThan(errors[0]);
      expect(errors[2]).toBeLessThan(errors[1]);
      expect(errors[2]).toBeLessThan(1e-3);
      tf.dispose([theta.theta, ...Object.values(data)]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('reports which bound constant is missing', () => {
    const data = fx.data();
    const theta = { theta: tf.tensor1d(theta0) };
    const strategy = implicit({ inner: lbfgs(), linear: cg(), constants: { lossLipschitz: 1 } });
    const r = hypergradient({ problem: fx.problem, theta, data, loss: fx.loss, strategy });
    expect(r.bound).toBeUndefined();
    expect(r.valueBound).toBeDefined();
    expect(r.message).toMatch(/hessianLipschitz, mixedLipschitz, mixedNorm/);
    r.dispose();
    strategy.dispose();
    tf.dispose([theta.theta, ...Object.values(data)]);
  });
});

describe('implicit: warm starts, gate, validation [wasm]', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('a second call at the same θ reuses x̂ and q: far fewer inner and linear iterations', () => {
    const before = tf.memory().numTensors;
    const data = fx.data();
    const theta = { theta: tf.tensor1d(theta0) };
    const strategy = implicit({ inner: lbfgs(), linear: cg(), tol: 1e-5, linearTol: 1e-5 });
    const first = hypergradient({ problem: fx.problem, theta, data, loss: fx.loss, strategy });
    const second = hypergradient({ problem: fx.problem, theta, data, loss: fx.loss, strategy });
    const w1 = first.work;
    const w2 = second.work;
    console.log(`warm start: inner ${w1.innerIterations} → ${w2.innerIterations}, linear ${w1.linearIterations} → ${w2.linearIterations}`);
    expect(w1.innerIterations).toBeGreaterThan(5);
    expect(w1.linearIterations).toBeGreaterThan(5);
    expect(w2.innerIterations).toBeLessThanOrEqual(w1.innerIterations / 5);
    expect(w2.linearIterations).toBeLessThanOrEqual(w1.linearIterations / 5);
    const diff = tf.sub(first.grad.theta, second.grad.theta);
    expect(normParams({ d: diff })).toBeLessThan(1e-3 * normParams(first.grad));
    diff.dispose();
    expect(strategy.warm).toEqual({ x: true, adjoint: true, cotangentAdjoint: false });
    first.dispose();
    second.dispose();
    strategy.dispose();
    expect(strategy.warm.x).toBe(false);
    tf.dispose([theta.theta, ...Object.values(data)]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gate: maxIter = 2 gives forward-not-converged; warn once per call site; error names the residual; fallback recomputes', () => {
    const before = tf.memory().numTensors;
    const data = fx.data();
    const theta = { theta: tf.tensor1d(theta0) };
    const capped = implicit({ inner: lbfgs(), linear: cg(), tol: 1e-6, maxIter: 2, warmStart: false });
    resetConvergenceWarnings();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    for (let i = 0; i < 2; i++) {
      const r = hypergradient({ problem: fx.problem, theta, data, loss: fx.loss, strategy: capped });
      expect(r.converged).toBe(false);
      expect(r.status).toBe('forward-not-converged');
      expect(r.residuals.forward).toBeGreaterThan(1e-6);
      expect(r.message).toMatch(/forward residual/);
      r.dispose();
    }
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/forward residual ‖∇ₓΦ‖.*= \d\.\d+e[-+]\d+ vs tolerance 1\.00e-6.*Fix: increase 'maxIter'/);
    warn.mockRestore();

    expect(() => hypergradient({ problem: fx.problem, theta, data, loss: fx.loss, strategy: capped, onNotConverged: 'error' }))
      .toThrow(/forward residual ‖∇ₓΦ‖ \(or ‖T\(x\) − x‖\) = \d\.\d+e[-+]\d+ vs tolerance 1\.00e-6.*Fix: increase 'maxIter'/);

    const good = implicit({ inner: lbfgs(), linear: cg(), tol: 1e-5, linearTol: 1e-5 });
    const fb = hypergradient({ problem: fx.problem, theta, data, loss: fx.loss, strategy: capped, onNotConverged: { fallback: good } });
    expect(fb.converged).toBe(true);
    expect(fb.strategy).toMatch(/fallback from implicit/);
    const exact = fx.exact(theta0).grad;
    expect(norm(sub(gradOf(fb), exact)) / norm(exact)).toBeLessThan(1e-3);
    fb.dispose();

    const shortAdjoint = implicit({ inner: lbfgs(), linear: cg(), linearTol: 1e-8, linearMaxIter: 1, warmStart: false });
    const rb = hypergradient({ problem: fx.problem, theta, data, loss: fx.loss, strategy: shortAdjoint, onNotConverged: 'warn' });
    expect(rb.status).toBe('backward-not-converged');
    expect(rb.residuals.backward).toBeGreaterThan(1e-8);
    rb.dispose();
    for (const s of [capped, good, shortAdjoint]) s.dispose();
    tf.dispose([theta.theta, ...Object.values(data)]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('validates its inputs and rejects fixed-point problems with a pointer to @bilevel/equilibrium', () => {
    const data = fx.data();
    const theta = { theta: tf.tensor1d(theta0) };
    const strategy = implicit({ inner: lbfgs(), linear: cg() });
    expect(() => implicit({ inner: lbfgs() } as never)).toThrow(/implicit: option 'linear'/);
    expect(() => implicit({ inner: lbfgs(), linear: cg(), tol: -1 })).toThrow(/implicit: option 'tol'/);
    expect(() => hypergradient({ problem: fx.problem, theta: theta.theta as never, data, loss: fx.loss, strategy })).toThrow(/hypergradient: 'theta' must be a plain object of float32 tensors .* got a float32 tensor/);
    const bad = { theta: tf.tensor1d([NaN, 0, 0, 0]) };
    expect(() => hypergradient({ problem: fx.problem, theta: bad, data, loss: fx.loss, strategy })).toThrow(/theta\.theta.*NaN/);
    expect(() => hypergradient({ problem: fx.problem, theta, data, loss: 3 as never, strategy })).toThrow(/option 'loss'/);
    expect(() => hypergradient({ problem: fx.problem, theta, data, loss: fx.loss, strategy: {} as never })).toThrow(/option 'strategy'/);
    const fp = defineFixedPoint({ map: (x) => tf.mul(x, 0.5), init: () => tf.zeros([fx.n]) });
    expect(() => hypergradient({ problem: fp as never, theta, data, loss: fx.loss, strategy })).toThrow(/@bilevel\/equilibrium/);
    tf.dispose([theta.theta, bad.theta, ...Object.values(data)]);
    strategy.dispose();
  });

  it('implicitErrorBound is zero for exact solves and grows with ε and δ', () => {
    const c = { lossLipschitz: 2, hessianLipschitz: 1, mixedLipschitz: 1, mixedNorm: 3 };
    const base = { mu: 0.5, adjointNorm: 1, lossGradNorm: 1, constants: c };
    expect(implicitErrorBound({ ...base, epsilon: 0, delta: 0 }).bound).toBe(0);
    const b1 = implicitErrorBound({ ...base, epsilon: 1e-3, delta: 1e-3 }).bound!;
    const b2 = implicitErrorBound({ ...base, epsilon: 1e-2, delta: 1e-3 }).bound!;
    const b3 = implicitErrorBound({ ...base, epsilon: 1e-3, delta: 1e-2 }).bound!;
    expect(b2).toBeGreaterThan(b1);
    expect(b3).toBeGreaterThan(b1);
    expect(implicitErrorBound({ ...base, epsilon: 1e-3, delta: 0, constants: {} }).missing).toEqual(['lossLipschitz', 'hessianLipschitz', 'mixedLipschitz', 'mixedNorm']);
  });
});

describe('implicit vs finite differences on a smoothed-TV energy (non-quadratic) [wasm]', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('matches central differences of F(θ) computed with tightly solved inner problems', () => {
    const n = 32;
    const D = (x: tf.Tensor) => tf.sub(tf.slice(x, [1], [n - 1]), tf.slice(x, [0], [n - 1]));
    type Dt = { y: tf.Tensor; clean: tf.Tensor };
    const problem = defineProblem<Dt>({
      energy: (x, th, d) =>
        tf.add(
          tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.y)))),
          tf.mul(tf.exp(th.logAlpha), tf.sum(tf.sqrt(tf.add(tf.square(D(x)), tf.exp(tf.mul(2, th.logNu)))))),
        ),
      init: (_t, d) => d.y.clone(),
      strongConvexity: 1,
    });
    const clean = tf.tensor1d(Array.from({ length: n }, (_, i) => (i > 8 && i < 20 ? 1 : 0) + 0.3 * Math.sin(i / 3)));
    const y = tf.add(clean, tf.mul(0.1, tf.randomNormal([n], 0, 1, 'float32', 3)));
    const data = { y, clean };
    const loss = (x: tf.Tensor, _t: Params, d: Dt) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.clean))));
    const theta = { logAlpha: tf.scalar(-1), logNu: tf.scalar(-1) };
    const strategy = implicit({ inner: lbfgs(), linear: cg(), tol: 1e-6, linearTol: 1e-6 });
    const r = hypergradient({ problem, theta, data, loss, strategy, maxIter: 5000, onNotConverged: 'error' });
    // F(θ) by a tight inner solve (ε = ‖∇ₓΦ‖ ≤ 1e-6, μ = 1) and a float64 sum of the loss.
    // The FD quotient's error is ≈ (ε‖∇ₓℓ‖ + u_f32·F)/h + O(h²) with u_f32 ≈ 6e-8: at h = 1e-2
    // and F ≈ 0.3, ≈ 1e-5 absolute, so θ is chosen where |∂F| ≳ 1e-2 and the check is 2e-3 relative.
    const inner = lbfgs();
    const F = (th: Params) => {
      const s = inner.solve(problem, th, data, { tol: 1e-6, tolMode: 'absolute', maxIter: 5000 });
      expect(s.converged).toBe(true);
      const xs = s.x.dataSync();
      const cs = data.clean.dataSync();
      let out = 0;
      for (let i = 0; i < n; i++) out += 0.5 * (xs[i] - cs[i]) ** 2;
      s.x.dispose();
      return out;
    };
    const h = 1e-2;
    for (const k of ['logAlpha', 'logNu']) {
      const plus = { ...theta, [k]: tf.add(theta[k as 'logAlpha'], h) };
      const minus = { ...theta, [k]: tf.sub(theta[k as 'logAlpha'], h) };
      const fd = (F(plus) - F(minus)) / (2 * h);
      const g = r.grad[k].dataSync()[0];
      console.log(`FD check ${k}: implicit ${g.toExponential(5)}, FD ${fd.toExponential(5)}, rel ${(Math.abs(g - fd) / Math.abs(fd)).toExponential(2)}`);
      expect(Math.abs(g - fd)).toBeLessThan(2e-3 * Math.abs(fd));
      tf.dispose([plus[k as 'logAlpha'], minus[k as 'logAlpha']]);
    }
    r.dispose();
    strategy.dispose();
    tf.dispose([clean, y, theta.logAlpha, theta.logNu]);
  });
});
