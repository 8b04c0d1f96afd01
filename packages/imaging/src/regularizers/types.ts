import type { tf, Params } from '@bilevel/core';

/**
 * A parametrised regularizer `R(x; θ)` on `[b, h, w, 1]` images with the constants it can
 * declare. Values are summed over the batch, like every energy in bilevel.
 *
 * Constants are functions of θ because most depend on learnable weights:
 * - `mu(θ)`: a curvature lower bound, `∇²R ⪰ μ I`. Positive means μ-strongly convex, 0
 *   convex, negative means only weakly convex (`R + (|μ|/2)‖x‖²` is convex), as for
 *   Fields of Experts; undefined when nothing is known.
 * - `lipschitz(θ)`: a Lipschitz constant of `∇ₓR`, undefined when none is known.
 */
export interface Regularizer {
  /** A name for messages. */
  readonly name: string;
  /** `true` when `R(·; θ)` is convex for every θ. */
  readonly convex: boolean;
  /** `R(x; θ)` as a scalar tensor, summed over the batch. */
  value(x: tf.Tensor, theta: Params): tf.Tensor;
  /** Curvature lower bound μ (see above). */
  mu?(theta: Params): number;
  /** Lipschitz constant of `∇ₓR`. */
  lipschitz?(theta: Params): number;
  /** Fresh initial parameters (the caller owns and disposes them); `{}` when R has none. */
  init(): Params;
}
