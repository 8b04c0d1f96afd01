/**
 * The checks at the door of every hypergradient (core's `hypergradient`, outer's oracle,
 * `train`), in one place: backend ready, θ, data, x0 against the problem, the saddle
 * operator; and the loss guarded so that what it throws or returns is named.
 *
 * @packageDocumentation
 */
import { tf } from '../tf.js';
import type { Params } from '../params.js';
import type { Data, Problem, FixedPointProblem, SaddleProblem } from '../problem.js';
import type { HypergradientRequest, Loss } from '../strategy.js';
import { callUser, checkData, checkScalarOutput, checkStart, checkTheta, requireBackend } from '../inputs.js';
import { checkSaddleOperator } from '../internal/saddle-check.js';

/**
 * Checks a hypergradient request's inputs before any work, with core's one input check
 * ({@link checkTheta}, {@link checkData}, {@link checkStart}): a tfjs backend is ready; θ is a
 * plain object of finite float32 tensors; the data hold no NaN/Inf and no empty batch; x0
 * has the shape the problem's `init` gives; a saddle problem's K and Kᵀ agree (shape and a
 * random adjointness test, once per problem and shape). Throws naming the argument.
 *
 * @param where - the public function, for messages.
 * @param request - problem, θ, data and the optional x0.
 * @example
 * ```ts
 * checkRequest('myLoop', { problem, theta, data }); // before calling strategy.compute yourself
 * ```
 */
export function checkRequest<D = Data>(where: string, request: { problem: Problem<D> | FixedPointProblem<D> | SaddleProblem<D>; theta: Params; data: D; x0?: tf.Tensor }): void {
  requireBackend(where);
  checkTheta(where, request.theta);
  checkData(where, request.data);
  const problem = request.problem as Problem<D> | FixedPointProblem<D> | SaddleProblem<D>;
  if (problem?.kind === 'saddle') checkSaddleOperator(where, problem, request.theta, request.data);
  if (request.x0 != null) {
    const hasInit = (problem as { init?: unknown })?.init != null;
    // The shape the problem's own start gives (init is cheap: typically a copy of the data).
    let shape: number[] | undefined;
    if (hasInit) {
      const start = tf.tidy(() => problem.initialPoint(request.theta, request.data));
      shape = start.shape;
      start.dispose();
    }
    checkStart(where, request.x0, shape);
  }
}

/**
 * Wraps an upper-level loss so that what it throws is re-thrown naming `where`, the loss and
 * the θ keys it was given, and a return value that is not a scalar tensor is named.
 *
 * @param where - the public function, for messages.
 * @param loss - the user's loss `(x, θ, data) => scalar`.
 * @returns the guarded loss.
 * @example
 * ```ts
 * const value = guardLoss('train', loss)(x, theta, data); // "train: the loss threw: ..." on error
 * ```
 */
export function guardLoss<D>(where: string, loss: Loss<D>): Loss<D> {
  const guarded = (x: tf.Tensor, theta: Params, data: D) =>
    checkScalarOutput(where, 'loss', callUser(where, 'loss', theta, (th) => loss(x, th, data)));
  return guarded as Loss<D>;
}
