import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { tf, initBackend, defineFixedPoint, disposeParams, flattenParams, neumann, hypergradient } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { equilibrium, neumannSeries } from '../src/index.js';
import type { EquilibriumBackward } from '../src/index.js';
import {
  makeQuadratic,
  quadraticTensors,
  disposeData,
  relErrNumbers,
  logCoshProblem,
  gaussians,
  randomMatrix,
  solve,
  transpose,
  matvec,
  sub,
  norm,
} from '@bilevel/testing';

/*
 * Tolerances (float32): the forward solves stop at ‖∇Φ‖ ≤ 1e-6 (or ‖T(x) − x‖ ≤ 1e-6), so x
 * is off by ≤ 1e-6/μ ≈ 2e-6 and ∇ₓℓ by about as much; each of the K ≤ 200 VJPs adds round-off
 * ~1e-7 relative to a contracting sum, so the truncated series matches its float64 closed form
 * to ~1e-5; we assert 1e-4. Central differences with h = 1e-2: truncation O(h²) ≈ 1e-4 and the
 * inner tolerance 1e-7/h ≈ 1e-5 relative, so 2e-3 as in the equilibrium tests.
 */

const flat = (p: Params): number[] => tf.tidy(() => Array.from(flattenParams(p).dataSync()));

/** Σ_{k<K} M^k v and ‖M^K v‖ in float64. */
function series(M: number[][], v: number[], K: number): { sum: number[]; tail: number } {
  let term = v.slice();
  const sum = v.slice();
  for (let k = 1; k <= K; k++) {
    term = matvec(M, term);
    if (k < K) term.forEach((t, i) => (sum[i] += t));
  }
  return { sum, tail: norm(term) };
}

/** Affine contraction T(x; θ) = Wx + Uθ + c with ‖W‖₂ ≤ ‖W‖_F = 0.9, loss ½‖x − target‖². */
function affine(n: number, p: number, seed: number) {
  const raw = randomMatrix(n, n, seed);
  const frob = Math.sqrt(raw.flat().reduce((s, a) => s + a * a, 0));
  const W = raw.map((row) => row.map((a) => (0.9 * a) / frob));
  const U = randomMatrix(n, p, seed + 1);
  const c = gaussians(n, seed + 2);
  const target = gaussians(n, seed + 3);
  const theta0 = gaussians(p, seed + 4);
  const x = solve(W.map((row, i) => row.map((a, j) => (i === j ? 1 : 0) - a)), matvec(U, theta0).map((a, i) => a + c[i]));
  const data = { W: tf.tensor2d(W), U: tf.tensor2d(U), c: tf.tensor1d(c), target: tf.tensor1d(target) };
  const mv = (A: tf.Tensor, v: tf.Tensor) => tf.squeeze(tf.matMul(A as tf.Tensor2D, tf.reshape(v, [-1, 1]) as tf.Tensor2D), [1]);
  const problem = defineFixedPoint<typeof data>({
    name: 'affine contraction',
    map: (z, th, d) => tf.add(tf.add(mv(d.W, z), mv(d.U, th.theta)), d.c),
    init: () => tf.zeros([n]),
    contraction: 0.9,
  });
  const loss = (z: tf.Tensor, _th: Params, d: typeof data) => tf.mul(0.5, tf.sum(tf.square(tf.sub(z, d.target))));
  // Truncated rule in closed form: ∇F_K = Uᵀ Σ_{k<K} (Wᵀ)^k (x̂ − target).
  const truncated = (K: number) => {
    const { sum, tail } = series(transpose(W), sub(x, target), K);
    return { grad: matvec(transpose(U), sum), tail };
  };
  return { problem, loss, data, theta: { theta: tf.tensor1d(theta0) } as Params, truncated };
}

