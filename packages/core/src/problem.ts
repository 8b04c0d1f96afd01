import { tf } from './tf.js';
import type { Params } from './params.js';
import { buildDerivatives, DERIVATIVES_SCHEMA, type Derivatives, type HessianAt, type SuppliedDerivatives, type VerifyOptions } from './derivatives.js';
import { checkNonNegative } from './validate.js';
import { checkOptions, opt, registerOptions, defineOptions } from './options.js';

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

/** A constant option: a number ≥ 0 or a function (θ, data) => number. */
const constant = (strict = false) => opt.nullable(opt.union([opt.number(strict ? { gt: 0 } : { min: 0 }), opt.func()]));
const optionalFn = (fix?: string) => opt.nullable(opt.func(fix));
const PROBLEM_SCHEMA = {
  energy: opt.func('pass (x, theta, data) => scalar tensor'),
  init: optionalFn('pass (theta, data) => tensor'),
  strongConvexity: constant(),
  smoothness: constant(),
  name: opt.string(),
  ...DERIVATIVES_SCHEMA,
};
const FIXED_POINT_SCHEMA = { map: opt.func(), init: optionalFn(), contraction: constant(), name: opt.string() };
const SADDLE_SCHEMA = {
  apply: opt.func(), adjoint: optionalFn(), proxG: opt.func(), proxFStar: opt.func(), init: opt.func(), initDual: optionalFn(),
  operatorNorm: constant(true), strongConvexity: constant(), dualStrongConvexity: constant(),
  hessianLipschitz: constant(), dualHessianLipschitz: constant(), operatorDerivativeNorm: constant(), name: opt.string(),
};
registerOptions(defineProblem, defineOptions('defineProblem', PROBLEM_SCHEMA));
registerOptions(defineFixedPoint, defineOptions('defineFixedPoint', FIXED_POINT_SCHEMA));
registerOptions(defineSaddle, defineOptions('defineSaddle', SADDLE_SCHEMA));

function evalConstant<D>(c: Constant<D> | undefined, theta: Params, data: D, where: string, name: string): number | undefined {
  if (c == null) return undefined;
  const v = typeof c === 'function' ? c(theta, data) : c;
  checkNonNegative(where, name, v);
  return v;
}

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
  const energy = (x: tf.Tensor, theta: Params, data: D) => spec.energy(x, theta, data);
  const d = buildDerivatives(name, energy, spec.derivatives, spec.verify);
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
    valueAndGradient: d.valueAndGradient,
    gradient: d.gradient,
    hvp: d.hvp,
    hessianAt: d.hessianAt,
    mixed: d.mixed,
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

/** What {@link defineSaddle} takes. */
export interface SaddleSpec<D = Data> {
  /** The linear operator `K(θ)x` (linear in x; may depend on θ, as a learned discretisation does). */
  apply(x: tf.Tensor, theta: Params, data: D): tf.Tensor;
  /** The adjoint `K(θ)ᵀz`; default: the VJP of `apply` (one extra backward pass per use). */
  adjoint?(z: tf.Tensor, theta: Params, data: D): tf.Tensor;
  /** `prox_{τg}(x) = argmin_u g(u; θ, data) + ‖u − x‖²/(2τ)`, written in tfjs ops (it is differentiated by autodiff). */
  proxG(x: tf.Tensor, tau: number, theta: Params, data: D): tf.Tensor;
  /** `prox_{σf*}(z)`; for an indicator f* this is the projection onto its set. */
  proxFStar(z: tf.Tensor, sigma: number, theta: Params, data: D): tf.Tensor;
  /** Initial primal point x₀ (e.g. the noisy image); it also fixes the shape of x. */
  init(theta: Params, data: D): tf.Tensor;
  /** Initial dual point z₀; default zeros shaped like `K x₀`. */
  initDual?(theta: Params, data: D): tf.Tensor;
  /** An upper bound on ‖K(θ)‖; default: estimated by power iteration on KᵀK (with a safety margin). */
  operatorNorm?: Constant<D>;
  /** Strong-convexity modulus μ_g of g in x, if known: enables accelerated PDHG. */
  strongConvexity?: Constant<D>;
  /** Strong-convexity modulus μ_{f*} of f* in z, if known: with μ_g it certifies ‖(x, z) − (x̂, ẑ)‖. */
  dualStrongConvexity?: Constant<D>;
  /**
   * Lipschitz constant of x ↦ ∇²g(x) (operator norm), if known; 0 for a quadratic g. With
   * μ_g, μ_{f*}, `dualHessianLipschitz` and `operatorDerivativeNorm` it lets piggyback certify its
   * hypergradient (Bogensperger, Ehrhardt, Pock, Salehi & Wong, Theorem 2, in joint form).
   */
  hessianLipschitz?: Constant<D>;
  /** Lipschitz constant of z ↦ ∇²f*(z), if known; 0 for a quadratic f*. */
  dualHessianLipschitz?: Constant<D>;
  /**
   * `c_K = sup_{‖w‖=1} ‖∂_θK(θ)[w]‖₂`: how strongly θ moves K (1 when θ is the matrix K itself).
   * Declaring it also declares that θ enters only K (g and f* do not depend on θ), which the
   * piggyback bound assumes.
   */
  operatorDerivativeNorm?: Constant<D>;
  /** A name for messages. */
  name?: string;
}

