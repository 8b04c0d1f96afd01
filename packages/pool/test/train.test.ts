import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { tf, initBackend, inlinePool, disposeParams, type SamplePool } from '@bilevel/core';
import { train, sgd, hoag, geometric, memoryStore } from '@bilevel/outer';
import { workerPool } from '../src/index.js';
import { testPoolTask as makeTask, TEST_POOL_TASK } from '@bilevel/testing/node';

const MODULE = TEST_POOL_TASK;

async function run(pool: SamplePool, method: 'sgd' | 'hoag', iterations: number, checkpoint?: { store: ReturnType<typeof memoryStore>; key: string; every: number }, resume = false) {
  const theta0 = { logAlpha: tf.scalar(-2) };
  const m = method === 'sgd' ? sgd({ step: 0.5, size: 8, batchSize: 4, tol: 1e-4, seed: 7 }) : hoag({ schedule: geometric(1e-2, 0.5), step: 1 });
  const r = await train({ method: m as never, workers: pool, theta0, budget: { iterations }, checkpoint, resume });
  theta0.logAlpha.dispose();
  const theta = Array.from(r.theta.logAlpha.dataSync());
  disposeParams(r.theta);
  return { theta, history: r.history };
}

describe('train({ workers })', () => {
  let pool: SamplePool;
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
    pool = await workerPool({ module: MODULE, threads: 2 });
  });
  afterAll(async () => {
    await pool?.close();
  });

  it('sgd on minibatches: θ after 4 iterations on 2 threads equals θ in process, bit for bit', async () => {
    const before = tf.memory().numTensors;
    const inline = inlinePool(makeTask());
    const expected = await run(inline, 'sgd', 4);
    await inline.close();
    const got = await run(pool, 'sgd', 4);
    console.log(`[pool] sgd θ: threads ${got.theta[0]}, inline ${expected.theta[0]}; losses ${got.history.map((e) => e.loss.toPrecision(6)).join(', ')}`);
    expect(got.theta).toEqual(expected.theta);
    expect(got.history.map((e) => e.loss)).toEqual(expected.history.map((e) => e.loss));
    expect(got.theta[0]).not.toBe(Math.fround(-2));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('hoag (full batch) resumes from a checkpoint with the per-sample warm starts', async () => {
    const first = inlinePool(makeTask());
    const straight = await run(first, 'hoag', 3);
    await first.close();
    pool.loadState([]); // forget the warm starts of the previous test
    const store = memoryStore();
    await run(pool, 'hoag', 1, { store, key: 'k', every: 1 });
    const second = inlinePool(makeTask());
    const resumed = await run(second, 'hoag', 3, { store, key: 'k', every: 1 }, true);
    await second.close();
    console.log(`[pool] hoag θ after 3: straight ${straight.theta[0]}, resumed in process after 1 on 2 threads ${resumed.theta[0]}`);
    expect(resumed.theta).toEqual(straight.theta);
  });
});
