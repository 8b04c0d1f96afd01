import { it, expect, beforeAll, describe } from 'vitest';
import { tf, initBackend, defineSaddle, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { piggyback } from '@bilevel/piggyback';
import { maid, train, MAID_DEFAULTS, oracleFromStrategy } from '@bilevel/outer';
import type { Oracle } from '@bilevel/outer';

beforeAll(async () => {
  await initBackend();
});

// Learned operator K (θ = K, 6×5): min_x max_y ⟨Kx, y⟩ + ½‖x − b‖² − (λ/2)... i.e. f*(y) = ‖y‖²/(2λ),
// so x̂(K) = (I + λKᵀK)⁻¹b and F(K) = ½‖x̂(K) − t‖², exact in float64. Quadratic g, f*: the
// Hessian-Lipschitz constants are 0, μ_g = 1, μ_{f*} = 1/λ, c_K = 1, L₁ = 1.
const n = 5;
const m = 6;
const lambda = 0.7;
const rand = (seed: number) => () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
const r = rand(3);
const K0 = Array.from({ length: m }, () => Array.from({ length: n }, () => 0.4 * r()));
const b = Array.from({ length: n }, () => r());
const t = Array.from({ length: n }, () => 0.5 * r());

function exactLoss(K: number[][]): number {
  const H = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (__, j) => (i === j ? 1 : 0) + lambda * K.reduce((s, row) => s + row[i] * row[j], 0)));
  const M = H.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) for (let rr = c + 1; rr < n; rr++) {
    const f = M[rr][c] / M[c][c];
    for (let k = c; k <= n; k++) M[rr][k] -= f * M[c][k];
  }
  const x = new Array(n).fill(0);
  for (let rr = n - 1; rr >= 0; rr--) {
    let s = M[rr][n];
    for (let k = rr + 1; k < n; k++) s -= M[rr][k] * x[k];
    x[rr] = s / M[rr][rr];
  }
  return 0.5 * x.reduce((s, v, i) => s + (v - t[i]) ** 2, 0);
}

type D = { b: tf.Tensor; t: tf.Tensor };
const problem = defineSaddle<D>({
  apply: (x, th) => tf.reshape(tf.matMul(th.K, tf.reshape(x, [n, 1])), [m]),
  adjoint: (z, th) => tf.reshape(tf.matMul(th.K, tf.reshape(z, [m, 1]), true), [n]),
  proxG: (x, tau, _th, d) => tf.div(tf.add(x, tf.mul(d.b, tau)), 1 + tau),
  proxFStar: (z, sigma) => tf.div(z, 1 + sigma / lambda),
  init: (_th, d) => d.b.clone(),
  strongConvexity: 1,
  dualStrongConvexity: 1 / lambda,
  hessianLipschitz: 0,
  dualHessianLipschitz: 0,
  operatorDerivativeNorm: 1,
  name: 'learned operator',
});
const loss = (x: tf.Tensor, _th: Params, d: D) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.t))));

