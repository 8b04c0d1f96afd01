/**
 * Saddle-point lower-level problems (`defineSaddle`): the operator K, its adjoint, the
 * proximal maps, and the constants ‖K‖, μ_g, μ_{f*}.
 *
 * @packageDocumentation
 */
import { tf } from './tf.js';
import type { Params } from './params.js';
import { checkNonNegative } from './validate.js';
import { callUser } from './inputs.js';
import { checkOptions, opt, registerOptions, defineOptions } from './options.js';
import { constantOption as constant, optionalFunction as optionalFn, evalConstant, ownedStart, type Constant, type Data } from './internal/problem-common.js';

const SADDLE_SCHEMA = {
  apply: opt.func(), adjoint: optionalFn(), proxG: opt.func(), proxFStar: opt.func(), init: opt.func(), initDual: optionalFn(),
  operatorNorm: constant(true), strongConvexity: constant(), dualStrongConvexity: constant(),
  hessianLipschitz: constant(), dualHessianLipschitz: constant(), operatorDerivativeNorm: constant(),
  strongConvexityWeights: optionalFn(), dualStrongConvexityWeights: optionalFn(), name: opt.string(),
  proxGDiagonal: optionalFn(), proxFStarDiagonal: optionalFn(), absoluteSums: optionalFn(),
};
registerOptions(defineSaddle, defineOptions('defineSaddle', SADDLE_SCHEMA));

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
  /**
   * `prox_{Tg}(x) = argmin_u g(u) + ½‖u − x‖²_{T⁻¹}` for an **elementwise** step T = diag(tau), `tau` a
   * positive tensor broadcastable to x: what diagonally preconditioned PDHG (piggyback's
   * `precondition`, Pock & Chambolle 2011) calls. Declare it only where the prox is exact for any
   * such T (separable g: the scalar formula entrywise). A prox that couples entries (a group
   * shrinkage, an epigraph projection) is exact for steps that are equal on each coupled group only:
   * declare it, and make {@link SaddleSpec.absoluteSums} return equal values on each group (the
   * group's maximum, which stays an upper bound). Often the scalar prox, written in tensor ops,
   * serves both: pass the same function.
   */
  proxGDiagonal?(x: tf.Tensor, tau: tf.Tensor, theta: Params, data: D): tf.Tensor;
  /** `prox_{Σf*}(z)` in the Σ⁻¹ metric for an elementwise step Σ = diag(sigma) broadcastable to z; as {@link SaddleSpec.proxGDiagonal}. */
  proxFStarDiagonal?(z: tf.Tensor, sigma: tf.Tensor, theta: Params, data: D): tf.Tensor;
  /**
   * The row and column sums of |K(θ)| that Pock & Chambolle (2011, "Diagonal preconditioning for first
   * order primal-dual algorithms in convex optimization", ICCV, Lemma 2) build their steps from, for
   * α ∈ [0, 2]: `primal` = Σ_i |K_ij|^{2−α} (a tensor broadcastable to x), `dual` = Σ_j |K_ij|^α
   * (broadcastable to z). Upper bounds are valid (smaller steps keep ‖Σ^{1/2}KT^{1/2}‖ ≤ 1). Matrix-free
   * from the operators: `@bilevel/imaging`'s radon, finite-difference and convolution operators have
   * `absoluteSums(alpha)`; for a stacked K = (A; B) the primal sums add and the dual ones concatenate;
   * for cK, multiply by |c|^{2−α} and |c|^α.
   */
  absoluteSums?(alpha: number, theta: Params, data: D): { primal: tf.Tensor; dual: tf.Tensor };
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
   * Per-entry strong-convexity weights W_x > 0 of g (a tensor broadcastable to x, with
   * g − ½⟨W_x x, x⟩ convex), and {@link SaddleSpec.dualStrongConvexityWeights} W_y of f*: with both,
   * the piggyback bound measures distances in ‖·‖_W, much tighter than min(μ_g, μ_{f*}) when
   * only some entries are weakly convex (e.g. an auxiliary variable with a small ε_q).
   */
  strongConvexityWeights?(theta: Params, data: D): tf.Tensor;
  /** Per-entry strong-convexity weights W_y > 0 of f*, broadcastable to the dual z. */
  dualStrongConvexityWeights?(theta: Params, data: D): tf.Tensor;
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
    ['proxGDiagonal', '(x, tau: tf.Tensor, theta, data) => prox_{Tg}(x) with elementwise steps, or omit it', false],
    ['proxFStarDiagonal', '(z, sigma: tf.Tensor, theta, data) => prox_{Σf*}(z) with elementwise steps, or omit it', false],
    ['absoluteSums', '(alpha, theta, data) => ({ primal: Σ_i |K_ij|^(2−α), dual: Σ_j |K_ij|^α }), or omit it', false],
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
  const named = `problem '${name}'`;
  const apply = (x: tf.Tensor, theta: Params, data: D) => callUser(named, `apply (K x, on x of shape [${x.shape}])`, theta, (th) => spec.apply(x, th, data));
  const adjointOf = (z: tf.Tensor, theta: Params, data: D, xShape: number[]): tf.Tensor => {
    if (spec.adjoint != null) {
      const adjoint = spec.adjoint;
      return callUser(named, `adjoint (Kᵀ z, on z of shape [${z.shape}])`, theta, (th) => adjoint(z, th, data));
    }
    if (xShape == null) throw new Error(`${name}: adjoint needs the shape of x when defineSaddle has no 'adjoint'.`);
    // K is linear, so Kᵀz is the gradient of ⟨K u, z⟩ at any u; zeros keep it cheap. No tf.tidy
    // here: this runs inside outer gradients w.r.t. θ, whose tape needs the intermediates.
    return tf.grad((u: tf.Tensor) => tf.sum(tf.mul(apply(u, theta, data), z)))(tf.zeros(xShape));
  };
  return {
    ...spec,
    apply,
    kind: 'saddle',
    name,
    hasAdjoint: spec.adjoint != null,
    adjoint: adjointOf,
    initialPoint(theta, data, x0) {
      return x0 != null ? x0.clone() : ownedStart(() => spec.init(theta, data));
    },
    initialDual(theta, data, x, z0) {
      if (z0 != null) return z0.clone();
      if (spec.initDual != null) return ownedStart(() => spec.initDual!(theta, data));
      return tf.tidy(() => tf.zerosLike(apply(x, theta, data)));
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
