import type { tf } from '@bilevel/core';
import type { AbsoluteSums } from './absolute-sums.js';

/**
 * A matrix-free, batched linear operator `A: X → Y` with its adjoint.
 *
 * Images are NHWC tensors `[batch, height, width, 1]`; complex data (Fourier
 * measurements) are real pairs in a trailing axis of size 2, and the inner product on
 * them is the real one, `⟨u, v⟩ = Σ Re(u)Re(v) + Im(u)Im(v)`, so `⟨Ax, y⟩ = ⟨x, Aᵀy⟩`
 * holds with `Aᵀ = Re ∘ Aᴴ` for real-to-complex operators.
 */
export interface LinearOperator {
  /** A name for messages. */
  readonly name: string;
  /** `A x`. Returns a new tensor; the caller owns it. */
  apply(x: tf.Tensor): tf.Tensor;
  /** `Aᵀ y` (the adjoint for the real inner product). Returns a new tensor. */
  adjoint(y: tf.Tensor): tf.Tensor;
  /** Expected input shape without the batch axis (`[h, w, 1]`), where the operator fixes it. */
  readonly inShape?: number[];
  /** An upper bound on the operator norm `‖A‖`, where one is known. */
  readonly normBound?: number;
  /** `true` when `AᵀA = I` (identity); used to declare strong convexity of `½‖Ax − y‖²`. */
  readonly isIdentity?: boolean;
  /**
   * Row and column sums of |A| with powers, Σ_j |A_ij|^α (rows, `[1, ...outShape]`) and Σ_i |A_ij|^{2−α}
   * (columns, `[1, ...inShape]`), matrix-free, for the diagonal PDHG steps of Pock & Chambolle (2011)
   * (piggyback's `precondition`), where the operator can supply them; `inShape` (`[h, w, 1]`) for
   * operators that do not fix their input size. The caller owns the tensors.
   */
  absoluteSums?(alpha: number, inShape?: number[]): AbsoluteSums;
  /** Frees tensors the operator holds (kernels, masks, DFT matrices). Idempotent. */
  dispose(): void;
}