describe('MAID on a saddle lower level (Algorithm 3 over inexact piggyback, Algorithm 2)', () => {
  it('train({ method: maid }) with piggyback({ lossLipschitz }) decreases the exact F monotonically, adapting ε and δ from the bound', async () => {
    const data = { b: tf.tensor1d(b), t: tf.tensor1d(t) };
    const theta0 = { K: tf.tensor2d(K0) };
    const before = tf.memory().numTensors;
    const exact: number[] = [exactLoss(K0)];
    const events: Array<{ eps: number; delta: number; bound: number; accepted: boolean; work: number }> = [];
    const strategy = piggyback({ lossLipschitz: 1 });
    const result = await train({
      method: maid({ tol0: 1e-1, step0: 1 }),
      problem, strategy, data, loss, theta0,
      budget: { iterations: 12 },
      onProgress: (e, th) => {
        events.push({ eps: e.eps, delta: e.delta, bound: e.bound, accepted: e.accepted, work: e.work });
        const K = Array.from({ length: m }, (_, i) => th.K.values.slice(i * n, (i + 1) * n));
        exact.push(exactLoss(K));
      },
    });
    console.log(`MAID + piggyback: exact F ${exact[0].toExponential(3)} → ${exact[exact.length - 1].toExponential(3)} in ${events.length} iterations, work ${result.work.innerIterations} + ${result.work.linearIterations}; ε ${events.map((e) => e.eps.toExponential(1)).join(' ')}`);
    expect(events.length).toBe(12);
    // Every bound is finite (MAID refuses NaN), and MAID moved ε: ν̄ = 1.05 up after a success, ν̲ = 0.5 down on a failed test.
    expect(events.every((e) => Number.isFinite(e.bound))).toBe(true);
    expect(new Set(events.map((e) => e.eps)).size).toBeGreaterThan(1);
    // Lemma 5: an accepted step decreases the exact F (1e-9: float64 evaluation of F is exact to ~1e-15).
    for (let k = 0; k < events.length; k++) if (events[k].accepted) expect(exact[k + 1]).toBeLessThanOrEqual(exact[k] + 1e-9);
    expect(exact[exact.length - 1]).toBeLessThan(0.5 * exact[0]);
    expect(MAID_DEFAULTS.accuracyShrink).toBe(0.5);
    expect(MAID_DEFAULTS.accuracyGrow).toBe(1.05);
    disposeParams(result.theta);
    strategy.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([theta0.K, data.b, data.t]);
  });

  it("MAID's line-search trials are value-only requests: no adjoint solve at trial points, the same accept/reject pattern and θ as with full trials", async () => {
    const data = { b: tf.tensor1d(b), t: tf.tensor1d(t) };
    const before = tf.memory().numTensors;
    type Call = { valueOnly: boolean; linear: number; inner: number; grad: boolean };
    // `full`: every trial asks for the whole hypergradient (skipAdjoint: false), as MAID did before value requests
    const run = async (full: boolean) => {
      const calls: Call[] = [];
      const strategy = piggyback({ lossLipschitz: 1, certificate: 'estimated' });
      const base = oracleFromStrategy({ problem, strategy, data, loss });
      const oracle: Oracle = Object.assign((theta: Params, accuracy: { tol: number; linearTol: number }, call: { valueOnly?: boolean } = {}) => {
        const r = base(theta, accuracy, full && call.valueOnly ? { ...call, skipAdjoint: false } : call);
        calls.push({ valueOnly: call.valueOnly === true, linear: r.work.linearIterations, inner: r.work.innerIterations, grad: r.grad != null });
        return r;
      }, { saveState: base.saveState, loadState: base.loadState });
      const theta0 = { K: tf.tensor2d(K0) };
      const accepted: boolean[] = [];
      const result = await train({ method: maid({ tol0: 1e-1, step0: 1 }), oracle, theta0, budget: { iterations: 8 }, onProgress: (e) => accepted.push(e.accepted) });
      const K = Array.from(result.theta.K.dataSync());
      disposeParams(result.theta);
      theta0.K.dispose();
      strategy.dispose();
      return { calls, accepted, K, work: result.work };
    };
    const fresh = await run(false);
    const old = await run(true);
    const trials = fresh.calls.filter((c) => c.valueOnly);
    const trialLinear = (r: typeof fresh) => r.calls.filter((c) => c.valueOnly).reduce((s, c) => s + c.linear, 0);
    console.log(`MAID trials value-only vs full: ${trials.length} trials; adjoint iterations ${fresh.work.linearIterations} vs ${old.work.linearIterations} (in trials ${trialLinear(fresh)} vs ${trialLinear(old)}); PDHG ${fresh.work.innerIterations} vs ${old.work.innerIterations}`);
    expect(trials.length).toBeGreaterThan(0);
    // adjoint iterations only where a hypergradient is asked (the accepted points and the descent tests)
    for (const c of trials) {
      expect(c.linear).toBe(0);
      expect(c.grad).toBe(false);
    }
    expect(trialLinear(old)).toBeGreaterThan(0);
    expect(fresh.work.linearIterations).toBeLessThan(old.work.linearIterations);
    // the same trajectory: same accepted steps, and θ equal up to the adjoint tolerances (the adjoint
    // starts from another warm start at each θ_k; MAID's δ ends near 1e-1·1.05⁸, and ‖ΔK‖ ≪ that)
    expect(fresh.accepted).toEqual(old.accepted);
    const diff = Math.sqrt(fresh.K.reduce((s, v, i) => s + (v - old.K[i]) ** 2, 0));
    const size = Math.sqrt(old.K.reduce((s, v) => s + v * v, 0));
    expect(diff).toBeLessThan(1e-2 * size);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([data.b, data.t]);
  });
});
