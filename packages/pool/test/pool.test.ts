import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { tf, initBackend, inlinePool, pooledHypergradient, type SamplePool, type PooledResult } from '@bilevel/core';
import { workerPool, summarizeTiming, type WorkerPool } from '../src/index.js';
import { testPoolTask as makeTask, TEST_POOL_TASK } from '@bilevel/testing/node';

const MODULE = TEST_POOL_TASK;
const SAMPLES = [0, 1, 2, 3, 4, 5];

function bits(r: PooledResult): { value: number; grad: number[] } {
  return { value: r.value, grad: Array.from(r.grad!.logAlpha.dataSync()) };
}

/** Three calls at moving θ, so warm starts carry from call to call. */
function trajectory(pool: SamplePool, samples = SAMPLES): Array<{ value: number; grad: number[]; inner: number; linear: number }> {
  const out = [];
  for (const a of [-2, -1.5, -1.5]) {
    const theta = { logAlpha: tf.scalar(a) };
    const r = pooledHypergradient(pool, { theta, samples, tol: 1e-4, linearTol: 1e-4 });
    out.push({ ...bits(r), inner: r.work.innerIterations, linear: r.work.linearIterations });
    r.dispose();
    theta.logAlpha.dispose();
  }
  return out;
}

describe('workerPool', () => {
  let pool: WorkerPool;
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
    pool = await workerPool({ module: MODULE, threads: 2, setup: { badSample: 9, samples: 10, size: 32 } });
  });
  afterAll(async () => {
    await pool?.close();
  });

  it('gives the in-process hypergradients bit for bit, call after call (warm starts per sample)', async () => {
    const reference = inlinePool(makeTask({ badSample: 9, samples: 10, size: 32 }));
    const before = tf.memory().numTensors;
    const expected = trajectory(reference);
    await reference.close();
    const got = trajectory(pool);
    console.log(`[pool] 2 threads vs inline: values ${got.map((g) => g.value.toPrecision(9)).join(', ')}; grads ${got.map((g) => g.grad[0].toPrecision(9)).join(', ')}; inner iterations ${got.map((g) => g.inner).join(', ')}`);
    expect(got.map((g) => g.value)).toEqual(expected.map((e) => e.value));
    expect(got.map((g) => g.grad)).toEqual(expected.map((e) => e.grad));
    expect(got.map((g) => g.inner)).toEqual(expected.map((e) => e.inner));
    expect(got.map((g) => g.linear)).toEqual(expected.map((e) => e.linear));
    // the third call repeats θ: warm-started from the second call's solutions (x and the adjoint q,
    // kept per sample) it needs fewer inner and fewer CG iterations
    expect(got[2].inner).toBeLessThan(got[1].inner);
    expect(got[2].linear).toBeLessThan(got[1].linear);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("kind: 'value' runs each sample's forward solve alone (no CG), equal to inline bit for bit, and the hypergradient after it too", async () => {
    const reference = inlinePool(makeTask({ badSample: 9, samples: 10, size: 32 }));
    const theta = { logAlpha: tf.scalar(-1.7) };
    const before = tf.memory().numTensors;
    const run = (p: SamplePool) => {
      // samples 6–8: untouched by the other tests of this pool, so both pools start them cold
      const v = pooledHypergradient(p, { kind: 'value', theta, samples: [6, 7, 8], tol: 1e-4, linearTol: 1e-4 });
      const h = pooledHypergradient(p, { theta, samples: [6, 7, 8], tol: 1e-4, linearTol: 1e-4 });
      const out = { value: v.value, grad: v.grad, linear: v.work.linearIterations, inner: v.work.innerIterations, hValue: h.value, hGrad: Array.from(h.grad!.logAlpha.dataSync()), hInner: h.work.innerIterations };
      v.dispose();
      h.dispose();
      return out;
    };
    const expected = run(reference);
    const got = run(pool);
    await reference.close();
    expect(got.grad).toBeUndefined();
    expect(got.linear).toBe(0);
    expect(got.inner).toBeGreaterThan(0);
    expect(got).toEqual(expected);
    // the hypergradient right after, at the same θ, starts from the value call's x̂: the forward has (almost) nothing left to do
    expect(got.hInner).toBeLessThan(got.inner);
    expect(got.hValue).toBeCloseTo(got.value, 5);
    expect(tf.memory().numTensors).toBe(before);
    theta.logAlpha.dispose();
  });

  it('sums in the order of the samples: a permuted batch gives the float64-rounded same mean', async () => {
    const theta = { logAlpha: tf.scalar(-1) };
    const fresh = pool;
    try {
      const a = pooledHypergradient(fresh, { theta, samples: [0, 1, 2, 3], warmStart: false });
      const b = pooledHypergradient(fresh, { theta, samples: [3, 2, 1, 0], warmStart: false });
      expect(a.outcomes.map((o) => o.sample)).toEqual([0, 1, 2, 3]);
      expect(b.outcomes.map((o) => o.sample)).toEqual([3, 2, 1, 0]);
      // each sample's outcome is the same whichever order (and thread) ran it
      for (const o of a.outcomes) expect(b.outcomes.find((p) => p.sample === o.sample)!.grad!.logAlpha.values).toEqual(o.grad!.logAlpha.values);
      // float64 sums of four float32 terms in another order agree to float32 rounding (≤ 1 ulp here)
      expect(Math.abs(a.grad!.logAlpha.dataSync()[0] - b.grad!.logAlpha.dataSync()[0])).toBeLessThanOrEqual(Math.abs(a.grad!.logAlpha.dataSync()[0]) * 2 ** -23);
      a.dispose();
      b.dispose();
    } finally {
      theta.logAlpha.dispose();
    }
  });

  it('timing() says which thread ran which sample, for how long, and how busy each thread was', () => {
    const before = tf.memory().numTensors;
    const theta = { logAlpha: tf.scalar(-1) };
    const t0 = performance.now();
    pooledHypergradient(pool, { theta, samples: [0, 1, 2, 3, 4, 5], warmStart: false }).dispose();
    const outer = performance.now() - t0;
    theta.logAlpha.dispose();
    const t = pool.timing()!;
    expect(t.threads.map((x) => x.thread)).toEqual([0, 1]);
    // every sample ran exactly once, on one of the threads
    expect(t.threads.flatMap((x) => x.samples.map((s) => s.sample)).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(t.wallMs).toBeLessThanOrEqual(outer);
    // epoch clocks of different threads agree to well under a millisecond; 5 ms leaves room for a coarse clock
    for (const x of t.threads) {
      expect(x.startMs).toBeGreaterThan(-5);
      expect(x.startMs + x.busyMs).toBeLessThanOrEqual(t.wallMs + 5);
      expect(x.samples.reduce((a, s) => a + s.ms, 0)).toBeLessThanOrEqual(x.busyMs + 5);
      if (process.platform === 'linux') {
        // schedstat: CPU time and run-queue wait of the thread while busy, nanosecond counters that
        // the kernel brings up to date at scheduler ticks: 12 ms allows one tick at HZ = 100 per end
        expect(x.cpuMs!).toBeGreaterThan(0);
        expect(x.cpuMs! + x.waitMs!).toBeLessThanOrEqual(x.busyMs + 12);
      }
    }
    // the next request hands the samples out longest first (by the ms each took in this one):
    // each thread's samples follow that order, and the longest is some thread's first
    const pull = t.threads.flatMap((x) => x.samples).sort((a, b) => b.ms - a.ms || a.sample - b.sample).map((x) => x.sample);
    const again = { logAlpha: tf.scalar(-1) };
    pooledHypergradient(pool, { theta: again, samples: [0, 1, 2, 3, 4, 5], warmStart: false }).dispose();
    again.logAlpha.dispose();
    const t2 = pool.timing()!;
    for (const x of t2.threads) {
      const at = x.samples.map((y) => pull.indexOf(y.sample));
      expect(at).toEqual([...at].sort((a, b) => a - b));
    }
    expect(t2.threads.map((x) => x.samples[0]?.sample)).toContain(pull[0]);
    const s = summarizeTiming(t);
    expect(s.busiestMs).toBe(Math.max(...t.threads.map((x) => x.busyMs)));
    expect(s.balance).toBeGreaterThan(0);
    expect(s.balance).toBeLessThanOrEqual(1);
    expect(s.overheadMs).toBeGreaterThan(-5);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a failing sample fails the request with its index, leaks nothing, and the pool serves the next request', () => {
    const theta = { logAlpha: tf.scalar(-1) };
    const before = tf.memory().numTensors;
    expect(() => pooledHypergradient(pool, { theta, samples: [3, 9, 4] })).toThrow(/workerPool: sample 9: the file of sample 9 is corrupt/);
    expect(tf.memory().numTensors).toBe(before);
    const r = pooledHypergradient(pool, { theta, samples: [3, 4] });
    expect(Number.isFinite(r.value)).toBe(true);
    r.dispose();
    expect(tf.memory().numTensors).toBe(before);
    theta.logAlpha.dispose();
  });

  it('saveState/loadState carry the per-sample warm starts to a new pool', async () => {
    const theta = { logAlpha: tf.scalar(-1.2) };
    const first = pooledHypergradient(pool, { theta, samples: [0, 1] });
    first.dispose();
    const state = pool.saveState() as Array<[number, Record<string, unknown>]>;
    // each sample's warm start holds its x and the strategy's adjoint q
    expect(Object.keys(state[0][1]).sort()).toEqual(['rule.hypergradient', 'x']);
    const again = pooledHypergradient(pool, { theta, samples: [0, 1] });
    const other = inlinePool(makeTask({ badSample: 9, samples: 10, size: 32 }));
    other.loadState(JSON.parse(JSON.stringify(state)));
    const resumed = pooledHypergradient(other, { theta, samples: [0, 1] });
    expect(bits(resumed)).toEqual(bits(again));
    expect(resumed.work.innerIterations).toBe(again.work.innerIterations);
    expect(resumed.work.linearIterations).toBe(again.work.linearIterations);
    again.dispose();
    resumed.dispose();
    await other.close();
    // a checkpoint written before the adjoint was kept ([sample, { shape, values }]: x alone) still loads, as slot x
    const legacy = inlinePool(makeTask({ badSample: 9, samples: 10, size: 32 }));
    legacy.loadState(JSON.parse(JSON.stringify(state.map(([k, v]) => [k, v.x]))));
    const legacyState = legacy.saveState() as Array<[number, Record<string, unknown>]>;
    expect(legacyState.map(([k]) => k)).toEqual(state.map(([k]) => k));
    expect(legacyState.every(([, v]) => Object.keys(v).join() === 'x')).toBe(true);
    await legacy.close();
    theta.logAlpha.dispose();
  });

  it('refuses a relative module path, a bad sample index, and a module without a task', async () => {
    await expect(workerPool({ module: './task.ts' })).rejects.toThrow(/relative path '.\/task.ts'.*new URL/);
    const theta = { logAlpha: tf.scalar(0) };
    expect(() => pooledHypergradient(pool, { theta, samples: [10] })).toThrow(/sample 10 is outside 0 … 9/);
    expect(() => pooledHypergradient(pool, { theta, samples: [0], tols: 1 } as never)).toThrow(/unknown option 'tols'; did you mean 'tol'/);
    theta.logAlpha.dispose();
    await expect(workerPool({ module: new URL('./fixtures/not-a-task.ts', import.meta.url), threads: 1 })).rejects.toThrow(/thread 0 could not load task module .*export default definePoolTask/);
  });
});
