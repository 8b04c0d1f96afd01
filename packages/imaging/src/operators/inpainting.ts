import { tf } from '@bilevel/core';
import type { LinearOperator } from './types.js';
import { checkImage, checkRange } from '../internal/checks.js';

/**
 * Inpainting (masking) operator `A x = m ⊙ x`, self-adjoint.
 *
 * `‖A‖ = max |m|` (1 for a 0/1 mask).
 *
 * @param mask - `[h, w]`, `[1, h, w, 1]` or `[b, h, w, 1]` tensor in [0, 1], 1 = observed.
 *   The operator keeps its own copy.
 * @returns a {@link LinearOperator}; call `dispose()` when done.
 * @example
 * ```ts
 * const m = tf.cast(tf.greater(tf.randomUniform([64, 64], 0, 1, 'float32', 1), 0.5), 'float32');
 * const A = inpainting(m);
 * ```
 */
export function inpainting(mask: tf.Tensor): LinearOperator {
  if (!(mask instanceof tf.Tensor) || !(mask.rank === 2 || (mask.rank === 4 && mask.shape[3] === 1))) {
    throw new Error(`inpainting: 'mask' must be a [h, w] or [b, h, w, 1] tensor, got ${mask instanceof tf.Tensor ? `[${mask.shape}]` : typeof mask}.`);
  }
  checkRange('inpainting', 'mask', mask, 0, 1);
  const m = tf.tidy(() => (mask.rank === 2 ? tf.reshape(tf.cast(mask, 'float32'), [1, ...mask.shape, 1]) : tf.cast(mask, 'float32').clone()));
  const normBound = tf.tidy(() => tf.max(m).dataSync()[0]);
  const [, h, w] = m.shape;
  const apply = (where: string) => (x: tf.Tensor) => {
    checkImage(`inpainting.${where}`, 'x', x);
    if (x.shape[1] !== h || x.shape[2] !== w) {
      throw new Error(`inpainting.${where}: image is ${x.shape[1]}×${x.shape[2]} but the mask is ${h}×${w}; crop the image or build a mask of its size.`);
    }
    return tf.mul(x, m);
  };
  return { name: 'inpainting', apply: apply('apply'), adjoint: apply('adjoint'), inShape: [h, w, 1], normBound, dispose: () => m.dispose() };
}
