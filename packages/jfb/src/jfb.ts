import { defineStrategy, defineOptions, opt } from '@bilevel/core';
import type { Data, DrivenStrategy, InnerSolver, SolveRequest, SolveResult, SolutionVjpRequest, SolutionVjpResult } from '@bilevel/core';
import { picardForward } from './picard-forward.js';
import { jacobianFreeRule } from './rule.js';

/** Options of {@link jacobianFree}. */
export interface JacobianFreeOptions {
  /**
   * Forward solver for energies (any {@link InnerSolver}); default: Picard iterations of
   * `T(x) = x − s∇ₓΦ(x)` (gradient descent). Fixed-point problems always use Picard iterations of their map.
   */
  inner?: InnerSolver;
  /** Differentiable steps `k` of T from the fixed point (default 1). */
  steps?: number;
  /** Step `s` of `T(x) = x − s∇ₓΦ` for energies; default `1/L` from the problem's `smoothness`. */
  stepSize?: number;
  /** Forward tolerance on ‖∇ₓΦ‖ (energies) or ‖T(x) − x‖ (fixed points), absolute. */
  tol?: number;
  /** Forward iteration cap. */
  maxIter?: number;
  /** Reuse the last fixed point as the next starting point when shapes match (default true). */
  warmStart?: boolean;
}

/** Exported defaults of {@link jacobianFree}. */
export const DEFAULT_JFB_OPTIONS = Object.freeze({ steps: 1, tol: 1e-5, maxIter: 1000, warmStart: true });

/** The Jacobian-free strategy: the core driver on a Picard (or inner-solver) forward solve and the Jacobian-free rule. */
export interface JacobianFreeStrategy extends DrivenStrategy<Readonly<JacobianFreeOptions & typeof DEFAULT_JFB_OPTIONS>> {
  solve<D = Data>(request: SolveRequest<D>): SolveResult;
  vjpSolution<D = Data>(request: SolutionVjpRequest<D>): SolutionVjpResult;
}

const JFB_OPTIONS = defineOptions<JacobianFreeOptions>('jacobianFree', {
  inner: opt.custom('an inner solver such as lbfgs() from @bilevel/core', (v) => typeof (v as InnerSolver | null)?.solve === 'function', 'or omit it for Picard iterations'),
  steps: opt.integer({ min: 1 }),
  stepSize: opt.number({ gt: 0 }, 'pass s < 2/L, e.g. 1/L'),
  tol: opt.number({ gt: 0 }),
  maxIter: opt.integer({ min: 1 }),
  warmStart: opt.boolean(),
}, jacobianFree);

/**
 * Jacobian-free backpropagation (Fung et al., "JFB: Jacobian-Free Backpropagation for Implicit
 * Networks", AAAI 2022; Crockett & Fessler §7.2).
 *
 * For a fixed point `x̂ = T(x̂; θ)` the exact hypergradient needs `(I − ∂ₓT)⁻ᵀ`. JFB replaces
 * that inverse by the identity (a truncated Neumann series): it treats `x̂` as a constant and
 * differentiates `k` steps of the map from it,
 *
 * `g = ∇_θℓ(x̂, θ) + (∂_θ T^k(sg(x̂); θ))ᵀ ∇ₓℓ(x̂, θ)`,
 *
 * which at a fixed point equals `∇_θ [ℓ(T^k(sg(x̂); θ), θ)]`, and is a descent direction when T
 * is a contraction in x with a well-conditioned Jacobian (it is the exact hypergradient
 * preconditioned by `(I − ∂ₓT)ᵀ`). For an energy Φ the map is the gradient step
 * `T(x) = x − s∇ₓΦ(x; θ)`. Cost: a forward solve plus `k` VJPs; no linear solve, so no
 * backward residual and no bound.
 *
 * @param options - forward solver, number of differentiable steps, step size, accuracies.
 * @returns a {@link JacobianFreeStrategy}.
 * @example
 * ```ts
 * import { hypergradient } from '@bilevel/core';
 * import { jacobianFree } from '@bilevel/jfb';
 * const r = hypergradient({ problem, theta, data, loss, strategy: jacobianFree({ steps: 1 }) });
 * ```
 */
export function jacobianFree(options: JacobianFreeOptions = {}): JacobianFreeStrategy {
  const where = 'jacobianFree';
  const opts = Object.freeze(JFB_OPTIONS.withDefaults(options, DEFAULT_JFB_OPTIONS)) as JacobianFreeStrategy['options'];
  // The driver always provides solve and vjpSolution; DrivenStrategy types them as optional (Strategy's shape).
  return defineStrategy({
    name: `jacobianFree(k=${opts.steps}${opts.inner ? `, ${opts.inner.name}` : ''})`,
    forward: picardForward(where, opts.stepSize, opts.inner),
    rule: jacobianFreeRule(where, opts.steps, opts.stepSize),
    options: opts,
    // Core's precedence rule, as in the other strategies: set here by the user, the tol/cap
    // beats the inner solver's own; the exported defaults yield to an option set on `inner`.
    defaults: { tol: options.tol, maxIter: options.maxIter },
    softDefaults: { tol: DEFAULT_JFB_OPTIONS.tol, maxIter: DEFAULT_JFB_OPTIONS.maxIter },
    warmStart: opts.warmStart,
    kindHint: 'For a saddle point (defineSaddle) use piggyback() from @bilevel/piggyback.',
  }) as JacobianFreeStrategy;
}
