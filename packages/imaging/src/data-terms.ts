import { tf } from '@bilevel/core';
import type { LinearOperator } from './operators/types.js';

/**
 * A data-fidelity term `D(x; y)` with its constants: `mu` (strong convexity in x; 1 for
 * `½‖x − y‖²`, 0 for a general A) and `lipschitz` (of `∇ₓD`, `‖A‖²` when a bound is known).
 */
export interface DataTerm {
  /** A name for messages. */
  readonly name: string;
  /** The forward operator A. */
  readonly operator: LinearOperator;
  /** `D(x; y)` as a scalar, summed over the batch. */
  value(x: tf.Tensor, y: tf.Tensor): tf.Tensor;
  /** Strong-convexity modulus in x (a lower bound on λ_min(AᵀA)). */
  readonly mu: number;
  /** Lipschitz constant of `∇ₓD`, or undefined when `‖A‖` has no known bound. */
  readonly lipschitz?: number;
}

/**
 * Least squares `D(x; y) = ½‖Ax − y‖²`, `∇ₓD = Aᵀ(Ax − y)`.
 *
 * μ = 1 when A is the identity (denoising), else 0 (blur, subsampled Fourier and
 * inpainting all have non-trivial kernels or unknown λ_min); `L = ‖A‖² ≤ normBound²`.
 *
 * @param operator - the forward operator A (not disposed by the term).
 * @returns a {@link DataTerm}.
 * @example
 * ```ts
 * const D = leastSquares(blur({ sigma: 1.5 }));
 * const d = D.value(x, y);
 * ```
 */
export function leastSquares(operator: LinearOperator): DataTerm {
  if (operator == null || typeof operator.apply !== 'function') {
    throw new Error('leastSquares: \'operator\' must be a LinearOperator (identity(), blur(), subsampledFourier(mask), ...).');
  }
  return {
    name: `½‖Ax − y‖², A = ${operator.name}`,
    operator,
    value: (x, y) => tf.tidy(() => tf.mul(0.5, tf.sum(tf.square(tf.sub(operator.apply(x), y))))),
    mu: operator.isIdentity ? 1 : 0,
    lipschitz: operator.normBound != null ? operator.normBound ** 2 : undefined,
  };
}
