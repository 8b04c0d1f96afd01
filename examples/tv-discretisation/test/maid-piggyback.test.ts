import { it, expect, beforeAll, describe } from 'vitest';
import { tf, initBackend, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { piggyback } from '@bilevel/piggyback';
import { maid, train, MAID_DEFAULTS, oracleFromStrategy } from '@bilevel/outer';
import type { Oracle } from '@bilevel/outer';
import { learnedOperatorSaddle } from '@bilevel/testing';

beforeAll(async () => {
  await initBackend();
});

// The learned-operator saddle of @bilevel/testing: θ = K (6×5), x̂(K) = (I + λKᵀK)⁻¹b, F(K) = ½‖x̂(K) − t‖²
// exact in float64; μ_g = 1, μ_{f*} = 1/λ, Hessian-Lipschitz constants 0, c_K = 1, L₁ = 1.
const { problem, loss, exactLoss, K0, b, t, m, n } = learnedOperatorSaddle(3, 0.4);

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
