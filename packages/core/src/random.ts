import { tf } from './tf.js';
import { mapParams, normParams, disposeParams, type Params } from './params.js';

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

/**
 * A reproducible random direction of unit norm: `r / ‖r‖` with `r = seededNormal(shape, seed)`
 * (the probe of power iterations, secant estimates and finite-difference checks).
 *
 * @param shape - shape of the result.
 * @param seed - any integer; equal seeds give equal tensors.
 * @returns a float32 tensor with ‖·‖₂ = 1 (to float32 rounding).
 * @example
 * ```ts
 * const v = seededUnit(x.shape, 7);   // ‖v‖ = 1
 * ```
 */
export function seededUnit(shape: number[], seed: number): tf.Tensor {
  return tf.tidy(() => {
    const r = seededNormal(shape, seed);
    return tf.div(r, tf.norm(r));
  });
}

/**
 * A reproducible random direction in parameter space of unit total norm: every leaf of
 * `like` drawn by {@link seededNormal} (seeds `seed`, `seed + 1`, … in the tree's key
 * order), then the tree divided by its norm `√(Σ ‖leaf‖²)`.
 *
 * @param like - a parameter tree giving the shapes (read only).
 * @param seed - any integer; equal seeds give equal trees.
 * @returns a new tree (dispose it) with total norm 1.
 * @example
 * ```ts
 * const u = seededUnitParams(theta, 0);   // normParams(u) = 1
 * ```
 */
export function seededUnitParams(like: Params, seed: number): Params {
  let s = seed;
  const raw = mapParams(like, (t) => seededNormal(t.shape, s++));
  const n = normParams(raw);
  const out = mapParams(raw, (t) => tf.div(t, n));
  disposeParams(raw);
  return out;
}
