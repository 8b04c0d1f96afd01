import { tf } from './tf.js';
import type { Params } from './params.js';
import { valueAndGrad, hvp, mixedProduct, grad } from './autodiff.js';
import { checkNonNegative } from './validate.js';

/** Lower-level data: any tensors (and plain values) the energy reads besides x and θ. */
export type Data = Record<string, tf.Tensor | number | undefined> | tf.Tensor;

/** A constant that may depend on θ and the data (e.g. μ = ξ + λ_min(AᵀA)). */
export type Constant<D> = number | ((theta: Params, data: D) => number);

/** What {@link defineProblem} takes. */
export interface ProblemSpec<D = Data> {
  /**
   * Lower-level energy `Φ(x; θ, data)` as a scalar. For a batch (leading axis of x), return
   * the sum over samples, so one tensor op per step solves every sample.
   */
  energy(x: tf.Tensor, theta: Params, data: D): tf.Tensor;
  /** Initial point of the inner solve when no `x0` is given (e.g. the noisy image). */
  init?(theta: Params, data: D): tf.Tensor;
  /** Strong-convexity modulus μ of Φ in x, if known: certifies ‖x − x̂‖ ≤ ‖∇Φ‖/μ. */
  strongConvexity?: Constant<D>;
  /** Lipschitz constant L of ∇ₓΦ, if known: used for step sizes (1/L). */
  smoothness?: Constant<D>;
  /** A name for messages. */
  name?: string;
}

/** An energy-minimisation lower-level problem `x̂(θ) = argmin_x Φ(x; θ, data)`. */
export interface Problem<D = Data> extends ProblemSpec<D> {
  readonly kind: 'energy';
  readonly name: string;
  /** `x0` if given, else `init(θ, data)`; throws a clear error when neither exists. */
  initialPoint(theta: Params, data: D, x0?: tf.Tensor): tf.Tensor;
  /** `{ value: Φ, grad: ∇ₓΦ }` at x. */
  valueAndGradient(x: tf.Tensor, theta: Params, data: D): { value: tf.Scalar; grad: tf.Tensor };
  /** `∇ₓΦ(x; θ)`. */
  gradient(x: tf.Tensor, theta: Params, data: D): tf.Tensor;
  /** `∇²ₓₓΦ(x; θ) v`. */
  hvp(x: tf.Tensor, theta: Params, data: D, v: tf.Tensor): tf.Tensor;
  /** `∇_θ⟨∇ₓΦ(x; θ), v⟩`. */
  mixed(x: tf.Tensor, theta: Params, data: D, v: tf.Tensor): Params;
  /** μ at (θ, data), or undefined when unknown. */
  mu(theta: Params, data: D): number | undefined;
  /** L at (θ, data), or undefined when unknown. */
  lipschitz(theta: Params, data: D): number | undefined;
}

function evalConstant<D>(c: Constant<D> | undefined, theta: Params, data: D, where: string, name: string): number | undefined {
  if (c == null) return undefined;
  const v = typeof c === 'function' ? c(theta, data) : c;
  checkNonNegative(where, name, v);
  return v;
}

/**
 * Defines a lower-level energy problem.
 *
 * @param spec - the energy `Φ(x; θ, data)`, optional `init`, and the constants μ and L where known.
 * @returns a {@link Problem} that every inner solver and hypergradient strategy accepts.
 * @example
 * ```ts
 * // ½‖x − y‖² + (e^{θ.logAlpha}/2)‖∇x‖²  (Tikhonov denoising)
 * const problem = defineProblem({
 *   energy: (x, theta, data) => tf.add(
 *     tf.mul(0.5, tf.sum(tf.square(tf.sub(x, data.y)))),
 *     tf.mul(tf.mul(0.5, tf.exp(theta.logAlpha)), tf.sum(tf.square(gradientOf(x))))),
 *   init: (_theta, data) => data.y.clone(),
 *   strongConvexity: 1,
 * });
 * ```
 */
