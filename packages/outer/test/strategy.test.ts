import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, defineProblem, gradientDescent, cg } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';
import { oracleFromStrategy, maid, dfo, train } from '../src/index.js';
import { makeQuadratic, type Quadratic } from './quadratic.js';
import * as D from '@bilevel/testing';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

/** The quadratic as tensors: lower ½‖A₂x + A₃θ − b₂‖² + 0.05‖x‖², upper ½‖A₁x − b₁‖². */
function tensorProblem(q: Quadratic, declareMu = true) {
  const data = { A1: tf.tensor2d(q.A1), A2: tf.tensor2d(q.A2), A3: tf.tensor2d(q.A3), b1: tf.tensor1d(q.b1[0]), b2: tf.tensor1d(q.b2[0]) };
  const mv = (a: tf.Tensor, v: tf.Tensor) => tf.reshape(tf.matMul(a, tf.reshape(v, [-1, 1])), [-1]);
  const problem = defineProblem<typeof data>({
    energy: (x, theta, d) => tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(tf.add(mv(d.A2, x), mv(d.A3, theta.theta)), d.b2)))), tf.mul(0.05, tf.sum(tf.square(x)))),
    init: () => tf.zeros([5]),
    ...(declareMu ? { strongConvexity: q.constants.mu } : {}),
  });
  const loss = (x: tf.Tensor, _theta: unknown, d: typeof data) => tf.mul(0.5, tf.sum(tf.square(tf.sub(mv(d.A1, x), d.b1))));
  return { data, problem, loss };
}

