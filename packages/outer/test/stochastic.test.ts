import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend } from '@bilevel/core';
import { sgd, adam, train, quadratic as quadraticSchedule, mulberry32, permutation, type Method, type MethodStateBase, type Oracle } from '../src/index.js';
import { makeQuadratic, quadraticOracle } from './quadratic.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

// 16 training pairs sharing the lower-level operator; minibatches of 4.
const spec = { rows: 20, m: 5, p: 5, samples: 16, ridge: 0.1, seed: 11 };

async function run<S extends MethodStateBase>(method: Method<S>, iterations: number) {
  const q = makeQuadratic(spec);
  const oracle = quadraticOracle(q);
  const theta0 = { theta: tf.zeros([spec.p]) };
  const r = await train({ method, oracle, theta0, budget: { iterations } });
  const thetaValues = r.state.theta.theta.values;
  tf.dispose([theta0.theta, r.theta.theta]);
  oracle.dispose();
  return { q, r, F0: q.F(new Array(spec.p).fill(0)), F: q.F(thetaValues), thetaValues };
}

describe('inexact minibatch SGD and Adam', () => {
  it('mulberry32 is deterministic and its permutations are permutations', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    for (let i = 0; i < 5; i++) expect(a.next()).toBe(b.next());
    expect(mulberry32(a.state).next()).toBe(b.next());
    const p = permutation(10, mulberry32(3));
    expect([...p].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  for (const [name, make] of [
    ['sgd', (seed: number) => sgd({ step: 0.5, size: 16, batchSize: 4, tol: 1e-3, seed })],
    ['adam', (seed: number) => adam({ step: 0.05, size: 16, batchSize: 4, tol: quadraticSchedule(1e-2), seed })],
  ] as const) {
    it(`${name} decreases the full training loss, with a seed-reproducible trajectory`, async () => {
      const first = await run(make(5) as Method<MethodStateBase>, 60);
      const again = await run(make(5) as Method<MethodStateBase>, 60);
      const other = await run(make(6) as Method<MethodStateBase>, 60);
      console.log(`[${name}] F0 = ${first.F0.toFixed(4)}  F(θ_60) = ${first.F.toFixed(4)}  F* = ${first.q.fStar.toFixed(4)}  work = ${first.r.history[59].work}`);
      // F* > 0 (per-pair noise), so measure the optimality gap.
      expect(first.F - first.q.fStar).toBeLessThan(0.5 * (first.F0 - first.q.fStar));
      expect(again.thetaValues).toEqual(first.thetaValues);
      expect(again.r.history.map((e) => e.loss)).toEqual(first.r.history.map((e) => e.loss));
      expect(other.thetaValues).not.toEqual(first.thetaValues);
      // every epoch visits each training pair exactly once
      expect((first.r.state as unknown as { epoch: number }).epoch).toBe(15);
    });
  }

  it('stepScale gives each parameter group its own step (SGD exactly, Adam in its first step), without leaks', () => {
    // F(θ) = ½‖a‖² + ½‖b‖²: the gradient is θ itself
    const oracle: Oracle = (theta) => {
      const grad = { a: theta.a.clone(), b: theta.b.clone() };
      const v = tf.tidy(() => tf.mul(0.5, tf.add(tf.sum(tf.square(theta.a)), tf.sum(tf.square(theta.b)))));
      const value = v.dataSync()[0];
      v.dispose();
      return { value, grad, bound: 0, valueBound: 0, work: { innerIterations: 0, linearIterations: 0 } as never, dispose: () => tf.dispose([grad.a, grad.b]) };
    };
    const theta0 = () => ({ a: tf.tensor1d([1, -2]), b: tf.tensor1d([3, 4]) });
    const stepOnce = (method: Method<MethodStateBase>) => {
      const th = theta0();
      const state = method.init(th);
      tf.dispose([th.a, th.b]);
      const before = tf.memory().numTensors;
      const { state: next } = method.step(state, oracle);
      expect(tf.memory().numTensors).toBe(before);
      return next.theta;
    };
    const s = stepOnce(sgd({ step: 0.5, size: 1, batchSize: 1, tol: 1e-3, stepScale: { a: 0.1 } }) as unknown as Method<MethodStateBase>);
    // a ← a − 0.5·0.1·a, b ← b − 0.5·b
    s.a.values.forEach((v, i) => expect(v).toBeCloseTo([1, -2][i] * 0.95, 6));
    s.b.values.forEach((v, i) => expect(v).toBeCloseTo([3, 4][i] * 0.5, 6));
    const m = stepOnce(adam({ step: 0.1, size: 1, batchSize: 1, tol: 1e-3, stepScale: { b: 0.01 } }) as unknown as Method<MethodStateBase>);
    // Adam's first step is α·sign(g) per coordinate (m̂/√v̂ = g/|g|), times the group's scale
    m.a.values.forEach((v, i) => expect(v).toBeCloseTo([1, -2][i] - 0.1 * Math.sign([1, -2][i]), 5));
    m.b.values.forEach((v, i) => expect(v).toBeCloseTo([3, 4][i] - 0.001, 5));
    expect(() => stepOnce(sgd({ step: 0.5, size: 1, batchSize: 1, tol: 1e-3, stepScale: { c: 0.1 } }) as unknown as Method<MethodStateBase>)).toThrow(/sgd: stepScale names 'c', which is not a parameter/);
    expect(() => adam({ step: 0.1, size: 1, batchSize: 1, tol: 1e-3, stepScale: { a: 0 } })).toThrow(/adam: stepScale.a must be a positive number/);
  });

  it('rejects bad options', () => {
    expect(() => sgd({ step: 0.1, size: 4, batchSize: 8, tol: 1e-3 })).toThrow(/sgd: option 'batchSize' \(8\) exceeds 'size' \(4\)/);
    expect(() => sgd({ step: 0.1, size: 4, batchSize: 2, tol: 1e-3, seed: -1 })).toThrow(/sgd: option 'seed'/);
    expect(() => adam({ step: 0.1, size: 4, batchSize: 2, tol: 1e-3, beta1: 1 })).toThrow(/adam: option 'beta1'/);
    expect(() => adam({ step: 0.1, size: 4, batchSize: 2 } as never)).toThrow(/adam: option 'tol' is required/);
  });
});
