import { describe, it, expect, beforeAll } from 'vitest';
import { Worker, MessageChannel } from 'node:worker_threads';
import { tf, initBackend } from '@bilevel/core';
import { serveTraining, startTraining, type MessagePortLike, type TrainingProgress } from '../src/index.js';
import { tvTraining, type TvRequest } from './fixtures/tv-problem.js';

// The .mjs bootstrap registers tsx in the worker thread, then imports the TypeScript worker;
// the @bilevel/source condition makes the worker load the packages' src/, as vitest does.
const spawn = () => new Worker(new URL('./fixtures/train-worker.mjs', import.meta.url), { execArgv: ['--conditions=@bilevel/source'] });

/** Fails a promise that takes longer than `ms` (a hang is a failure, not a stuck suite). */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms))]);
}

describe('training in a Node worker_threads worker', () => {
  it('progress events cross the boundary as plain objects and the run finishes with its outcome', async () => {
    const worker = spawn();
    try {
      const run = startTraining<TvRequest>(worker, { size: 8, iterations: 4, seed: 3 }, { theta: true });
      const events: TrainingProgress[] = [];
      for await (const e of run.events) events.push(e);
      const outcome = await within(60_000, run.result, 'the worker run');
      console.log(`[worker] ${events.length} events: ${events.map((e) => `#${e.iteration} loss=${e.loss.toFixed(4)} eps=${e.eps.toExponential(1)} delta=${e.delta.toExponential(1)} work=${e.work}`).join(' | ')}; status ${outcome.status}`);
      expect(events.map((e) => e.iteration)).toEqual([0, 1, 2, 3]);
      for (const e of events) {
        expect(e.phase).toBe('running');
        expect(e.status).toBe('converged');
        expect(Number.isFinite(e.loss)).toBe(true);
        expect(e.eps).toBeGreaterThan(0);
        expect(e.delta).toBeGreaterThan(0);
        expect(e.theta?.logAlpha.values).toHaveLength(1);
      }
      // work is cumulative and grows with every iteration
      for (let i = 1; i < events.length; i++) expect(events[i].work).toBeGreaterThan(events[i - 1].work);
      expect(outcome.status).toBe('budget-iterations');
      expect(outcome.iterations).toBe(4);
      expect(outcome.history.map((e) => e.loss)).toEqual(events.map((e) => e.loss));
      expect(outcome.theta.logAlpha.values[0]).toBe(events[3].theta!.logAlpha.values[0]);
      expect(outcome.work.innerIterations).toBeGreaterThan(0);
      // MAID moved log α away from its start
      expect(outcome.theta.logAlpha.values[0]).not.toBe(Math.fround(-3));
    } finally {
      await worker.terminate();
    }
  });

  it('stop() ends a long run early, with status aborted, and the worker serves the next run', async () => {
    const worker = spawn();
    try {
      const run = startTraining<TvRequest>(worker, { size: 8, iterations: 10_000, seed: 1 });
      let seen = 0;
      for await (const e of run.events) {
        seen++;
        if (e.iteration === 2) run.stop();
      }
      const outcome = await within(60_000, run.result, 'the stopped run');
      console.log(`[worker] stopped after ${outcome.iterations} of 10000 iterations (${seen} events): ${outcome.message}`);
      expect(outcome.status).toBe('aborted');
      // the stop lands before the next iteration, or one later if it raced an iteration already under way
      expect(outcome.iterations).toBeGreaterThanOrEqual(3);
      expect(outcome.iterations).toBeLessThanOrEqual(4);
      expect(seen).toBe(outcome.iterations);
      const again = startTraining<TvRequest>(worker, { size: 8, iterations: 1, seed: 2 });
      expect((await within(60_000, again.result, 'the second run')).iterations).toBe(1);
    } finally {
      await worker.terminate();
    }
  });

  it('a builder error and a worker exit reject the result instead of hanging', async () => {
    const worker = spawn();
    try {
      const run = startTraining<TvRequest>(worker, { size: 8, iterations: 3, seed: 1, fail: true });
      await expect(within(60_000, run.result, 'the failing run')).rejects.toThrow(/tvTraining: asked to fail/);
      const events: TrainingProgress[] = [];
      await expect((async () => {
        for await (const e of run.events) events.push(e);
      })()).rejects.toThrow(/asked to fail/);
      expect(events).toEqual([]);
      const orphan = startTraining<TvRequest>(worker, { size: 8, iterations: 10_000, seed: 1 });
      await worker.terminate();
      await expect(within(10_000, orphan.result, 'the orphaned run')).rejects.toThrow(/the worker exited \(code 1\) before the run finished/);
    } finally {
      await worker.terminate();
    }
  });
});

describe('training over a browser-style port (addEventListener, event.data)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('works over a MessageChannel seen only through postMessage/addEventListener, as in a Web Worker, without leaks', async () => {
    const before = tf.memory().numTensors;
    const { port1, port2 } = new MessageChannel();
    // Only the Web Worker surface: no `on`, so the addEventListener path is the one used.
    const webStyle = (port: typeof port1): MessagePortLike => ({
      postMessage: (m) => port.postMessage(m),
      addEventListener: (type, listener) => port.addEventListener(type, listener as never),
      removeEventListener: (type, listener) => port.removeEventListener(type, listener as never),
      start: () => port.start(),
    });
    const close = serveTraining<TvRequest>(webStyle(port1), (request) => tvTraining(request));
    const seen: number[] = [];
    const run = startTraining<TvRequest>(webStyle(port2), { size: 6, iterations: 3, seed: 5 }, { onProgress: (e) => seen.push(e.iteration) });
    const outcome = await within(60_000, run.result, 'the in-thread run');
    expect(seen).toEqual([0, 1, 2]);
    expect(outcome.status).toBe('budget-iterations');
    // the progress events stay readable after the end
    const buffered: number[] = [];
    for await (const e of run.events) buffered.push(e.iteration);
    expect(buffered).toEqual([0, 1, 2]);
    close();
    port1.close();
    port2.close();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => startTraining({} as never, {})).toThrow(/startTraining: the first argument must be a Worker/);
    expect(() => startTraining(webStyle(port2), {}, { thetas: true } as never)).toThrow(/startTraining: unknown option 'thetas'; did you mean 'theta'\?/);
  });
});
