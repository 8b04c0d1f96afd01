import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, emptyWork } from '@bilevel/core';
import { maid, train, type Oracle } from '../src/index.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

// F(θ) = ½‖θ‖² with an honest inexact oracle: h = θ + e, ‖e‖ = tol/2 ≤ bound = tol, the value exact
// (valueBound 0), and the work of a linearly convergent solver, 10·log₂(1/tol) per call. Near θ* = 0 the
// descent test ‖h‖ > bound then halves tol again and again (the CT example's 30,893-iteration step).
function quadraticOracle(): Oracle {
  return (theta, { tol }, options) => {
    const value = 0.5 * tf.tidy(() => tf.sum(tf.square(theta.theta)).dataSync()[0]);
    const grad = options?.valueOnly === true ? undefined : { theta: tf.tidy(() => tf.add(theta.theta, tf.mul(tf.tensor1d([0.6, -0.8, 0]), tol / 2))) };
    const work = { ...emptyWork(), innerIterations: Math.ceil(10 * Math.log2(1 / tol)) };
    return { value, grad, bound: tol, valueBound: 0, work, dispose: () => grad?.theta.dispose() };
  };
}

describe('MAID stops near stationarity and inside the work budget', () => {
  it("relativeGradTol stops with 'stationary' once ‖h‖ + bound ≤ r‖h₀‖, before the accuracy reductions run away", async () => {
    const before = tf.memory().numTensors;
    const runs: Record<string, { status: string; work: number; iterations: number; lastIterationWork: number; minTol: number; message: string }> = {};
    for (const r of [0, 1e-2]) {
      const oracle = quadraticOracle();
      const theta0 = { theta: tf.tensor1d([1, 2, -2]) };
      const result = await train({ method: maid({ tol0: 0.1, step0: 0.5, stepGrow: 1, relativeGradTol: r }), oracle, theta0, budget: { iterations: 40 } });
      const h = result.history;
      runs[String(r)] = {
        status: result.status, work: h[h.length - 1].work, iterations: h.length,
        lastIterationWork: h[h.length - 1].work - (h.length > 1 ? h[h.length - 2].work : 0), minTol: Math.min(...h.map((e) => e.eps)), message: result.message,
      };
      if (r > 0) {
        const last = h[h.length - 1];
        // the certificate of the stop: ‖∇F‖ ≤ ‖h‖ + bound ≤ r·‖h₀‖ (‖h₀‖ = ‖θ₀ + e‖ ≥ 3 − 0.05)
        expect(last.gradNorm + last.bound).toBeLessThanOrEqual(r * h[0].gradNorm);
        expect(h[0].gradNorm).toBeGreaterThan(2.9);
      }
      tf.dispose([theta0.theta, ...Object.values(result.theta)]);
    }
    console.table(runs);
    // Without the option MAID keeps halving ε at θ ≈ 0 (ε below 1e-3, the budget of 40 iterations spent);
    // with r = 1e-2 it stops as soon as stationarity to 1% of ‖h₀‖ is certified, at less total work.
    expect(runs['0'].status).toBe('budget-iterations');
    expect(runs['0'].minTol).toBeLessThan(1e-3);
    expect(runs['0.01'].status).toBe('stationary');
    expect(runs['0.01'].message).toMatch(/relativeGradTol·‖h₀‖ = 0\.01·/);
    expect(runs['0.01'].work).toBeLessThan(runs['0'].work);
    expect(runs['0.01'].minTol).toBeGreaterThan(1e-3);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("a step whose accuracy reductions outrun budget.work stops with 'budget-work' inside the iteration", async () => {
    // An oracle whose bound never certifies descent (each call 10 work units): one MAID step would
    // make 1 + maxAccuracyReductions = 31 calls (310 work) against a budget of 50.
    let calls = 0;
    const oracle: Oracle = (theta) => {
      calls++;
      const g = { theta: tf.onesLike(theta.theta) };
      return { value: 1, grad: g, bound: 10, valueBound: 0, work: { ...emptyWork(), innerIterations: 10 }, dispose: () => g.theta.dispose() };
    };
    const theta0 = { theta: tf.zeros([3]) };
    const before = tf.memory().numTensors;
    const result = await train({ method: maid({ tol0: 1, step0: 1 }), oracle, theta0, budget: { work: 50 } });
    expect(result.status).toBe('budget-work');
    expect(result.message).toMatch(/maid: the work budget ran out inside iteration 0 \(50 of the 50 work units left/);
    expect(calls).toBe(5);
    expect(result.history).toHaveLength(1);
    expect(result.history[0].loss).toBe(1);
    expect(result.history[0].accepted).toBe(false);
    // the event carries the last hypergradient's accuracy (tol 1/16 after 4 reductions), not the next one's
    expect(result.history[0].eps).toBe(1 / 16);
    expect(result.message).toMatch(/the last hypergradient, at tol=0\.0625, had ‖h‖ = 1\.73/);
    expect(Array.from(result.state.theta.theta.values)).toEqual([0, 0, 0]);
    tf.dispose(Object.values(result.theta));
    expect(tf.memory().numTensors).toBe(before);
    theta0.theta.dispose();
  });

  it('rejects a relativeGradTol outside [0, 1] with the option and a fix', () => {
    expect(() => maid({ relativeGradTol: 2 })).toThrow(/maid: option 'relativeGradTol' must be a number in \[0, 1\].*use e.g. 1e-2/);
    expect(() => maid({ relativeGradTol: -1 })).toThrow(/relativeGradTol/);
  });
});
