import { describe, it, expect, beforeAll, vi } from 'vitest';
import { tf, initBackend, defineProblem, gradientDescent, cg } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';
import { train, hoag, sgd, adam } from '../src/index.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

/*
 * An ill-conditioned batch Tikhonov problem, Φ(x; θ) = ½Σ w_j (x_j − y_j)² + ½e^θ‖x‖² with
 * w from 0.01 to 1: at θ = −2 gradient descent contracts by ≈ 0.87 per step, so an inner cap
 * of 2 iterations cannot reach tol 1e-6 within a 5-iteration run, even with warm starts.
 */
const N = 4;
const n = 8;
const weights = Array.from({ length: n }, (_, j) => 0.01 + (0.99 * j) / (n - 1));
type Batch = { y: tf.Tensor; clean: tf.Tensor };
const problem = defineProblem<Batch>({
  energy: (x, th, d) => tf.add(tf.mul(0.5, tf.sum(tf.mul(tf.tensor1d(weights), tf.square(tf.sub(x, d.y))))), tf.mul(0.5, tf.mul(tf.exp(th.logAlpha), tf.sum(tf.square(x))))),
  init: (_th, d) => tf.zerosLike(d.y),
});
const loss = (x: tf.Tensor, _th: Params, d: Batch) => tf.div(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.clean)))), d.y.shape[0]);

function dataset() {
  const clean = tf.tidy(() => tf.sin(tf.reshape(tf.range(0, N * n), [N, n])));
  const y = tf.tidy(() => tf.add(clean, tf.mul(0.3, tf.randomNormal([N, n], 0, 1, 'float32', 5))));
  const data: Batch = { y, clean };
  const batchData = (batch: number[]): Batch => {
    const idx = tf.tensor1d(batch, 'int32');
    const out = { y: tf.gather(y, idx), clean: tf.gather(clean, idx) };
    idx.dispose();
    return out;
  };
  return { data, batchData };
}

const methods = {
  hoag: () => hoag({ schedule: 1e-6, step: 0.1 }),
  sgd: () => sgd({ step: 0.1, size: N, batchSize: 2, tol: 1e-6 }),
  adam: () => adam({ step: 0.05, size: N, batchSize: 2, tol: 1e-6 }),
};

describe('train: one convergence policy for unconverged hypergradients', () => {
  for (const [name, make] of Object.entries(methods)) {
    it(`${name}: every iteration's status is in the history; 'warn' prints the first occurrence and one counted summary`, async () => {
      const { data, batchData } = dataset();
      const strategy = implicit({ inner: gradientDescent(), linear: cg(), maxIter: 2 });
      const theta0 = { logAlpha: tf.scalar(-2) };
      const before = tf.memory().numTensors;
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
      const events: string[] = [];
      const r = await train({
        method: make() as never, problem, strategy, data, loss, batchData, theta0, budget: { iterations: 5 },
        onProgress: (e) => events.push(String(e.status)),
      });
      const messages = warn.mock.calls.map((c) => String(c[0]));
      warn.mockRestore();
      expect(r.history).toHaveLength(5);
      for (const e of r.history) {
        expect(e.converged).toBe(false);
        expect(e.status).toBe('forward-not-converged');
        expect(e.unconverged).toBeGreaterThanOrEqual(1);
      }
      expect(events).toEqual(r.history.map((e) => e.status));
      const total = r.history.reduce((a, e) => a + (e.unconverged ?? 0), 0);
      const counted = messages.filter((m) => /hypergradients did not converge/.test(m));
      expect(counted).toHaveLength(1);
      expect(counted[0]).toContain(`train: ${total} of ${total} hypergradients did not converge`);
      // The first occurrence, with the residual and the fix, and nothing else.
      expect(messages).toHaveLength(2);
      expect(messages[0]).toMatch(/forward residual.*Fix: increase 'maxIter'/);
      r.theta.logAlpha.dispose();
      strategy.dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([data.y, data.clean, theta0.logAlpha]);
    });
  }

  it("'error' throws at the first unconverged hypergradient; 'tighten' retries with larger caps and converges", async () => {
    const { data, batchData } = dataset();
    const before = tf.memory().numTensors;
    const capped = implicit({ inner: gradientDescent(), linear: cg(), maxIter: 2 });
    const theta0 = { logAlpha: tf.scalar(-2) };
    for (const make of Object.values(methods)) {
      await expect(train({ method: make() as never, problem, strategy: capped, data, loss, batchData, theta0, budget: { iterations: 3 }, onNotConverged: 'error' }))
        .rejects.toThrow(/oracleFromStrategy: the forward \(lower-level\) solve .* did not converge.*Fix: increase 'maxIter'/);
    }
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    for (const make of Object.values(methods)) {
      const r = await train({ method: make() as never, problem, strategy: capped, data, loss, batchData, theta0, budget: { iterations: 3 }, onNotConverged: 'tighten' });
      expect(r.history.map((e) => e.status)).toEqual(['converged', 'converged', 'converged']);
      expect(r.history.every((e) => e.converged)).toBe(true);
      r.theta.logAlpha.dispose();
    }
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
    capped.dispose();
    theta0.logAlpha.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([data.y, data.clean]);
  });
});
