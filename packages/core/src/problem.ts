import { tf } from './tf.js';
import type { Params } from './params.js';
import { buildDerivatives, DERIVATIVES_SCHEMA, type Derivatives, type HessianAt, type SuppliedDerivatives, type VerifyOptions } from './derivatives.js';
import { checkNonNegative } from './validate.js';
import { callUser, checkScalarOutput } from './inputs.js';
import { checkOptions, opt, registerOptions, defineOptions } from './options.js';

import { constantOption as constant, optionalFunction as optionalFn, evalConstant, ownedStart, type Constant, type Data } from './internal/problem-common.js';

export type { Data, Constant } from './internal/problem-common.js';
export { defineSaddle } from './saddle-problem.js';
export type { SaddleSpec, SaddleProblem } from './saddle-problem.js';

/** What {@link defineProblem} takes. */
export interface ProblemSpec<D = Data> {
  /**
   * Lower-level energy `Φ(x; θ, data)` as a scalar. For a batch (leading axis of x), return
   * the sum over samples, so one tensor op per step solves every sample.
   */
  energy(x: tf.Tensor, theta: Params, data: D): tf.Tensor;
  /** Initial point of the inner solve when no `x0` is given (e.g. the noisy image); returning a tensor of the data itself is fine (the solver clones it before it owns it). */
  init?(theta: Params, data: D): tf.Tensor;
  /** Strong-convexity modulus μ of Φ in x, if known: certifies ‖x − x̂‖ ≤ ‖∇Φ‖/μ. */
  strongConvexity?: Constant<D>;
  /** Lipschitz constant L of ∇ₓΦ, if known: used for step sizes (1/L). */
  smoothness?: Constant<D>;
  /** A name for messages. */
  name?: string;
  /**
   * Analytic derivatives (gradient, Hessian prepared at x, mixed product), each optional;
   * autodiff supplies the rest. See {@link Derivatives}.
   */
  derivatives?: Derivatives<D>;
  /**
   * Check each supplied derivative against autodiff of `energy` once, at a random point
   * near the first x it is called at, and throw if they differ (`true`, or `{ tol, seed }`;
   * default tol 1e-3 relative). Costs one autodiff evaluation per derivative.
   */
  verify?: boolean | VerifyOptions;
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
  /** The Hessian at x for many products (a linear solve): dispose it after the last `apply`. */
  hessianAt(x: tf.Tensor, theta: Params, data: D): HessianAt;
  /** Which derivatives are supplied (the rest are autodiff). */
  readonly supplied: SuppliedDerivatives;
  /** `∇_θ⟨∇ₓΦ(x; θ), v⟩`. */
  mixed(x: tf.Tensor, theta: Params, data: D, v: tf.Tensor): Params;
  /** μ at (θ, data), or undefined when unknown. */
  mu(theta: Params, data: D): number | undefined;
  /** L at (θ, data), or undefined when unknown. */
  lipschitz(theta: Params, data: D): number | undefined;
}

const PROBLEM_SCHEMA = {
  energy: opt.func('pass (x, theta, data) => scalar tensor'),
  init: optionalFn('pass (theta, data) => tensor'),
  strongConvexity: constant(),
  smoothness: constant(),
  name: opt.string(),
  ...DERIVATIVES_SCHEMA,
};
const FIXED_POINT_SCHEMA = { map: opt.func(), init: optionalFn(), contraction: constant(), name: opt.string() };
registerOptions(defineProblem, defineOptions('defineProblem', PROBLEM_SCHEMA));
registerOptions(defineFixedPoint, defineOptions('defineFixedPoint', FIXED_POINT_SCHEMA));


