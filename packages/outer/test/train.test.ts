import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, initBackend } from '@bilevel/core';
import { maid, adam, train, trainSteps, memoryStore, loadCheckpoint, expParameterisation, box, l1, l2, type ProgressEvent } from '../src/index.js';
import { readCheckpoint, fileCheckpoint } from '../src/node.js';
import { makeQuadratic, quadraticOracle, killAndResume } from './quadratic.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

const spec = { rows: 20, m: 5, p: 5, samples: 1, ridge: 0.1, seed: 7 };

describe('train: checkpoints and exact resumption', () => {
  it('a run killed at iteration k and resumed ends at the same θ as an uninterrupted run', async () => {
    const total = 25;
    // "Killed" after k iterations (checkpoint every iteration), then a fresh process resumes.
    const k = 11;
    const { full, part, resumed, ckpt, leftovers } = await killAndResume(makeQuadratic(spec), () => maid({ tol0: 1e-1, step0: 1 }), total, k);
    expect(part.history.length).toBe(k);
    expect(ckpt.iterations).toBe(k);
    expect(leftovers).toEqual([]);

    expect(resumed.history.length).toBe(total);
    expect(resumed.state.theta).toEqual(full.state.theta); // bitwise (float32 values)
    expect(resumed.state.tol).toBe(full.state.tol);
    expect(resumed.work.innerIterations).toBe(full.work.innerIterations);
    expect(resumed.work.linearIterations).toBe(full.work.linearIterations);
    const strip = (h: ProgressEvent[]) => h.map(({ timeMs: _t, ...rest }) => rest);
    expect(strip(resumed.history)).toEqual(strip(full.history));
    const a = full.theta.theta.dataSync();
    const b = resumed.theta.theta.dataSync();
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(a[i])));
    tf.dispose([full.theta.theta, part.theta.theta, resumed.theta.theta]);
  });

  it('emits progress events through the callback and the async iterator, and respects the work budget', async () => {
    const q = makeQuadratic(spec);
    const oracle = quadraticOracle(q);
    const theta0 = { theta: tf.zeros([spec.p]) };
    const seen: ProgressEvent[] = [];
    const run = trainSteps({ method: maid({ tol0: 1e-1, step0: 1 }), oracle, theta0, budget: { work: 200 }, onProgress: (e) => seen.push(e) });
    const iterated: ProgressEvent[] = [];
    let r = await run.next();
    while (!r.done) {
      iterated.push(r.value);
      r = await run.next();
    }
    expect(r.value.status).toBe('budget-work');
    expect(iterated).toEqual(seen);
    expect(seen.length).toBeGreaterThan(3);
    const last = seen[seen.length - 1];
    expect(last.work).toBeGreaterThanOrEqual(200);
    expect(seen[seen.length - 2].work).toBeLessThan(200);
    for (const e of seen) for (const key of ['iteration', 'loss', 'gradNorm', 'eps', 'delta', 'step', 'work', 'timeMs'] as const) expect(Number.isFinite(e[key])).toBe(true);
    tf.dispose([theta0.theta, r.value.theta.theta]);
    oracle.dispose();
  });

  it('rejects bad options naming the option and the fix', async () => {
    const q = makeQuadratic(spec);
    const oracle = quadraticOracle(q);
    const theta0 = { theta: tf.zeros([spec.p]) };
    const method = maid({ tol0: 1e-1, step0: 1 });
    await expect(train({ method, oracle, theta0, budget: {} })).rejects.toThrow(/train: option 'budget' needs at least one of iterations, work, seconds/);
    await expect(train({ method, oracle, theta0, budget: { iterations: 1.5 } })).rejects.toThrow(/budget.iterations/);
    await expect(train({ method, theta0, budget: { iterations: 1 } })).rejects.toThrow(/give option 'oracle', or all of 'problem', 'strategy', 'data' and 'loss'/);
    await expect(train({ method, oracle, theta0, budget: { iterations: 1 }, resume: true })).rejects.toThrow(/option 'resume' needs 'checkpoint' \(the store to read\)/);
    await expect(train({ method, oracle, theta0, budget: { iterations: 1 }, checkpoint: fileCheckpoint('/nonexistent/x.json'), resume: '/nonexistent/ckpt.json' })).rejects.toThrow(/resume checkpoint '\/nonexistent\/ckpt.json' does not exist/);
    await expect(train({ method, oracle, theta0, budget: { iterations: 1 }, checkpoint: fileCheckpoint('x.json', 0) })).rejects.toThrow(/checkpoint.every/);
    // the old file-path shape names the Node subpath
    await expect(train({ method, oracle, theta0, budget: { iterations: 1 }, checkpoint: { path: 'x.json' } as never })).rejects.toThrow(/option 'checkpoint.path' is gone \(files are Node-only\); use checkpoint: fileCheckpoint\(path, every\) from '@bilevel\/outer\/node'/);
    await expect(train({ method, oracle, theta0, budget: { iterations: 1 }, checkpoint: { key: 'x.json' } as never })).rejects.toThrow(/'checkpoint.store' must be a store \{ read\(key\), write\(key, bytes\) \}: memoryStore\(\), or fileStore\(\) \/ fileCheckpoint\(path\) from '@bilevel\/outer\/node'/);
    await expect(train({ method, oracle, theta0, budget: { iterations: 1 }, signal: {} as never })).rejects.toThrow(/option 'signal' must be an AbortSignal/);
    await expect(train({ method, oracle, theta0, budget: { iterations: 1 }, epochs: 3 } as never)).rejects.toThrow(/train: unknown option 'epochs'/);
    theta0.theta.dispose();
    oracle.dispose();
  });
});

