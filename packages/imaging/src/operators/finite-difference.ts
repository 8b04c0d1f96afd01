import { tf } from '@bilevel/core';
import type { LinearOperator } from './types.js';
import { checkImage } from '../internal/checks.js';
import { gradientAbsoluteSums, checkAlpha } from './absolute-sums.js';

/**
 * Forward-difference image gradient with Neumann boundary:
 * `(∇x)[i, j, 0] = x[i+1, j] − x[i, j]` (vertical, 0 on the last row),
 * `(∇x)[i, j, 1] = x[i, j+1] − x[i, j]` (horizontal, 0 on the last column).
 *
 * @param x - `[b, h, w, 1]` image.
 * @returns `[b, h, w, 2]`.
 * @example
 * ```ts
 * const g = gradient2d(x);   // [b, h, w, 2]
 * ```
 */
export function gradient2d(x: tf.Tensor): tf.Tensor4D {
  checkImage('gradient2d', 'x', x);
  return tf.tidy(() => {
    const [b, h, w] = x.shape;
    const dv = h > 1 ? tf.concat([tf.sub(tf.slice(x, [0, 1, 0, 0], [b, h - 1, w, 1]), tf.slice(x, [0, 0, 0, 0], [b, h - 1, w, 1])), tf.zeros([b, 1, w, 1])], 1) : tf.zeros([b, h, w, 1]);
    const dh = w > 1 ? tf.concat([tf.sub(tf.slice(x, [0, 0, 1, 0], [b, h, w - 1, 1]), tf.slice(x, [0, 0, 0, 0], [b, h, w - 1, 1])), tf.zeros([b, h, 1, 1])], 2) : tf.zeros([b, h, w, 1]);
    return tf.concat([dv, dh], 3) as tf.Tensor4D;
  });
}

/**
 * Discrete divergence, the negative adjoint of {@link gradient2d}: `div = −∇ᵀ`.
 *
 * `(div p)[i] = p[i] − p[i−1]` along each axis, with `p[−1] = 0` and the last row
 * (column) of `p` ignored, exactly as the Neumann forward difference needs.
 *
 * @param p - `[b, h, w, 2]` vector field (vertical, horizontal).
 * @returns `[b, h, w, 1]`.
 * @example
 * ```ts
 * const d = divergence(gradient2d(x));   // a discrete Laplacian of x
 * ```
 */
export function divergence(p: tf.Tensor): tf.Tensor4D {
  checkImage('divergence', 'p', p, 2);
  return tf.tidy(() => {
    const [b, h, w] = p.shape;
    const pv = tf.slice(p, [0, 0, 0, 0], [b, h - 1, w, 1]);
    const ph = tf.slice(p, [0, 0, 0, 1], [b, h, w - 1, 1]);
    // q = [0; p_0 … p_{h−2}; 0], div = q[1:] − q[:−1]
    const qv = tf.pad(pv, [[0, 0], [1, 1], [0, 0], [0, 0]]);
    const qh = tf.pad(ph, [[0, 0], [0, 0], [1, 1], [0, 0]]);
    const dv = tf.sub(tf.slice(qv, [0, 1, 0, 0], [b, h, w, 1]), tf.slice(qv, [0, 0, 0, 0], [b, h, w, 1]));
    const dh = tf.sub(tf.slice(qh, [0, 0, 1, 0], [b, h, w, 1]), tf.slice(qh, [0, 0, 0, 0], [b, h, w, 1]));
    return tf.add(dv, dh) as tf.Tensor4D;
  });
}

/**
 * The finite-difference gradient as a {@link LinearOperator}: `A = ∇` (forward
 * differences, Neumann boundary), `Aᵀ = −div`.
 *
 * `‖∇‖² ≤ 8` (each row of `∇ᵀ∇` has absolute sum at most 8, Gershgorin), so
 * `normBound = √8`.
 *
 * @returns the operator `[b, h, w, 1] → [b, h, w, 2]`.
 * @example
 * ```ts
 * const D = finiteDifference();
 * const tv = tf.sum(tf.norm(D.apply(x), 'euclidean', 3));
 * ```
 */
export function finiteDifference(): LinearOperator {
  return {
    name: 'finite difference',
    apply: (x) => gradient2d(x),
    adjoint: (p) => tf.tidy(() => tf.neg(divergence(p))),
    normBound: Math.sqrt(8),
    absoluteSums: (alpha, inShape) => {
      checkAlpha('finiteDifference.absoluteSums', alpha);
      if (inShape == null || inShape.length < 2) throw new Error(`finiteDifference.absoluteSums: pass the image shape 'inShape' ([h, w, 1]); the operator works on any size.`);
      return gradientAbsoluteSums(inShape[0], inShape[1]);
    },
    dispose: () => {},
  };
}
