import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, workUnits } from '@bilevel/core';
import { train, memoryStore, hoag, maid, oracleFromStrategy, type Method, type MethodStateBase } from '../src/index.js';
import { resumeSetup } from './fixtures/resume-problem.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

type Change = Parameters<typeof resumeSetup>[1];

/** One "process": a fresh setup (with `change`) trained on `store` under key 'run'. */
async function run(store: ReturnType<typeof memoryStore>, iterations: number, change: Change = {}, resume: Parameters<typeof train>[0]['resume'] = false, viaOracle = false, stop?: (e: { iteration: number }) => boolean) {
  const s = resumeSetup('maid', change);
  let calls = 0;
  try {
    const common = { method: s.method, theta0: s.theta0, budget: { iterations }, checkpoint: { store, key: 'run' }, resume, stop };
    const built = oracleFromStrategy({ problem: s.problem, strategy: s.strategy, data: s.data, loss: s.loss, constants: s.constants });
    const counted = Object.assign((...a: Parameters<typeof built>) => ((calls += 1), built(...a)), { saveState: built.saveState, loadState: built.loadState, fingerprint: built.fingerprint });
    const r = viaOracle
      ? await train({ ...common, oracle: counted })
      : await train({ ...common, problem: s.problem, strategy: s.strategy, data: s.data, loss: s.loss, constants: s.constants });
    tf.dispose(Object.values(r.theta));
    return { ...r, calls };
  } finally {
    s.dispose();
  }
}

const hoagWith = (step: number) => hoag({ schedule: 1e-3, step }) as unknown as Method<MethodStateBase>;

describe('checkpoints know their run: a mismatch is refused, naming what differs', () => {
  const cases: Array<[string, Change, Change, RegExp]> = [
    ['θ₀ of another shape', {}, { theta0: [-2, -3, 0] }, /theta\.w: checkpoint "float32\[2\]", this run "float32\[3\]"/],
    ['θ₀ of other values', {}, { theta0: [-1, -3] }, /\(theta0 differ\): theta0\.w: checkpoint "[0-9a-f]{14}", this run "[0-9a-f]{14}"/],
    ['a different HOAG step mid-run', { method: hoagWith(0.5) }, { method: hoagWith(0.25) }, /\(method differ\): method\.options\.stepSize: checkpoint 0\.5, this run 0\.25/],
    ['another run sharing the path (other data)', {}, { dataSeed: 4 }, /\(data differ\): data\.hash: checkpoint "[0-9a-f]{14}", this run "[0-9a-f]{14}"/],
    ['a strategy option', {}, { tol: 1e-3 }, /\(strategy differ\): strategy\.options\.tol: checkpoint 0\.00001, this run 0\.001/],
  ];
  for (const [name, first, second, message] of cases) {
    it(name, async () => {
      const store = memoryStore();
      await run(store, 2, first);
      const before = tf.memory().numTensors;
      const err = (await run(store, 4, second, true).catch((e: Error) => e)) as Error;
      expect(err).toBeInstanceOf(Error);
      console.log(`[fingerprint] ${name}: ${err.message}`);
      expect(err.message).toMatch(/^train: checkpoint 'run' was written by a different run/);
      expect(err.message).toMatch(message);
      expect(err.message).toMatch(/pass resume: \{ allowMismatch: \['\w+'(, '\w+')*\] \}/);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('the same run through a given oracleFromStrategy is recognised; allowMismatch lets a changed run continue', async () => {
    const store = memoryStore();
    await run(store, 2, {}, false, true);
    const same = await run(store, 3, {}, true, true);
    expect(same.history.length).toBe(3);
    expect(same.calls).toBeLessThan(4); // continued: one iteration's calls, not three
    await expect(run(store, 4, { dataSeed: 4 }, true, true)).rejects.toThrow(/data\.hash/);
    const forced = await run(store, 4, { dataSeed: 4 }, { allowMismatch: ['data'] }, true);
    expect(forced.history.length).toBe(4);
    await expect(run(store, 5, {}, { allowMismatch: ['dat' as never] })).rejects.toThrow(/train: option 'resume\.allowMismatch' must be true or an array of 'method', 'strategy', 'theta', 'theta0', 'data'/);
    await expect(run(store, 5, {}, { alowMismatch: true } as never)).rejects.toThrow(/train: unknown option 'resume\.alowMismatch'; did you mean 'resume\.allowMismatch'\?/);
  });
});

describe('a finished run resumed returns its result without new work', () => {
  it("resumed three times: same θ, history and work, no oracle call (before: work 4,527 → 7,622 → 10,928)", async () => {
    const store = memoryStore();
    const stop = (e: { iteration: number }) => e.iteration >= 3;
    const first = await run(store, 50, {}, false, true, stop);
    expect(first.status).toBe('stopped');
    const works = [workUnits(first.work)];
    for (let i = 0; i < 3; i++) {
      const again = await run(store, 50, {}, true, true, stop);
      expect(again.calls).toBe(0);
      expect(again.status).toBe('stopped');
      expect(again.message).toMatch(/returned from the finished checkpoint 'run' without new iterations/);
      expect(again.state.theta).toEqual(first.state.theta);
      expect(again.history).toEqual(first.history);
      works.push(workUnits(again.work));
    }
    console.log(`[finished] work over 3 resumes: ${works.join(' → ')}`);
    expect(new Set(works).size).toBe(1);
    // a budget stop is not final: a larger budget continues the run
    const store2 = memoryStore();
    await run(store2, 2, {}, false, true);
    const same = await run(store2, 2, {}, true, true);
    expect(same.calls).toBe(0);
    const longer = await run(store2, 3, {}, true, true);
    expect(longer.history.length).toBe(3);
    expect(longer.calls).toBeGreaterThan(0);
  });
});