describe('oracleFromStrategy with the real implicit strategy', () => {
  it('gives a certified hypergradient and drives MAID through train()', async () => {
    const q = makeQuadratic({ rows: 20, m: 5, p: 5, samples: 1, ridge: 0.1, seed: 7 });
    const { data, problem, loss } = tensorProblem(q);
    const strategy = implicit({ inner: gradientDescent(), linear: cg() });
    const constants = { lossLipschitz: q.constants.lossLipschitz, mixedNorm: q.constants.mixedNorm };
    const oracle = oracleFromStrategy({ problem, data, loss, strategy, constants });
    const thetaValues = [0.1, -0.2, 0.3, 0, 0.5].map(Math.fround);
    const theta = { theta: tf.tensor1d(thetaValues) };
    const r = oracle(theta, { tol: 1e-3, linearTol: 1e-3 });
    const err = D.norm(D.sub(Array.from(r.grad!.theta.dataSync()), q.gradF(thetaValues)));
    console.log(`[strategy] ‖h − ∇F‖ = ${err.toExponential(2)}, bound = ${r.bound.toExponential(2)}, work = ${r.work.innerIterations}+${r.work.linearIterations}`);
    expect(Number.isFinite(r.bound)).toBe(true);
    expect(r.bound).toBeGreaterThanOrEqual(err);
    r.dispose();
    const result = await train({ method: maid({ tol0: 1e-1, step0: 1 }), problem, strategy, data, loss, constants, theta0: theta, budget: { iterations: 15 } });
    const f = q.F(result.state.theta.theta.values);
    expect(f).toBeLessThan(q.F(thetaValues));
    tf.dispose([theta.theta, result.theta.theta, ...Object.values(data)]);
  });

  it('bound constants may be a function of θ, the data and the computed x̃, evaluated at every call', () => {
    const q = makeQuadratic({ rows: 20, m: 5, p: 5, samples: 1, ridge: 0.1, seed: 8 });
    const { data, problem, loss } = tensorProblem(q);
    const fixed = { lossLipschitz: q.constants.lossLipschitz, mixedNorm: q.constants.mixedNorm };
    const seen: Array<{ theta: number[]; xShape: number[]; data: boolean }> = [];
    const dynamic = oracleFromStrategy({
      problem, data, loss, strategy: implicit({ inner: gradientDescent(), linear: cg() }),
      constants: (theta, d, x) => {
        seen.push({ theta: Array.from(theta.theta.dataSync()), xShape: x.shape, data: d === data });
        return fixed;
      },
    });
    const still = oracleFromStrategy({ problem, data, loss, strategy: implicit({ inner: gradientDescent(), linear: cg() }), constants: fixed });
    const theta = { theta: tf.tensor1d([0.1, -0.2, 0.3, 0, 0.5]) };
    const a = dynamic(theta, { tol: 1e-3, linearTol: 1e-3 });
    const b = still(theta, { tol: 1e-3, linearTol: 1e-3 });
    expect(seen).toHaveLength(1);
    expect(seen[0].xShape).toEqual([5]);
    expect(seen[0].data).toBe(true);
    expect(seen[0].theta.map((v) => Math.round(v * 10) / 10)).toEqual([0.1, -0.2, 0.3, 0, 0.5]);
    // Same constants, same solves: the same bound.
    expect(a.bound).toBeCloseTo(b.bound, 6);
    a.dispose();
    b.dispose();
    tf.dispose([theta.theta, ...Object.values(data)]);
  });

  it('disposes the tensors batchData makes for a call, and never the full data', () => {
    const q = makeQuadratic({ rows: 20, m: 5, p: 5, samples: 1, ridge: 0.1, seed: 9 });
    const { data, problem, loss } = tensorProblem(q, false);
    // A minibatch view: the shared matrices plus a fresh copy of the right-hand sides.
    const batchData = () => ({ ...data, b1: tf.clone(data.b1), b2: tf.clone(data.b2) });
    const oracle = oracleFromStrategy({ problem, data, loss, strategy: implicit({ inner: gradientDescent(), linear: cg() }), batchData });
    const theta = { theta: tf.tensor1d([0.1, -0.2, 0.3, 0, 0.5]) };
    const warm = oracle(theta, { tol: 1e-3, linearTol: 1e-3 }, { batch: [0] });
    warm.dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) oracle(theta, { tol: 1e-3, linearTol: 1e-3 }, { batch: [0] }).dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(Object.values(data).every((t) => !t.isDisposed)).toBe(true);
    tf.dispose([theta.theta, ...Object.values(data)]);
  });

  it('value-only calls run the forward solve alone (strategy.value, or solve with skipAdjoint): same value and valueBound, 0 linear iterations', async () => {
    const q = makeQuadratic({ rows: 20, m: 5, p: 5, samples: 1, ridge: 0.1, seed: 7 });
    const { data, problem, loss } = tensorProblem(q);
    const constants = { lossLipschitz: q.constants.lossLipschitz, mixedNorm: q.constants.mixedNorm };
    // No warm starts anywhere, so both calls solve from the same initial point to the same x̃.
    const strategy = implicit({ inner: gradientDescent(), linear: cg(), warmStart: false });
    const oracle = oracleFromStrategy({ problem, data, loss, strategy, constants, warmStart: false });
    const thetaValues = [0.1, -0.2, 0.3, 0, 0.5].map(Math.fround);
    const theta = { theta: tf.tensor1d(thetaValues) };
    const accuracy = { tol: 1e-3, linearTol: 1e-3 };
    const before = tf.memory().numTensors;
    // skipAdjoint: false asks for the full hypergradient (adjoint included), as before value requests
    const full = oracle(theta, accuracy, { valueOnly: true, skipAdjoint: false });
    const skip = oracle(theta, accuracy, { valueOnly: true, skipAdjoint: true });
    const plain = oracle(theta, accuracy, { valueOnly: true });
    expect(full.work.linearIterations).toBeGreaterThan(0);
    expect(full.grad).toBeDefined();
    expect(skip.work.linearIterations).toBe(0);
    // the default value-only request goes through strategy.value: no adjoint, same value and bound
    expect(plain.work.linearIterations).toBe(0);
    expect(plain.grad).toBeUndefined();
    expect(plain.value).toBe(full.value);
    expect(plain.valueBound).toBe(skip.valueBound);
    plain.dispose();
    expect(skip.grad).toBeUndefined();
    expect(skip.work.innerIterations).toBe(full.work.innerIterations);
    expect(skip.value).toBe(full.value);
    expect(skip.valueBound).toBeCloseTo(full.valueBound, 6);
    expect(Number.isFinite(skip.valueBound)).toBe(true);
    // The certificate holds against the closed-form F (float64 reference of the float32 solve).
    expect(Math.abs(skip.value - q.F(thetaValues))).toBeLessThanOrEqual(skip.valueBound);
    full.dispose();
    skip.dispose();
    expect(tf.memory().numTensors).toBe(before);

    // dfo on this oracle through train: only forward solves, and F decreases.
    const r = await train({ method: dfo({ radius0: 0.5, tol0: 1e-1 }), problem, strategy: implicit({ inner: gradientDescent(), linear: cg() }), data, loss, constants, theta0: theta, budget: { iterations: 15 } });
    expect(r.work.linearIterations).toBe(0);
    expect(r.work.innerIterations).toBeGreaterThan(0);
    expect(q.F(r.state.theta.theta.values)).toBeLessThan(0.5 * q.F(thetaValues));
    tf.dispose([theta.theta, r.theta.theta, ...Object.values(data)]);
  });
});
