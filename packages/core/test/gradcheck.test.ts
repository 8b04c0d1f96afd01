import { it, expect } from 'vitest';
import { tf, checkGradient, checkParamsGradient, GRADCHECK_DEFAULTS, seededNormal } from '../src/index.js';
import { describeEachBackend, randn } from '@bilevel/testing/vitest';

/*
 * The checks run with the default tolerance (1e-2, see GRADCHECK_DEFAULTS): correct
 * gradients must pass it with at least an order of magnitude to spare (asserted below
 * 1e-3), and gradients with a typical bug (a factor 2, a dropped term) must fail it.
 */

/** Σ softplus(x)·x + ¼Σx⁴ with a correct and a deliberately wrong (dropped term) gradient. */
const energy = (x: tf.Tensor) => tf.add(tf.sum(tf.mul(tf.softplus(x), x)), tf.mul(0.25, tf.sum(tf.pow(x, 4))));
const wrongGradient = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([x]);
  // Drops the softplus'(x)·x term of the true gradient softplus(x) + σ(x)·x + x³.
  return { value: energy(x), gradFunc: (dy: tf.Tensor, [s]: tf.Tensor[]) => tf.mul(dy, tf.add(tf.softplus(s), tf.pow(s, 3))) };
});

describeEachBackend('gradcheck', () => {
  it('accepts a correct gradient with a small error, and rejects a wrong one', () => {
    const x = randn([3, 5], 1);
    const before = tf.memory().numTensors;
    const good = checkGradient(energy, x, { directions: 4 });
    expect(good.ok).toBe(true);
    expect(good.maxRelError).toBeLessThan(1e-3);
    expect(good.errors).toHaveLength(4);
    const bad = checkGradient((z) => wrongGradient(z) as tf.Tensor, x);
    expect(bad.ok).toBe(false);
    expect(bad.maxRelError).toBeGreaterThan(GRADCHECK_DEFAULTS.tol);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('is reproducible: the default seed 0 draws the same directions on every call (tfjs treats seed 0 as unseeded)', () => {
    const x = randn([3, 5], 1);
    const a = checkGradient(energy, x, { directions: 3 });
    const b = checkGradient(energy, x, { directions: 3 });
    expect(b.errors).toEqual(a.errors);
    const u = seededNormal([4, 4], 0);
    const v = seededNormal([4, 4], 0);
    expect(Array.from(u.dataSync())).toEqual(Array.from(v.dataSync()));
    expect(() => seededNormal([2], 0.5)).toThrow(/seededNormal: 'seed' must be an integer/);
    tf.dispose([x, u, v]);
  });

  it('copes with a large, image-sized input (float32 round-off in f)', () => {
    const x = tf.tidy(() => tf.add(tf.mul(randn([64, 64], 2), 0.3), 0.5));
    const y = randn([64, 64], 3);
    const tv = (z: tf.Tensor) => tf.tidy(() => {
      const dx = tf.sub(tf.slice(z, [0, 1], [-1, 63]), tf.slice(z, [0, 0], [-1, 63]));
      return tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(z, y)))), tf.mul(0.1, tf.sum(tf.sqrt(tf.add(tf.square(dx), 0.01)))));
    });
    const r = checkGradient(tv, x, { seed: 5 });
    expect(r.ok, JSON.stringify(r.errors)).toBe(true);
    tf.dispose([x, y]);
  });

  it('checks gradients of parameter trees', () => {
    const params = { a: randn([4], 4), w: randn([2, 3], 5) };
    const f = (p: Record<string, tf.Tensor>) => tf.add(tf.sum(tf.exp(tf.mul(0.5, p.a))), tf.sum(tf.square(tf.matMul(p.w, tf.ones([3, 1])))));
    const before = tf.memory().numTensors;
    const r = checkParamsGradient(f, params, { directions: 3, seed: 2 });
    expect(r.ok).toBe(true);
    expect(r.maxRelError).toBeLessThan(1e-3);
    const bad = checkParamsGradient((p) => tf.add(f(p), wrongGradient(p.a) as tf.Tensor), params);
    expect(bad.ok).toBe(false);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([params.a, params.w]);
  });

  it('validates its arguments', () => {
    const x = tf.tensor1d([1, NaN]);
    expect(() => checkGradient(energy, x)).toThrow(/checkGradient: 'x' contains NaN/);
    const y = tf.tensor1d([1, 2]);
    expect(() => checkGradient(energy, y, { directions: 0 })).toThrow(/checkGradient: option 'directions'/);
    expect(() => checkGradient(energy, y, { step: -1 })).toThrow(/checkGradient: option 'step'/);
    expect(() => checkGradient((z) => tf.square(z), y)).toThrow(/must return a scalar/);
    expect(() => checkParamsGradient(energy as never, {})).toThrow(/'params' has no leaves/);
    tf.dispose([x, y]);
  });
});
