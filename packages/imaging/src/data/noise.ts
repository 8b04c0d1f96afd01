import { tf } from '@bilevel/core';
import { gaussianSamples } from '../internal/rng.js';

/**
 * Adds seeded white Gaussian noise: `y = x + σ n`, `n ~ N(0, I)`, without clipping (so the
 * noise model stays exactly Gaussian). The samples come from a JS generator, hence are the
 * same on every backend and platform for the same seed.
 *
 * @param x - clean image(s), any shape.
 * @param sigma - standard deviation σ ≥ 0 (in image units: 0.1 is 10 % of [0, 1]).
 * @param seed - generator seed.
 * @returns the noisy tensor, shaped like `x`.
 * @example
 * ```ts
 * const noisy = addNoise(clean, 0.1, 42);
 * ```
 */
export function addNoise(x: tf.Tensor, sigma: number, seed: number): tf.Tensor {
  if (typeof sigma !== 'number' || !Number.isFinite(sigma) || sigma < 0) {
    throw new Error(`addNoise: 'sigma' must be a finite number ≥ 0, got ${String(sigma)}.`);
  }
  if (!Number.isFinite(seed)) throw new Error(`addNoise: 'seed' must be a finite number, got ${String(seed)}.`);
  const n = gaussianSamples(x.size, seed);
  return tf.tidy(() => tf.add(x, tf.mul(tf.tensor(n, x.shape), sigma)));
}
