import { describe, it, expect, beforeAll } from 'vitest';
import { tf, initBackend, seededNormal, seededUnit, seededUnitParams, normParams, disposeParams } from '../src/index.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

describe('seeded random directions', () => {
  it('seededUnit is seededNormal scaled to norm 1, the same for the same seed (seed 0 included)', () => {
    const before = tf.memory().numTensors;
    const a = seededUnit([5, 7], 0);
    const b = seededUnit([5, 7], 0);
    const r = seededNormal([5, 7], 0);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    const n = Math.hypot(...r.dataSync());
    // float32: the norm is 1 and the direction r/‖r‖ to a few ulps.
    expect(Math.hypot(...a.dataSync())).toBeCloseTo(1, 6);
    a.dataSync().forEach((v, i) => expect(v).toBeCloseTo(r.dataSync()[i] / n, 6));
    const c = seededUnit([5, 7], 1);
    expect(Array.from(c.dataSync())).not.toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b, c, r]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('seededUnitParams has total norm 1 over the leaves, with the leaves drawn from seed, seed + 1, …', () => {
    const like = { a: tf.zeros([3]), b: tf.zeros([2, 2]) };
    const before = tf.memory().numTensors;
    const u = seededUnitParams(like, 4);
    expect(normParams(u)).toBeCloseTo(1, 6);
    // Each leaf is parallel to its own seeded draw (cosine 1).
    const drawn = seededNormal([3], 4);
    const ra = Array.from(drawn.dataSync());
    const ua = Array.from(u.a.dataSync());
    const cos = ua.reduce((s, v, i) => s + v * ra[i], 0) / (Math.hypot(...ua) * Math.hypot(...ra));
    expect(cos).toBeCloseTo(1, 6);
    expect(u.b.shape).toEqual([2, 2]);
    disposeParams(u);
    drawn.dispose();
    expect(tf.memory().numTensors).toBe(before);
    disposeParams(like);
  });
});
