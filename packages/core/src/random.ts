import { tf } from './tf.js';

/**
 * `tf.randomNormal(shape, 0, 1, 'float32', seed)` that is reproducible for **every** integer
 * seed. tfjs treats a seed of 0 as "no seed" (it seeds from `Math.random()`), so seed 0 would
 * draw a different tensor on every call; it is mapped to a fixed non-zero seed here.
 *
 * @param shape - shape of the result.
 * @param seed - any integer; equal seeds give equal tensors.
 * @returns a float32 tensor of standard normal samples.
 * @example
 * ```ts
 * const v = seededNormal([64, 64], 0);   // the same tensor on every call
 * ```
 */
export function seededNormal(shape: number[], seed: number): tf.Tensor {
  if (!Number.isInteger(seed)) throw new Error(`seededNormal: 'seed' must be an integer, got ${String(seed)}.`);
  return tf.randomNormal(shape, 0, 1, 'float32', seed === 0 ? 0x9e3779b9 : seed);
}
