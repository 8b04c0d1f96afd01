import { defineStrategy, innerForward, defineOptions, opt, recordExplicit } from '@bilevel/core';
import type { Data, InnerSolver, LinearSolver, DrivenStrategy, SolveRequest, SolveResult, SolutionVjpRequest, SolutionVjpResult } from '@bilevel/core';
import type { BoundConstants } from './bound.js';
import { implicitAdjoint } from './adjoint.js';
import { CONSTANTS_SCHEMA } from './bound.js';

/** Options of {@link implicit}. */
export interface ImplicitOptions {
  /** Lower-level solver (e.g. `lbfgs()`, `accelerated()`, `gradientDescent()`). */
  inner: InnerSolver;
  /** Adjoint solver for `∇²ₓₓΦ q = ∇ₓℓ` (e.g. `cg()`, `gmres()`, `richardson({ step })`, `neumann({ step, terms })`). */
  linear: LinearSolver;
  /** Forward tolerance ε on ‖∇ₓΦ‖ (absolute). */
  tol?: number;
  /** Adjoint tolerance δ on ‖Hq − ∇ₓℓ‖ (absolute). */
  linearTol?: number;
  /** Inner iteration cap; default: the inner solver's. */
  maxIter?: number;
  /** Adjoint iteration cap; default: the linear solver's (for `neumann`, its number of terms). */
  linearMaxIter?: number;
  /** Reuse the last x̂ and q as starting points when shapes match (default true). */
  warmStart?: boolean;
  /** Constants of the a-posteriori bound ({@link implicitErrorBound}); the bound is undefined without them. */
  constants?: BoundConstants;
}

/** Exported defaults of {@link implicit} (float32: ‖∇Φ‖ below ~1e-6·scale is at rounding level). */
export const DEFAULT_IMPLICIT_OPTIONS = Object.freeze({
  tol: 1e-5,
  linearTol: 1e-5,
  warmStart: true,
});

/** The implicit strategy: a driven strategy with warm-start state. */
export interface ImplicitStrategy extends DrivenStrategy<ImplicitOptions & typeof DEFAULT_IMPLICIT_OPTIONS> {
  solve<D = Data>(request: SolveRequest<D>): SolveResult;
  vjpSolution<D = Data>(request: SolutionVjpRequest<D>): SolutionVjpResult;
  /** Whether a warm start is held (for tests and diagnostics). */
  readonly warm: { x: boolean; adjoint: boolean; cotangentAdjoint: boolean };
}

const isSolver = (v: unknown) => v != null && typeof (v as { solve?: unknown }).solve === 'function';

const IMPLICIT_OPTIONS = defineOptions<ImplicitOptions>('implicit', {
  inner: opt.custom('an inner solver such as lbfgs() or gradientDescent() from @bilevel/core', isSolver),
  linear: opt.custom('a linear solver such as cg() or gmres() from @bilevel/core', isSolver),
  tol: opt.number({ gt: 0 }),
  linearTol: opt.number({ gt: 0 }),
  maxIter: opt.integer({ min: 1 }),
  linearMaxIter: opt.integer({ min: 1 }),
  warmStart: opt.boolean(),
  constants: opt.object(CONSTANTS_SCHEMA, 'pass { lossLipschitz, hessianLipschitz, mixedLipschitz, mixedNorm }'),
}, implicit);

function validate(options: ImplicitOptions): ImplicitStrategy['options'] {
  const where = 'implicit';
  if (options == null || typeof options !== 'object') throw new Error(`${where}: pass one options object { inner, linear }.`);
  const given = IMPLICIT_OPTIONS.check(options);
  if (given.inner == null) throw new Error(`${where}: option 'inner' is required: an inner solver such as lbfgs() or gradientDescent() from @bilevel/core.`);
  if (given.linear == null) throw new Error(`${where}: option 'linear' is required: a linear solver such as cg() or gmres() from @bilevel/core.`);
  return Object.freeze({ ...DEFAULT_IMPLICIT_OPTIONS, ...given }) as ImplicitStrategy['options'];
}

/**
 * Implicit-function-theorem hypergradient strategy (IFT; Crockett & Fessler §4.2).
 *
 * With `x̂(θ) = argmin_x Φ(x; θ)` and `∇ₓΦ(x̂; θ) = 0`, the implicit function theorem gives
 * `∂x̂/∂θ = −[∇²ₓₓΦ]⁻¹ ∇²_{xθ}Φ`, so for `F(θ) = ℓ(x̂(θ), θ)`
 *
 * `∇F(θ) = ∇_θℓ(x̂, θ) − (∇²_{xθ}Φ(x̂))ᵀ q,   ∇²ₓₓΦ(x̂) q = ∇ₓℓ(x̂, θ)`.
 *
 * A strategy on core's driver: the forward solve is any {@link InnerSolver}
 * (`innerForward`), the differentiation rule the implicit adjoint ({@link implicitAdjoint})
 * with any matrix-free {@link LinearSolver}. Both are warm-started from the previous call's
 * x̂ and q (shape-checked), which is what makes an upper-level loop cheap when θ moves little.
 * When `problem.mu` is known, the result carries the a-posteriori bound of
 * {@link implicitErrorBound} (constants permitting).
 *
 * @param options - inner and linear solvers, accuracies, warm start, bound constants.
 * @returns an {@link ImplicitStrategy}.
 * @example
 * ```ts
 * import { hypergradient, lbfgs, cg } from '@bilevel/core';
 * import { implicit } from '@bilevel/implicit';
 * const strategy = implicit({ inner: lbfgs(), linear: cg(), tol: 1e-5, linearTol: 1e-5 });
 * const r = hypergradient({ problem, theta, data, loss, strategy });
 * r.dispose(); strategy.dispose();
 * ```
 */
export function implicit(options: ImplicitOptions): ImplicitStrategy {
  const opts = validate(options);
  const given = IMPLICIT_OPTIONS.check(options);
  const rule = implicitAdjoint(opts.linear, { warmStart: opts.warmStart, constants: opts.constants });
  const driven = defineStrategy({
    name: `implicit(${opts.inner.name}, ${opts.linear.name})`,
    forward: innerForward(opts.inner),
    rule,
    options: opts,
    // What the user set on implicit(...) wins over lbfgs({ tol }) / cg({ tol }); the exported defaults do not.
    defaults: { tol: given.tol, linearTol: given.linearTol, maxIter: given.maxIter, linearMaxIter: given.linearMaxIter },
    softDefaults: { tol: DEFAULT_IMPLICIT_OPTIONS.tol, linearTol: DEFAULT_IMPLICIT_OPTIONS.linearTol },
    warmStart: opts.warmStart,
    kindHint: 'For a fixed-point problem (defineFixedPoint) use equilibrium(...) from @bilevel/equilibrium, or jacobianFree() from @bilevel/jfb.',
  });
  const warmX = Object.getOwnPropertyDescriptor(driven, 'warm')!.get!;
  Object.defineProperty(driven, 'warm', { get: () => ({ x: (warmX.call(driven) as { x: boolean }).x, ...rule.warm }) });
  return recordExplicit(driven, given) as unknown as ImplicitStrategy;
}