export function defineProblem<D = Data>(spec: ProblemSpec<D>): Problem<D> {
  if (spec == null || typeof spec.energy !== 'function') {
    throw new Error('defineProblem: option \'energy\' must be a function (x, theta, data) => scalar tensor.');
  }
  if (spec.init != null && typeof spec.init !== 'function') {
    throw new Error('defineProblem: option \'init\' must be a function (theta, data) => tensor.');
  }
  for (const key of ['strongConvexity', 'smoothness'] as const) {
    const c = spec[key];
    if (c != null && typeof c !== 'function') checkNonNegative('defineProblem', key, c);
  }
  const name = spec.name ?? 'problem';
  const energy = (x: tf.Tensor, theta: Params, data: D) => spec.energy(x, theta, data);
  return {
    ...spec,
    kind: 'energy',
    name,
    initialPoint(theta, data, x0) {
      if (x0 != null) return x0.clone();
      if (spec.init == null) {
        throw new Error(`${name}: no starting point: pass options.x0 to the solver or give defineProblem an 'init'.`);
      }
      return spec.init(theta, data);
    },
    valueAndGradient: (x, theta, data) => valueAndGrad((z) => energy(z, theta, data), x),
    gradient: (x, theta, data) => grad((z) => energy(z, theta, data), x),
    hvp: (x, theta, data, v) => hvp((z) => energy(z, theta, data), x, v),
    mixed: (x, theta, data, v) => mixedProduct((z, th) => energy(z, th, data), x, theta, v),
    mu: (theta, data) => evalConstant(spec.strongConvexity, theta, data, name, 'strongConvexity'),
    lipschitz: (theta, data) => evalConstant(spec.smoothness, theta, data, name, 'smoothness'),
  };
}

/** What {@link defineFixedPoint} takes. */
export interface FixedPointSpec<D = Data> {
  /** The map `T(x; θ, data)`, shaped like x. */
  map(x: tf.Tensor, theta: Params, data: D): tf.Tensor;
  /** Initial point when no `x0` is given. */
  init?(theta: Params, data: D): tf.Tensor;
  /** Lipschitz constant of T in x if known (< 1 means a contraction). */
  contraction?: Constant<D>;
  /** A name for messages. */
  name?: string;
}

/** A fixed-point lower-level problem `x̂(θ) = T(x̂; θ, data)`. */
export interface FixedPointProblem<D = Data> extends FixedPointSpec<D> {
  readonly kind: 'fixed-point';
  readonly name: string;
  initialPoint(theta: Params, data: D, x0?: tf.Tensor): tf.Tensor;
  /** Contraction factor at (θ, data), or undefined when unknown. */
  contractionFactor(theta: Params, data: D): number | undefined;
}

/**
 * Defines a fixed-point lower-level problem `x = T(x; θ, data)`.
 *
 * @example
 * ```ts
 * // one gradient step on an energy as the map: T(x) = x − s∇Φ(x)
 * const fp = defineFixedPoint({ map: (x, theta, data) => tf.sub(x, tf.mul(0.1, problem.gradient(x, theta, data))) });
 * ```
 */
export function defineFixedPoint<D = Data>(spec: FixedPointSpec<D>): FixedPointProblem<D> {
  if (spec == null || typeof spec.map !== 'function') {
    throw new Error('defineFixedPoint: option \'map\' must be a function (x, theta, data) => tensor shaped like x.');
  }
  if (spec.contraction != null && typeof spec.contraction !== 'function') {
    checkNonNegative('defineFixedPoint', 'contraction', spec.contraction);
  }
  const name = spec.name ?? 'fixed-point problem';
  return {
    ...spec,
    kind: 'fixed-point',
    name,
    initialPoint(theta, data, x0) {
      if (x0 != null) return x0.clone();
      if (spec.init == null) {
        throw new Error(`${name}: no starting point: pass options.x0 or give defineFixedPoint an 'init'.`);
      }
      return spec.init(theta, data);
    },
    contractionFactor: (theta, data) => evalConstant(spec.contraction, theta, data, name, 'contraction'),
  };
}
