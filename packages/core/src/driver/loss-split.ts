import { tf } from '../tf.js';
import type { Params } from '../params.js';
import { keysOf } from '../params.js';
import { withIsolatedTape } from '../autodiff.js';
import type { Loss } from '../strategy.js';

/** What {@link splitLoss} returns; the caller owns `gx` and `gTheta`. */
export interface LossSplit {
  /** ℓ(x, θ; data). */
  value: number;
  /** ∇ₓℓ, shaped like x. */
  gx: tf.Tensor;
  /** ∇_θℓ, shaped like θ (zeros where ℓ does not depend on θ). */
  gTheta: Params;
}

/**
 * The upper-level loss and its two partial gradients in one backward pass,
 * `ℓ(x, θ) ↦ (ℓ, ∇ₓℓ, ∇_θℓ)`. x and the θ leaves are passed to the tape as one list, so no
 * key of θ is reserved.
 *
 * @param loss - the upper-level loss.
 * @param x - the lower-level point (not consumed).
 * @param theta - θ (not consumed).
 * @param data - the data handed to the loss.
 * @returns value, ∇ₓℓ and ∇_θℓ.
 * @example
 * ```ts
 * const { value, gx, gTheta } = splitLoss((x, th) => tf.sum(tf.square(tf.sub(x, th.a))), x, { a }, {});
 * ```
 */
export function splitLoss<D>(loss: Loss<D>, x: tf.Tensor, theta: Params, data: D): LossSplit {
  const keys = keysOf(theta);
  return withIsolatedTape(() => {
    let value!: tf.Scalar;
    const grads = tf.tidy(() => {
      const leaves = [x, ...keys.map((k) => theta[k])];
      const { value: v, grads: gs } = tf.engine().gradients(
        () => {
          const th: Params = {};
          keys.forEach((k, i) => (th[k] = leaves[i + 1]));
          const y = loss(leaves[0], th, data);
          if (!(y instanceof tf.Tensor) || y.rank !== 0) {
            throw new Error(`loss: must return a scalar tensor, got ${y instanceof tf.Tensor ? `shape [${y.shape}]` : typeof y}; sum or average it.`);
          }
          return y;
        },
        leaves,
        undefined,
        true,
      );
      value = tf.keep(v as tf.Scalar);
      return gs.map((g, i) => (g == null ? tf.zerosLike(leaves[i]) : g));
    });
    const out = value.dataSync()[0];
    value.dispose();
    const gTheta: Params = {};
    keys.forEach((k, i) => (gTheta[k] = grads[i + 1]));
    return { value: out, gx: grads[0], gTheta };
  });
}
