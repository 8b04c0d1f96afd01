import { it, expect, describe, beforeAll } from 'vitest';
import { tf, initBackend, mapParams, zipParams, disposeParams } from '../src/index.js';

describe('mapParams / zipParams free the intermediates of their callbacks', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'cpu', log: false });
  });

  it('a + h·b leafwise keeps only the result leaves, and the values are right', () => {
    const a = { s: tf.tensor1d([1, 2]), t: tf.scalar(3) };
    const b = { s: tf.tensor1d([4, 5]), t: tf.scalar(6) };
    const before = tf.memory().numTensors;
    const plus = zipParams(a, b, (x, y) => tf.add(x, tf.mul(0.5, y)));
    const twice = mapParams(a, (x) => tf.mul(tf.add(x, x), 1));
    // two leaves each: the tf.mul / tf.add intermediates inside the callbacks are gone
    expect(tf.memory().numTensors - before).toBe(4);
    expect(Array.from(plus.s.dataSync())).toEqual([3, 4.5]);
    expect(plus.t.dataSync()[0]).toBe(6);
    expect(Array.from(twice.s.dataSync())).toEqual([2, 4]);
    disposeParams(plus);
    disposeParams(twice);
    expect(tf.memory().numTensors).toBe(before);
    disposeParams(a);
    disposeParams(b);
  });
});
