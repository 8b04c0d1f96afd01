import type { tf, Params, HessianAt } from '@bilevel/core';

/**
 * A parametrised regularizer `R(x; θ)` on `[b, h, w, 1]` images with the constants it can
 * declare. Values are summed over the batch, like every energy in bilevel.
 *
 * Constants are functions of θ because most depend on learnable weights:
 * - `mu(θ)`: a curvature lower bound, `∇²R ⪰ μ I`. Positive means μ-strongly convex, 0
 *   convex, negative means only weakly convex (`R + (|μ|/2)‖x‖²` is convex), as for
 *   Fields of Experts; undefined when nothing is known.
 * - `lipschitz(θ)`: a Lipschitz constant of `∇ₓR`, undefined when none is known.
 *
 * Analytic derivatives are optional (`gradient`, `valueAndGradient`, `hessian`, `hvp`, `mixed`):
 * {@link reconstructionProblem} passes them to `defineProblem`'s `derivatives`, and autodiff
 * of `value` supplies whatever is missing.
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
  /** `∇ₓR(x; θ)`, in differentiable tfjs ops. */
  gradient?(x: tf.Tensor, theta: Params): tf.Tensor;
  /** `{ value: R, grad: ∇ₓR }` sharing their common work. */
  valueAndGradient?(x: tf.Tensor, theta: Params): { value: tf.Scalar; grad: tf.Tensor };
  /** `∇²ₓₓR` prepared at x, its per-x parts computed once (see core's HessianAt). */
  hessian?(x: tf.Tensor, theta: Params): HessianAt;
  /** One `∇²ₓₓR(x; θ) v` at a new x, when it shares work a prepared Hessian cannot (see core's `Derivatives.hvp`). */
  hvp?(x: tf.Tensor, theta: Params, v: tf.Tensor): tf.Tensor;
  /** The mixed product `∇_θ⟨∇ₓR(x; θ), v⟩`, a tree shaped like θ. */
  mixed?(x: tf.Tensor, theta: Params, v: tf.Tensor): Params;
}
