import { tf } from '../tf.js';
import type { Params } from '../params.js';
import type { Problem, FixedPointProblem } from '../problem.js';

/** A differentiable map `x ↦ T(x; θ, data)`. */
export type StepMap<D> = (x: tf.Tensor, theta: Params, data?: D) => tf.Tensor;

/** What {@link fixedPointMapOf} returns. */
export interface FixedPointMap<D> {
  /** T(x; θ, data); `data` defaults to the one given to {@link fixedPointMapOf}. */
  map: StepMap<D>;
  /** s for an energy (‖T(x) − x‖ = s‖∇ₓΦ(x)‖), 1 for a fixed-point problem. */
  scale: number;
  /** Whether the map is the gradient step of an energy. */
  energy: boolean;
}

/**
 * The step size `s = stepSize ?? 1/L` of the gradient step of an energy, with an error that
 * names the option when L is unknown.
 *
 * @param where - the calling factory, for the message.
 * @param problem - the energy.
 * @param theta - θ (L may depend on it).
 * @param data - the data.
 * @param stepSize - the user's step size, if any.
 * @returns s.
 * @example
 * ```ts
 * const s = gradientStepSize('jacobianFree', problem, theta, data, undefined); // 1/L
 * ```
 */
export function gradientStepSize<D>(where: string, problem: Problem<D>, theta: Params, data: D, stepSize: number | undefined): number {
  if (stepSize != null) return stepSize;
  const L = problem.lipschitz(theta, data);
  if (L == null || !(L > 0)) {
    throw new Error(
      `${where}: no step size for energy '${problem.name}': pass the option 'stepSize' (T(x) = x − s∇ₓΦ(x), s < 2/L) or give defineProblem a 'smoothness' (then s = 1/L).`,
    );
  }
  return 1 / L;
}

/**
 * The map whose fixed point is the lower-level solution: the problem's own map, or for an
 * energy the gradient step `T(x) = x − s∇ₓΦ(x; θ)`, built with a nested `tf.grad` so that it
 * is itself differentiable in x and θ (unrolled, phantom and Jacobian-free rules tape it).
 *
 * @param where - the calling factory, for messages.
 * @param problem - an energy or a fixed-point problem.
 * @param theta - θ at which s = 1/L is evaluated.
 * @param data - the default data of the map.
 * @param stepSize - s for energies (default 1/L).
 * @returns the map, its residual scale and whether it is a gradient step.
 * @example
 * ```ts
 * const { map, scale } = fixedPointMapOf('equilibrium', problem, theta, data, undefined);
 * const next = map(x, theta); // x − s∇ₓΦ(x; θ)
 * ```
 */
export function fixedPointMapOf<D>(
  where: string,
  problem: Problem<D> | FixedPointProblem<D>,
  theta: Params,
  data: D,
  stepSize: number | undefined,
): FixedPointMap<D> {
  if (problem.kind === 'fixed-point') return { map: (x, th, d) => problem.map(x, th, d ?? data), scale: 1, energy: false };
  const s = gradientStepSize(where, problem, theta, data, stepSize);
  const map: StepMap<D> = (x, th, d) => tf.sub(x, tf.mul(s, tf.grad((z: tf.Tensor) => problem.energy(z, th, d ?? data))(x)));
  return { map, scale: s, energy: true };
}