describe('train: memory store and stop signal (browser-safe main entry)', () => {
  it('memoryStore checkpoints resume exactly like files', async () => {
    const q = makeQuadratic(spec);
    const method = () => maid({ tol0: 1e-1, step0: 1 });
    const theta0 = { theta: tf.zeros([spec.p]) };
    const o1 = quadraticOracle(q);
    const full = await train({ method: method(), oracle: o1, theta0, budget: { iterations: 12 } });
    const store = memoryStore();
    const o2 = quadraticOracle(q);
    const part = await train({ method: method(), oracle: o2, theta0, budget: { iterations: 5 }, checkpoint: { store, key: 'run', every: 2 } });
    expect(store.keys().sort()).toEqual(['run', 'run.history.jsonl', 'run.prev']);
    expect((await loadCheckpoint(store, 'run'))?.iterations).toBe(5);
    expect(await loadCheckpoint(store, 'other')).toBeUndefined();
    const o3 = quadraticOracle(q);
    const resumed = await train({ method: method(), oracle: o3, theta0, budget: { iterations: 12 }, checkpoint: { store, key: 'run' }, resume: true });
    expect(resumed.state.theta).toEqual(full.state.theta);
    tf.dispose([theta0.theta, full.theta.theta, part.theta.theta, resumed.theta.theta]);
    [o1, o2, o3].forEach((o) => o.dispose());
  });

  it("an aborted signal ends the run before the next iteration with status 'aborted', without leaks", async () => {
    const q = makeQuadratic(spec);
    const before = tf.memory().numTensors;
    const oracle = quadraticOracle(q);
    const theta0 = { theta: tf.zeros([spec.p]) };
    const controller = new AbortController();
    const store = memoryStore();
    const result = await train({
      method: maid({ tol0: 1e-1, step0: 1 }), oracle, theta0, budget: { iterations: 1000 }, signal: controller.signal,
      checkpoint: { store, every: 100 },
      onProgress: (e) => {
        if (e.iteration === 3) controller.abort();
      },
    });
    expect(result.status).toBe('aborted');
    expect(result.message).toMatch(/stopped by option 'signal' after 4 iterations/);
    expect(result.history.length).toBe(4);
    // the final checkpoint is written at the stop, as for any other reason
    expect((await loadCheckpoint(store))?.iterations).toBe(4);
    result.theta.theta.dispose();
    // a stop from a timer (a click handler would be the same) lands although tfjs is synchronous:
    // train yields an event-loop turn per iteration
    const later = new AbortController();
    setTimeout(() => later.abort(), 0);
    const timed = await train({ method: maid({ tol0: 1e-1, step0: 1 }), oracle, theta0, budget: { iterations: 100_000 }, signal: later.signal });
    expect(timed.status).toBe('aborted');
    expect(timed.history.length).toBeLessThan(50);
    timed.theta.theta.dispose();
    // already aborted: no iteration at all
    const none = await train({ method: maid({ tol0: 1e-1, step0: 1 }), oracle, theta0, budget: { iterations: 10 }, signal: { aborted: true } });
    expect(none.history.length).toBe(0);
    expect(none.status).toBe('aborted');
    none.theta.theta.dispose();
    theta0.theta.dispose();
    oracle.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('transforms', () => {
  it('box projection keeps θ feasible, l1 sparsifies, l2 shrinks, exp reparameterisation keeps weights positive', async () => {
    const q = makeQuadratic(spec);
    const run = async (extra: Record<string, unknown>) => {
      const oracle = quadraticOracle(q);
      const theta0 = { theta: tf.fill([spec.p], 0.5) };
      const r = await train({ method: maid({ tol0: 1e-1, step0: 1 }), oracle, theta0, budget: { iterations: 40 }, ...extra });
      const values = Array.from(r.theta.theta.dataSync());
      tf.dispose([theta0.theta, r.theta.theta]);
      oracle.dispose();
      return { values, r };
    };
    const free = await run({});
    const boxed = await run({ project: box({ lower: 0.2, upper: 0.6 }) });
    for (const v of boxed.values) {
      expect(v).toBeGreaterThanOrEqual(0.2 - 1e-7);
      expect(v).toBeLessThanOrEqual(0.6 + 1e-7);
    }
    expect(free.values.some((v) => v < 0.2 || v > 0.6)).toBe(true);
    const sparse = await run({ regularizer: l1(0.5) });
    const norm1 = (v: number[]) => v.reduce((s, x) => s + Math.abs(x), 0);
    expect(sparse.values.filter((v) => v === 0).length).toBeGreaterThan(0);
    expect(norm1(sparse.values)).toBeLessThan(norm1(free.values));
    const ridge = await run({ regularizer: l2(1) });
    const norm2 = (v: number[]) => Math.hypot(...v);
    expect(norm2(ridge.values)).toBeLessThan(norm2(free.values));
    const positive = await run({ transform: expParameterisation() });
    for (const v of positive.values) expect(v).toBeGreaterThan(0);
    // the loss still decreases under every transform
    for (const r of [boxed, sparse, ridge, positive]) {
      const h = r.r.history;
      expect(h[h.length - 1].loss).toBeLessThan(h[0].loss);
    }
  });

  it('adam state (moments, sampler) survives a checkpoint round trip', async () => {
    const q = makeQuadratic({ ...spec, samples: 8 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outer-adam-'));
    const file = path.join(dir, 'adam.json');
    const method = () => adam({ step: 0.05, size: 8, batchSize: 3, tol: 1e-3, seed: 42 });
    const theta0 = { theta: tf.zeros([spec.p]) };
    const o1 = quadraticOracle(q);
    const full = await train({ method: method(), oracle: o1, theta0, budget: { iterations: 12 } });
    const o2 = quadraticOracle(q);
    await train({ method: method(), oracle: o2, theta0, budget: { iterations: 5 }, checkpoint: fileCheckpoint(file, 2) });
    const o3 = quadraticOracle(q);
    const resumed = await train({ method: method(), oracle: o3, theta0, budget: { iterations: 12 }, checkpoint: fileCheckpoint(file), resume: true });
    expect(resumed.state).toEqual(full.state);
    tf.dispose([theta0.theta, full.theta.theta, resumed.theta.theta]);
    [o1, o2, o3].forEach((o) => o.dispose());
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
