import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, hypergradient, lbfgs, cg } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';
import { logCoshProblem, continuesExactly } from '@bilevel/testing';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

describe('strategy.warmState() / loadWarmState(): the warm starts as plain float32 data', () => {
  it('implicit: x̂ and the adjoint q move to a fresh strategy, whose next call equals the original one bit for bit', () => {
    const before = tf.memory().numTensors;
    const { problem, data, loss, theta: theta0 } = logCoshProblem(6, 3);
    const r = continuesExactly(
      () => implicit({ inner: lbfgs(), linear: cg() }),
      (s, shift) => {
        const theta = { alpha: tf.add(theta0.alpha, shift), c: theta0.c.clone() };
        try {
          return hypergradient({ problem, theta, data, loss, strategy: s });
        } finally {
          tf.dispose(Object.values(theta));
        }
      },
    );
    expect(Object.keys(r.saved).sort()).toEqual(['rule.hypergradient', 'x']);
    expect(r.saved.x.values).toBeInstanceOf(Float32Array);
    expect(r.same).toEqual(r.original);
    // the warm start matters: a cold strategy does more work (so the test can fail)
    expect(r.coldWork[0] + r.coldWork[1]).toBeGreaterThan(r.original.work[0] + r.original.work[1]);
    tf.dispose([...Object.values(data), ...Object.values(theta0)]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a state of another strategy or a corrupt slot is refused with the slot named', () => {
    const s = implicit({ inner: lbfgs(), linear: cg() });
    expect(() => s.loadWarmState({ 'rule.z': { shape: [2], values: new Float32Array(2) } })).toThrow(/implicitAdjoint\.loadWarmState: unknown warm-state slot 'z'/);
    expect(() => s.loadWarmState({ x: { shape: [3], values: new Float32Array(2) } })).toThrow(/warm-state slot 'x' has 2 values for shape \[3\]/);
    expect(() => s.loadWarmState({ bogus: { shape: [1], values: new Float32Array(1) } })).toThrow(/unknown warm-state slot 'bogus'.*saved by another strategy/);
    s.dispose();
  });
});
