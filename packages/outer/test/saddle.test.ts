import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, defineSaddle, addWork, disposeParams } from '@bilevel/core';
import type { Strategy, HypergradientRequest, HypergradientResult, Params } from '@bilevel/core';
import { adam, oracleFromStrategy, train } from '../src/index.js';

beforeAll(async () => {
  await initBackend();
});

// min_x max_z ⟨x, z⟩ + ½‖x − y‖² − ‖z‖²/(2θ): x̂ = y/(1 + θ). The stub strategy below stands
// in for piggyback (outer does not depend on it) and records what the oracle passes.
type D = { y: tf.Tensor };
const problem = defineSaddle<D>({
  apply: (x) => x.clone(),
  adjoint: (z) => z.clone(),
  proxG: (x, tau, _theta, d) => tf.div(tf.add(x, tf.mul(d.y, tau)), 1 + tau),
  proxFStar: (z, sigma, theta) => tf.div(z, tf.add(1, tf.div(sigma, theta.w))),
  init: (_theta, d) => d.y.clone(),
  operatorNorm: 1,
  name: 'scalar saddle',
});

function recordingStrategy(seen: Array<{ kind: string; x0: boolean }>): Strategy {
  return {
    name: 'stub-saddle',
    compute<T>(request: HypergradientRequest<T>): HypergradientResult {
      seen.push({ kind: (request.problem as { kind: string }).kind, x0: request.x0 != null });
      // F(w) = ½(w − 2)², a stand-in with a known minimiser.
      const w = (request.theta as Params).w.dataSync()[0];
      const grad = { w: tf.scalar(w - 2) };
      const x = tf.scalar(0);
      return {
        value: 0.5 * (w - 2) ** 2, grad, x, work: addWork({ innerIterations: 3, linearIterations: 2 }),
        status: 'converged', converged: true, residuals: { forward: 0, backward: 0 }, message: '', strategy: 'stub-saddle',
        dispose: () => { disposeParams(grad); x.dispose(); },
      };
    },
  };
}

describe('oracleFromStrategy / train with a saddle problem', () => {
  it('passes the saddle problem to the strategy, never a primal-only warm start, and trains', async () => {
    const seen: Array<{ kind: string; x0: boolean }> = [];
    const y = tf.tensor1d([1, 2]);
    const before = tf.memory().numTensors;
    const theta0 = { w: tf.scalar(0.5) };
    const result = await train({
      method: adam({ step: 0.1, size: 1, batchSize: 1, tol: 1e-4 }),
      problem, strategy: recordingStrategy(seen), data: { y }, loss: (x) => tf.sum(x), batchData: () => ({ y }),
      theta0, budget: { iterations: 60 },
    });
    expect(seen.length).toBe(60);
    expect(seen.every((s) => s.kind === 'saddle' && !s.x0)).toBe(true);
    expect(result.theta.w.dataSync()[0]).toBeCloseTo(2, 0);
    expect(result.work.innerIterations).toBe(180);
    expect(result.work.linearIterations).toBe(120);
    disposeParams(result.theta);
    theta0.w.dispose();
    expect(tf.memory().numTensors).toBe(before);
    y.dispose();
  });

  it('gives no primal-only x0 to a saddle strategy even with warmStart: true', () => {
    const seen: Array<{ kind: string; x0: boolean }> = [];
    const y = tf.tensor1d([1, 2]);
    const oracle = oracleFromStrategy({ problem, strategy: recordingStrategy(seen), data: { y }, loss: (x) => tf.sum(x), warmStart: true });
    const theta = { w: tf.scalar(1) };
    for (let k = 0; k < 2; k++) oracle(theta, { tol: 1e-3, linearTol: 1e-3 }).dispose();
    expect(seen).toEqual([{ kind: 'saddle', x0: false }, { kind: 'saddle', x0: false }]);
    theta.w.dispose();
    y.dispose();
  });
});
