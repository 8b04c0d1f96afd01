import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, type Work } from '@bilevel/core';
import { train, memoryStore, type ProgressEvent, type TrainResult } from '../src/index.js';
import { resumeSetup, type ResumeMethod } from './fixtures/resume-problem.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

/** The trajectory without wall-clock fields: what must be bit-identical after a resume. */
export function trajectory(r: TrainResult) {
  const strip = ({ timeMs: _t, ...rest }: ProgressEvent) => rest;
  const { timeMs: _w, ...work } = r.work as Work & { timeMs?: number };
  return { theta: r.state.theta, state: r.state, history: r.history.map(strip), work, status: r.status };
}

async function run(kind: ResumeMethod, iterations: number | undefined, store: ReturnType<typeof memoryStore> | undefined, resume = false) {
  const s = resumeSetup(kind);
  try {
    const r = await train({
      method: s.method, problem: s.problem, strategy: s.strategy, data: s.data, loss: s.loss, batchData: s.batchData, constants: s.constants,
      theta0: s.theta0, budget: iterations == null ? s.budget : { iterations },
      ...(store != null ? { checkpoint: { store, key: 'run' } } : {}), resume,
    });
    tf.dispose(Object.values(r.theta));
    return r;
  } finally {
    s.dispose();
  }
}

describe('exact resume with implicit default warm starts', () => {
  for (const kind of ['maid', 'adam', 'dfo'] as const) {
    it(`${kind}: stopped after k iterations and resumed in a fresh setup = uninterrupted, bit for bit`, async () => {
      const before = tf.memory().numTensors;
      const full = await run(kind, undefined, undefined);
      const store = memoryStore();
      let k = 0;
      let last: TrainResult | undefined;
      for (const stop of [2, 5, 7]) {
        last = await run(kind, stop, store, k > 0);
        k = stop;
      }
      const resumed = await run(kind, undefined, store, true);
      console.log(`[resume] ${kind}: ${full.history.length} iterations, work ${full.history.at(-1)!.work}, final loss ${full.history.at(-1)!.loss}; resumed ${resumed.history.at(-1)!.loss} (part ${last!.history.length})`);
      expect(trajectory(resumed)).toEqual(trajectory(full));
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
