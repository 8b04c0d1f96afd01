import type { tf } from '@bilevel/core';
import type { LinearOperator } from './types.js';

/**
 * The identity operator `A x = x` (denoising).
 *
 * @returns a {@link LinearOperator} with `‖A‖ = 1`, self-adjoint.
 * @example
 * ```ts
 * const A = identity();
 * const y = A.apply(x);   // a copy of x
 * ```
 */
export function identity(): LinearOperator {
  return {
    name: 'identity',
    apply: (x: tf.Tensor) => x.clone(),
    adjoint: (y: tf.Tensor) => y.clone(),
    normBound: 1,
    isIdentity: true,
    dispose: () => {},
  };
}
