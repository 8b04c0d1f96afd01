/**
 * Bad input at train's and the oracle's door (core's one input check), nothing leaked on
 * failure, and a strategy shared by two concurrent runs refused. Each case asserts that the
 * error names the argument (theta0, data, the loss, the strategy) and that
 * tf.memory().numTensors is where it was.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { tf, initBackend, defineProblem, lbfgs, cg } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';
import { train, hoag, sgd, oracleFromStrategy } from '../src/index.js';

type D = { y: tf.Tensor; t: tf.Tensor };
// Φ(x; s) = ½‖x − y‖² + ½e^s‖x‖² on a batch [n, 4]: μ = 1 + e^s.
const problem = defineProblem<D>({
  energy: (x, th, d) => tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.y)))), tf.mul(tf.mul(0.5, tf.exp(th.s)), tf.sum(tf.square(x)))),
  init: (_th, d) => tf.zerosLike(d.y),
  strongConvexity: 1,
  name: 'batch quad',
});
const loss = (x: tf.Tensor, _th: Params, d: D) => tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.t))));

let F: Record<string, tf.Tensor>;
let data: D;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  F = {
    y: tf.tensor2d([[1, 2, 3, 4], [0, 1, 0, 1]]), t: tf.tensor2d([[0.5, 1, 1.5, 2], [0, 0.5, 0, 0.5]]),
    s: tf.scalar(0), sInt: tf.scalar(0, 'int32'), sNaN: tf.scalar(NaN), yNaN: tf.tensor2d([[1, NaN, 3, 4], [0, 1, 0, 1]]),
  };
  data = { y: F.y, t: F.t };
});
afterAll(() => tf.dispose(Object.values(F)));

const base = () => ({ method: hoag({ schedule: 1e-4, step: 0.1 }), problem, data, loss, theta0: { s: F.s }, budget: { iterations: 2 } });

describe('bad input at train and the oracle [wasm]', () => {
  const cases: Array<[string, (strategy: ReturnType<typeof implicit>) => Promise<unknown>, RegExp]> = [
    ["train: theta0 of dtype int32", (strategy) => train({ ...base(), strategy, theta0: { s: F.sInt } } as never), /train: 'theta0\.s' has dtype int32, expected float32/],
    ['train: theta0 an array', (strategy) => train({ ...base(), strategy, theta0: [F.s] } as never), /train: 'theta0' must be a plain object of float32 tensors .* got an array/],
    ['train: theta0 with NaN', (strategy) => train({ ...base(), strategy, theta0: { s: F.sNaN } } as never), /train: 'theta0\.s' contains NaN or Inf/],
    ['train: theta0 missing', (strategy) => train({ ...base(), strategy, theta0: undefined } as never), /train: 'theta0' must be a plain object .* got undefined/],
    ['train: NaN in data', (strategy) => train({ ...base(), strategy, data: { y: F.yNaN, t: F.t } } as never), /train: 'data\.y' contains NaN or Inf/],
    ['train: a throwing loss', (strategy) => train({ ...base(), strategy, loss: () => { throw new Error('boom'); } } as never), /oracleFromStrategy: the loss threw: boom \(θ had keys s/],
    ['train: an empty batch from batchData', (strategy) => train({
      ...base(), strategy, method: sgd({ step: 0.1, size: 2, batchSize: 1, tol: 1e-4 }),
      batchData: () => ({ y: tf.zeros([0, 4]), t: tf.zeros([0, 4]) }),
    } as never), /oracleFromStrategy: 'data\.y' is empty \(shape \[0,4\]\): an empty batch/],
    ['oracle: declared μ above the curvature', async (strategy) => {
      const oracle = oracleFromStrategy({ problem, data, loss, strategy, constants: { mu: 100, lossLipschitz: 1, hessianLipschitz: 0, mixedLipschitz: 0, mixedNorm: 2 } });
      return oracle({ s: F.s }, { tol: 1e-5, linearTol: 1e-5 });
    }, /oracleFromStrategy: the declared strongConvexity μ = 1\.00e\+2 of problem 'batch quad' is above the curvature/],
  ];
  for (const [name, call, error] of cases) {
    it(`${name}: the error names the argument and no tensor leaks`, async () => {
      const strategy = implicit({ inner: lbfgs(), linear: cg() });
      const before = tf.memory().numTensors;
      await expect(call(strategy)).rejects.toThrow(error);
      strategy.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('a strategy shared by two concurrent runs: the second is refused, the first finishes', async () => {
    const strategy = implicit({ inner: lbfgs(), linear: cg() });
    const before = tf.memory().numTensors;
    const first = train({ ...base(), strategy, budget: { iterations: 3 } } as never);
    // The first run is suspended at its first event-loop turn: it holds the strategy.
    await expect(train({ ...base(), strategy } as never)).rejects.toThrow(
      /train: strategy 'implicit\(lbfgs, cg\)' is already used by another train\(\) run that has not finished .* Give each concurrent run its own strategy object/,
    );
    const r = (await first) as { theta: Params; history: unknown[] };
    expect(r.history).toHaveLength(3);
    r.theta.s.dispose();
    // Released at the end: the same object may serve a later run.
    const again = (await train({ ...base(), strategy } as never)) as { theta: Params };
    again.theta.s.dispose();
    // Two objects from the same factory run side by side.
    const other = implicit({ inner: lbfgs(), linear: cg() });
    const [a, b] = (await Promise.all([train({ ...base(), strategy } as never), train({ ...base(), strategy: other } as never)])) as Array<{ theta: Params }>;
    a.theta.s.dispose();
    b.theta.s.dispose();
    strategy.dispose();
    other.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
