import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, hypergradient } from '@bilevel/core';
import { piggyback } from '@bilevel/piggyback';
import { quadraticSaddle, continuesExactly } from '@bilevel/testing';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

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