/**
 * Defines a lower-level energy problem.
 *
 * Derivatives come from autodiff of `energy` unless `derivatives` supplies them (an analytic
 * gradient, a Hessian prepared at x whose per-x parts are computed once per linear solve, a
 * mixed product); `verify: true` checks the supplied ones against autodiff once.
 *
 * @param spec - the energy `Φ(x; θ, data)`, optional `init`, the constants μ and L where known, optional `derivatives` and `verify`.
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
 * // ½‖x − y‖² + (e^{θ.a}/2)‖x‖² with analytic derivatives, checked once against autodiff
 * const ridge = defineProblem({
 *   energy: (x, theta, data) => tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, data.y)))),
 *     tf.mul(tf.mul(0.5, tf.exp(theta.a)), tf.sum(tf.square(x)))),
 *   derivatives: {
 *     gradient: (x, theta, data) => tf.add(tf.sub(x, data.y), tf.mul(tf.exp(theta.a), x)),
 *     hessian: (_x, theta) => ({ apply: (v) => tf.mul(tf.add(1, tf.exp(theta.a)), v), dispose: () => {} }),
 *     mixed: (x, theta, _data, v) => ({ a: tf.mul(tf.exp(theta.a), tf.sum(tf.mul(x, v))) }),
 *   },
 *   verify: true,
 * });
 * ```
 */
export function defineProblem<D = Data>(spec: ProblemSpec<D>): Problem<D> {
  if (spec == null || typeof spec.energy !== 'function') {
    throw new Error('defineProblem: option \'energy\' must be a function (x, theta, data) => scalar tensor.');
  }
  checkOptions('defineProblem', spec, PROBLEM_SCHEMA);
  if (spec.init != null && typeof spec.init !== 'function') {
    throw new Error('defineProblem: option \'init\' must be a function (theta, data) => tensor.');
  }
  for (const key of ['strongConvexity', 'smoothness'] as const) {
    const c = spec[key];
    if (c != null && typeof c !== 'function') checkNonNegative('defineProblem', key, c);
  }
  const name = spec.name ?? 'problem';
  const where = `problem '${name}'`;
  // What the energy throws or returns is named with the problem and the θ keys it was given.
  const energy = (x: tf.Tensor, theta: Params, data: D) =>
    checkScalarOutput(where, 'energy', callUser(where, 'energy', theta, (th) => spec.energy(x, th, data)));
  const d = buildDerivatives(name, energy, spec.derivatives, spec.verify);
  const differentiated = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof Error && /Cannot compute gradient of y=f\(x\)/.test(e.message)) {
        throw new Error(`${where}: the energy does not depend on x (tfjs: ${e.message}); it must be built from tf ops on its first argument.`, { cause: e });
      }
      throw e;
    }
  };
  return {
    ...spec,
    energy,
    kind: 'energy',
    name,
    initialPoint(theta, data, x0) {
      if (x0 != null) return x0.clone();
      if (spec.init == null) {
        throw new Error(`${name}: no starting point: pass options.x0 to the solver or give defineProblem an 'init'.`);
      }
      return ownedStart(() => spec.init!(theta, data));
    },
    valueAndGradient: (x, theta, data) => differentiated(() => d.valueAndGradient(x, theta, data)),
    gradient: (x, theta, data) => differentiated(() => d.gradient(x, theta, data)),
    hvp: (x, theta, data, v) => differentiated(() => d.hvp(x, theta, data, v)),
    hessianAt: d.hessianAt,
    mixed: (x, theta, data, v) => differentiated(() => d.mixed(x, theta, data, v)),
    supplied: d.supplied,
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
  checkOptions('defineFixedPoint', spec, FIXED_POINT_SCHEMA);
  if (spec.contraction != null && typeof spec.contraction !== 'function') {
    checkNonNegative('defineFixedPoint', 'contraction', spec.contraction);
  }
  const name = spec.name ?? 'fixed-point problem';
  const where = `problem '${name}'`;
  const map = (x: tf.Tensor, theta: Params, data: D) => {
    const y = callUser(where, 'map', theta, (th) => spec.map(x, th, data));
    if (!(y instanceof tf.Tensor) || !tf.util.arraysEqual(y.shape, x.shape)) {
      throw new Error(`${where}: the map must return a tensor shaped like x [${x.shape}], got ${y instanceof tf.Tensor ? `shape [${y.shape}]` : typeof y}.`);
    }
    return y;
  };
  return {
    ...spec,
    map,
    kind: 'fixed-point',
    name,
    initialPoint(theta, data, x0) {
      if (x0 != null) return x0.clone();
      if (spec.init == null) {
        throw new Error(`${name}: no starting point: pass options.x0 or give defineFixedPoint an 'init'.`);
      }
      return ownedStart(() => spec.init!(theta, data));
    },
    contractionFactor: (theta, data) => evalConstant(spec.contraction, theta, data, name, 'contraction'),
  };
}
