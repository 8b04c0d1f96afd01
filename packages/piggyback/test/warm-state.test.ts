import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, hypergradient, type Params, type Strategy } from '@bilevel/core';
import { piggyback } from '@bilevel/piggyback';
import { quadraticSaddle } from '@bilevel/testing';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

const values = (p: Params) => Object.fromEntries(Object.entries(p).map(([k, t]) => [k, Array.from(t.dataSync())]));

/** Two calls on one strategy vs. one call, warmState() → a fresh strategy's loadWarmState(), one call. */
function continuesExactly(make: () => Strategy & { warmState(): unknown; loadWarmState(s: never): void; dispose(): void }, call: (s: Strategy, shift: number) => { grad: Params; work: { innerIterations: number; linearIterations: number }; dispose(): void }) {
  const a = make();
  call(a, 0).dispose();
  const saved = a.warmState() as Record<string, { shape: number[]; values: Float32Array }>;
  const second = call(a, 0.01);
  const b = make();
  b.loadWarmState(saved as never);
  const again = call(b, 0.01);
  const out = { saved, same: { grad: values(again.grad), work: [again.work.innerIterations, again.work.linearIterations] }, original: { grad: values(second.grad), work: [second.work.innerIterations, second.work.linearIterations] } };
  const cold = make();
  const fresh = call(cold, 0.01);
  const coldWork = [fresh.work.innerIterations, fresh.work.linearIterations];
  [second, again, fresh].forEach((r) => r.dispose());
  [a, b, cold].forEach((s) => s.dispose());
  return { ...out, coldWork };
}

describe('piggyback warmState() / loadWarmState()', () => {
  it("piggyback: PDHG's saddle point (x, z) and the adjoint (a, b) move too", () => {
    const before = tf.memory().numTensors;
    const q = quadraticSaddle();
    const data = q.data();
    const r = continuesExactly(
      () => piggyback({ tol: 1e-5, linearTol: 1e-5 }),
      (s, shift) => {
        const theta = q.theta();
        const moved = { K: tf.add(theta.K, shift), lambda: theta.lambda };
        theta.K.dispose();
        try {
          return hypergradient({ problem: q.problem, theta: moved, data, loss: q.loss, strategy: s });
        } finally {
          tf.dispose(Object.values(moved));
        }
      },
    );
    expect(Object.keys(r.saved).sort()).toEqual(['rule.a', 'rule.b', 'rule.x', 'rule.z']);
    expect(r.same).toEqual(r.original);
    expect(r.coldWork[0]).toBeGreaterThan(r.original.work[0]);
    tf.dispose(Object.values(data));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a half state is refused with the slots named', () => {
    const p = piggyback();
    expect(() => p.loadWarmState({ 'rule.x': { shape: [2], values: new Float32Array(2) } })).toThrow(/piggyback\.loadWarmState: the warm state needs x with z, and a with b \(got x\)/);
    expect(() => p.loadWarmState({ 'rule.q': { shape: [2], values: new Float32Array(2) } })).toThrow(/unknown warm-state slot 'rule\.q'/);
    p.dispose();
  });
});