/** A saddle-point lower-level problem `min_x max_z ⟨K(θ)x, z⟩ + g(x; θ) − f*(z; θ)`. */
export interface SaddleProblem<D = Data> extends Omit<SaddleSpec<D>, 'adjoint'> {
  readonly kind: 'saddle';
  readonly name: string;
  /** `K(θ)ᵀz`; `xShape` is needed only when the spec has no `adjoint` (the VJP is taken at zeros of that shape). */
  adjoint(z: tf.Tensor, theta: Params, data: D, xShape: number[]): tf.Tensor;
  /** Whether the spec gave its own adjoint (otherwise it is a VJP of `apply`). */
  readonly hasAdjoint: boolean;
  /** `x0` if given, else `init(θ, data)`. */
  initialPoint(theta: Params, data: D, x0?: tf.Tensor): tf.Tensor;
  /** `z0` if given, else `initDual(θ, data)`, else zeros shaped like `K x`. */
  initialDual(theta: Params, data: D, x: tf.Tensor, z0?: tf.Tensor): tf.Tensor;
  /** The spec's ‖K‖ bound at (θ, data), or undefined (then estimate it). */
  knownOperatorNorm(theta: Params, data: D): number | undefined;
  /** μ_g at (θ, data), or undefined. */
  mu(theta: Params, data: D): number | undefined;
  /** μ_{f*} at (θ, data), or undefined. */
  muDual(theta: Params, data: D): number | undefined;
  /** The declared bound constants (Lip ∇²g, Lip ∇²f*, c_K) at (θ, data); undefined entries are unknown. */
  boundConstants(theta: Params, data: D): { hessianLipschitz?: number; dualHessianLipschitz?: number; operatorDerivativeNorm?: number };
}

/**
 * Defines a saddle-point lower-level problem
 * `min_x max_z ⟨K(θ)x, z⟩ + g(x; θ, data) − f*(z; θ, data)`, given by the operator K
 * (and optionally its adjoint) and the proximal maps of g and f*. Its primal solution is
 * `x̂ = argmin_x f(K(θ)x) + g(x)`. Solved by PDHG and differentiated by the piggyback
 * strategy (`@bilevel/piggyback`); the prox maps are differentiated by autodiff, so only
 * forward code is written.
 *
 * @param spec - K as `apply` (+ optional `adjoint`), `proxG`, `proxFStar`, `init`, and the constants ‖K‖, μ_g, μ_{f*} where known.
 * @returns a {@link SaddleProblem}.
 * @example
 * ```ts
 * // ROF denoising in primal-dual form: g(x) = ½‖x − y‖², f* = indicator of {‖z_i‖₂ ≤ α}
 * const problem = defineSaddle({
 *   apply: (x) => gradientOf(x), adjoint: (z) => tf.neg(divergenceOf(z)),
 *   proxG: (x, tau, _theta, data) => tf.div(tf.add(x, tf.mul(tau, data.y)), 1 + tau),
 *   proxFStar: (z, _sigma, theta) => projectBall(z, theta.alpha),
 *   init: (_theta, data) => data.y.clone(),
 *   operatorNorm: Math.sqrt(8), strongConvexity: 1,
 * });
 * ```
 */