describe('neumannSeries [wasm]', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });
  const q = makeQuadratic();
  let t: ReturnType<typeof quadraticTensors>;
  let fp: ReturnType<typeof affine>;
  beforeAll(() => {
    t = quadraticTensors(q);
    fp = affine(10, 3, 5);
  });
  afterAll(() => {
    disposeData(t.data);
    disposeParams(t.theta);
    disposeData(fp.data);
    disposeParams(fp.theta);
  });

  it('energy: matches the float64 truncated series −sA₃ᵀA₂ Σ_{k<K}(I − sH)^k ∇ₓℓ and tends to the exact hypergradient', () => {
    const before = tf.memory().numTensors;
    const s = 1 / q.L;
    const { x, grad: exact } = q.exact(q.theta0);
    const v = matvec(transpose(q.A1), sub(matvec(q.A1, x), q.b1));
    const M = q.H.map((row, i) => row.map((h, j) => (i === j ? 1 : 0) - s * h));
    const errors: number[] = [];
    const rows: string[] = [];
    for (const K of [1, 5, 20, 80, 200]) {
      const { sum, tail } = series(M, v, K);
      const closed = matvec(transpose(q.A3), matvec(q.A2, sum)).map((a) => -s * a);
      const r = hypergradient({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss, strategy: equilibrium({ backward: neumannSeries({ terms: K }), tol: 1e-6 }), onNotConverged: 'error' });
      const g = flat(r.grad);
      expect(relErrNumbers(g, closed)).toBeLessThan(1e-4);
      expect(Math.abs(r.residuals.backward! - tail) / tail).toBeLessThan(1e-3);
      // K VJPs of T for the series and its residual, one in θ, one for ∇ℓ; each VJP of T is an HVP.
      expect(r.work.vjps).toBe(K + 2);
      expect(r.work.hvps).toBe(K + 1);
      expect(r.work.linearIterations).toBe(K);
      errors.push(relErrNumbers(g, exact));
      rows.push(`K=${K}: rel err vs exact ${errors.at(-1)!.toExponential(2)}, vs truncated closed form ${relErrNumbers(g, closed).toExponential(2)}, residual ${r.residuals.backward!.toExponential(2)}`);
      r.dispose();
    }
    console.log(rows.join('\n'));
    // The error vs the exact hypergradient falls with K until it reaches float32's round-off
    // floor, where the truncation term ((1 − sμ)^K) is no longer what is measured: from K = 80
    // on it equals the error vs the float64 truncated series (2.1–2.5e-7 on wasm and on the
    // tensorflow backend, whose roundings differ), so K = 80 → 200 compares two round-off samples
    // (2.46e-7 → 2.50e-7 on tensorflow). FLOOR = 1e-6: ≥ 4× the measured round-off, ≤ 1e-4 (below).
    const FLOOR = 1e-6;
    for (let i = 1; i < errors.length; i++) {
      if (errors[i - 1] > FLOOR) expect(errors[i]).toBeLessThan(errors[i - 1]);
      else expect(errors[i]).toBeLessThan(FLOOR);
    }
    expect(errors.at(-1)).toBeLessThan(1e-4);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('fixed-point problem: matches Uᵀ Σ_{k<K}(Wᵀ)^k ∇ₓℓ in float64', () => {
    for (const K of [1, 10, 100]) {
      const closed = fp.truncated(K);
      const r = equilibrium({ backward: neumannSeries({ terms: K }), tol: 1e-6 }).compute({ problem: fp.problem, theta: fp.theta, data: fp.data, loss: fp.loss });
      expect(r.converged, r.message).toBe(true);
      expect(relErrNumbers(flat(r.grad), closed.grad)).toBeLessThan(1e-4);
      expect(r.work.hvps).toBe(0);
      r.dispose();
    }
  });

  it('finite differences of F on a log-cosh energy', () => {
    const lc = logCoshProblem(12, 17);
    // stepSize 0.4: ∂ₓT = I − 0.4∇²Φ has spectrum in [1 − 0.4·λmax, 0.6], so 60 terms leave ~0.6^60 ≈ 5e-14.
    const strategy = equilibrium({ backward: neumannSeries({ terms: 60 }), stepSize: 0.4, tol: 1e-6, maxIter: 2000 });
    const r = strategy.compute({ problem: lc.problem, theta: lc.theta, data: lc.data, loss: lc.loss });
    expect(r.converged, r.message).toBe(true);
    const direction: Params = { alpha: tf.scalar(0.6), c: tf.tensor1d(gaussians(12, 23)) };
    const h = 1e-2;
    const F = (sign: number) => {
      const th: Params = {};
      for (const k of Object.keys(lc.theta)) th[k] = tf.add(lc.theta[k], tf.mul(sign * h, direction[k]));
      const { x } = strategy.solve({ problem: lc.problem, theta: th, data: lc.data, tol: 1e-7 });
      const v = tf.tidy(() => lc.loss(x, th, lc.data).dataSync()[0]);
      x.dispose();
      disposeParams(th);
      return v;
    };
    const fd = (F(1) - F(-1)) / (2 * h);
    const analytic = tf.tidy(() => tf.sum(tf.mul(flattenParams(r.grad), flattenParams(direction))).dataSync()[0]);
    console.log(`neumannSeries(K=60) log-cosh: directional derivative ${analytic.toFixed(6)} vs FD ${fd.toFixed(6)}`);
    expect(Math.abs(analytic - fd) / Math.abs(fd)).toBeLessThan(2e-3);
    r.dispose();
    disposeParams(direction);
    disposeData(lc.data);
    disposeParams(lc.theta);
  });

  it('K terms equal core neumann({ step: 1 }) on (I − ∂ₓT)ᵀ; one term equals the undamped one-step phantom (JFB)', () => {
    const run = (backward: EquilibriumBackward, linearMaxIter?: number) => {
      const r = equilibrium({ backward, tol: 1e-6, linearMaxIter }).compute({ problem: t.problem, theta: t.theta, data: t.data, loss: t.loss });
      const out = { g: flat(r.grad), vjps: r.work.vjps };
      r.dispose();
      return out;
    };
    const a = run(neumannSeries({ terms: 15 }));
    // equilibrium passes its backward cap as the solver's per-call maxIter, which overrides `terms`.
    const b = run({ implicit: neumann({ step: 1, terms: 15 }) }, 15);
    expect(relErrNumbers(a.g, b.g)).toBeLessThan(1e-5);
    expect(a.vjps).toBe(b.vjps);
    const one = run(neumannSeries({ terms: 1 }));
    const jfb = run({ phantom: 1, damping: 1 });
    expect(relErrNumbers(one.g, jfb.g)).toBeLessThan(1e-5);
  });

  it('backs vjpSolution, rejects bad options, and leaks no tensors on success or failure', () => {
    const strategy = equilibrium({ backward: neumannSeries({ terms: 10 }), tol: 1e-4 });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) {
      for (const c of [t, fp]) {
        const r = strategy.compute({ problem: c.problem as never, theta: c.theta, data: c.data as never, loss: c.loss as never });
        const vj = strategy.vjpSolution({ problem: c.problem as never, theta: c.theta, data: c.data as never, x: r.x, cotangent: r.x });
        expect(vj.converged).toBe(true);
        expect(vj.message).toMatch(/neumannSeries: ran 10 fixed steps \(no tolerance\), truncation residual/);
        disposeParams(vj.grad);
        r.dispose();
      }
    }
    const noL = { ...t.problem, lipschitz: () => undefined };
    expect(() => strategy.compute({ problem: noL, theta: t.theta, data: t.data, loss: t.loss })).toThrow(/option 'stepSize'/);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => neumannSeries({ terms: 0 })).toThrow(/neumannSeries: option 'terms' must be a positive integer/);
    expect(() => neumannSeries({ term: 5 } as never)).toThrow(/neumannSeries: unknown option 'term'; did you mean 'terms'\?/);
  });
});