export function defineSaddle<D = Data>(spec: SaddleSpec<D>): SaddleProblem<D> {
  const where = 'defineSaddle';
  if (spec == null || typeof spec !== 'object') throw new Error(`${where}: pass one options object { apply, proxG, proxFStar, init, ... }.`);
  checkOptions(where, spec, SADDLE_SCHEMA);
  const fns: Array<[keyof SaddleSpec<D>, string, boolean]> = [
    ['apply', '(x, theta, data) => K(θ)x', true],
    ['proxG', '(x, tau, theta, data) => prox_{τg}(x)', true],
    ['proxFStar', '(z, sigma, theta, data) => prox_{σf*}(z), e.g. a projection for an indicator f*', true],
    ['init', '(theta, data) => x₀ (it fixes the shape of x)', true],
    ['adjoint', '(z, theta, data) => K(θ)ᵀz, or omit it to use the VJP of apply', false],
    ['initDual', '(theta, data) => z₀, or omit it for zeros', false],
  ];
  for (const [key, shape, required] of fns) {
    const f = spec[key];
    if (f == null && !required) continue;
    if (typeof f !== 'function') {
      throw new Error(`${where}: option '${String(key)}' must be a function ${shape}${f == null ? '; it is missing' : `, got ${typeof f}`}.`);
    }
  }
  for (const key of ['operatorNorm', 'strongConvexity', 'dualStrongConvexity', 'hessianLipschitz', 'dualHessianLipschitz', 'operatorDerivativeNorm'] as const) {
    const c = spec[key];
    if (c != null && typeof c !== 'function') checkNonNegative(where, key, c, key === 'operatorNorm');
  }
  const name = spec.name ?? 'saddle problem';
  const adjointOf = (z: tf.Tensor, theta: Params, data: D, xShape: number[]): tf.Tensor => {
    if (spec.adjoint != null) return spec.adjoint(z, theta, data);
    if (xShape == null) throw new Error(`${name}: adjoint needs the shape of x when defineSaddle has no 'adjoint'.`);
    // K is linear, so Kᵀz is the gradient of ⟨K u, z⟩ at any u; zeros keep it cheap. No tf.tidy
    // here: this runs inside outer gradients w.r.t. θ, whose tape needs the intermediates.
    return tf.grad((u: tf.Tensor) => tf.sum(tf.mul(spec.apply(u, theta, data), z)))(tf.zeros(xShape));
  };
  return {
    ...spec,
    kind: 'saddle',
    name,
    hasAdjoint: spec.adjoint != null,
    adjoint: adjointOf,
    initialPoint(theta, data, x0) {
      return x0 != null ? x0.clone() : spec.init(theta, data);
    },
    initialDual(theta, data, x, z0) {
      if (z0 != null) return z0.clone();
      if (spec.initDual != null) return spec.initDual(theta, data);
      return tf.tidy(() => tf.zerosLike(spec.apply(x, theta, data)));
    },
    knownOperatorNorm: (theta, data) => {
      const v = evalConstant(spec.operatorNorm, theta, data, name, 'operatorNorm');
      if (v === 0) throw new Error(`${name}: 'operatorNorm' must be > 0 (K = 0 makes the saddle point trivial).`);
      return v;
    },
    mu: (theta, data) => evalConstant(spec.strongConvexity, theta, data, name, 'strongConvexity'),
    muDual: (theta, data) => evalConstant(spec.dualStrongConvexity, theta, data, name, 'dualStrongConvexity'),
    boundConstants: (theta, data) => ({
      hessianLipschitz: evalConstant(spec.hessianLipschitz, theta, data, name, 'hessianLipschitz'),
      dualHessianLipschitz: evalConstant(spec.dualHessianLipschitz, theta, data, name, 'dualHessianLipschitz'),
      operatorDerivativeNorm: evalConstant(spec.operatorDerivativeNorm, theta, data, name, 'operatorDerivativeNorm'),
    }),
  };
}
