import { defineStrategy, defineOptions, opt, fixedPointForward, gmres, richardson, anderson } from '@bilevel/core';
import type { Data, DrivenStrategy, LinearSolver, FixedPointSolver as ForwardSolver, SolveRequest, SolveResult, SolutionVjpRequest, SolutionVjpResult } from '@bilevel/core';
import type { FixedPointRule } from './backward/types.js';
import { linearSolveRule } from './backward/linear-solve.js';
import { phantomRule } from './backward/phantom.js';
import { onMap } from './backward/on-map.js';

/**
 * How the backward pass is computed.
 * - a {@link FixedPointRule} object, e.g. `neumannSeries({ terms: 20 })`.
 * - `'implicit'`: solve `(I − ∂ₓT)ᵀ w = ∇ₓℓ` with GMRES (core's `gmres`).
 * - `{ implicit: solver }`: the same with any core {@link LinearSolver} (CG is valid for energies, where `(I − ∂ₓT)ᵀ = s∇²ₓₓΦ` is SPD).
 * - `'fixed-point'`: iterate `w ← (∂ₓT)ᵀ w + ∇ₓℓ` from w = 0 (Richardson with step 1; converges when T is a contraction).
 * - `{ phantom: k, damping: λ }`: phantom gradient (Geng et al. 2021): backpropagate through k
 *   steps of `x ← (1 − λ)x + λT(x)` started at the fixed point.
 */
export type EquilibriumBackward = FixedPointRule | 'implicit' | { implicit: LinearSolver } | 'fixed-point' | { phantom: number; damping?: number };

/** Options of {@link equilibrium}. */
export interface EquilibriumOptions {
  /** Forward fixed-point solver: `picard()`, `anderson()` (default) or `broyden()`. */
  forward?: ForwardSolver;
  /** Backward rule, see {@link EquilibriumBackward}. Default `'implicit'`. */
  backward?: EquilibriumBackward;
  /** Forward tolerance (absolute, on ‖∇ₓΦ‖ for energies, ‖T(x) − x‖ for maps); `request.tol` overrides. */
  tol?: number;
  /** Forward iteration cap; `request.maxIter` overrides. */
  maxIter?: number;
  /**
   * Backward tolerance (absolute residual of the adjoint system); `request.linearTol`
   * overrides; a tol set on the backward linear solver (`{ implicit: gmres({ tol }) }`) is
   * kept when this is not given. The same name as `implicit`'s (it was `backwardTol`).
   */
  linearTol?: number;
  /** Backward iteration cap; `request.linearMaxIter` overrides (it was `backwardMaxIter`). */
  linearMaxIter?: number;
  /** @deprecated Renamed `linearTol`: passing it throws an error that says so. */
  backwardTol?: never;
  /** @deprecated Renamed `linearMaxIter`: passing it throws an error that says so. */
  backwardMaxIter?: never;
  /** Energies only: step s of `T(x) = x − s∇ₓΦ(x)`. Default `1/L` from the problem's `smoothness`. */
  stepSize?: number;
}

/** Defaults of {@link equilibrium}. */
export const DEFAULT_EQUILIBRIUM_OPTIONS = {
  backward: 'implicit' as EquilibriumBackward,
  tol: 1e-5,
  maxIter: 500,
  linearTol: 1e-5,
  linearMaxIter: 500,
  phantomDamping: 0.5,
} as const;

const WHERE = 'equilibrium';

/** An equilibrium (deep-equilibrium style) strategy: the core driver on a fixed-point forward solve and a backward rule. */
export interface EquilibriumStrategy extends DrivenStrategy<Readonly<EquilibriumOptions>> {
  solve<D = Data>(request: SolveRequest<D>): SolveResult;
  vjpSolution<D = Data>(request: SolutionVjpRequest<D>): SolutionVjpResult;
}

const isRule = (b: unknown): b is FixedPointRule => typeof (b as FixedPointRule | null)?.vjp === 'function';

/** The backward option as a rule object. */
function ruleOf(backward: EquilibriumBackward): FixedPointRule {
  if (isRule(backward)) return backward;
  if (backward === 'implicit') return linearSolveRule(WHERE, gmres());
  if (backward === 'fixed-point') return linearSolveRule(WHERE, richardson({ step: 1 }));
  if ('implicit' in backward) return linearSolveRule(WHERE, backward.implicit);
  return phantomRule(backward.phantom, backward.damping ?? DEFAULT_EQUILIBRIUM_OPTIONS.phantomDamping);
}

/** Whether `b` is a valid backward option (a rule, a name, a linear solver, or phantom steps with damping in (0, 1]). */
function isBackward(b: unknown): boolean {
  if (b === 'implicit' || b === 'fixed-point' || isRule(b)) return true;
  if (b == null || typeof b !== 'object') return false;
  if ('implicit' in b) return typeof (b.implicit as LinearSolver | null)?.solve === 'function';
  const { phantom, damping } = b as { phantom?: unknown; damping?: unknown };
  return Number.isInteger(phantom) && (phantom as number) > 0 && (damping == null || (typeof damping === 'number' && damping > 0 && damping <= 1));
}

const EQUILIBRIUM_OPTIONS = defineOptions<EquilibriumOptions>(WHERE, {
  forward: opt.custom('a forward solver such as picard(), anderson() or broyden()', (v) => typeof (v as ForwardSolver | null)?.solve === 'function'),
  backward: opt.custom(
    "'implicit', { implicit: gmres() }, 'fixed-point', { phantom: k, damping: λ } (k a positive integer, λ in (0, 1]) or a rule such as neumannSeries({ terms })",
    isBackward,
  ),
  tol: opt.number({ min: 0 }),
  maxIter: opt.integer({ min: 1 }),
  linearTol: opt.number({ min: 0 }),
  linearMaxIter: opt.integer({ min: 1 }),
  backwardTol: opt.removed('linearTol'),
  backwardMaxIter: opt.removed('linearMaxIter'),
  stepSize: opt.number({ gt: 0 }, 'pass s < 2/L, e.g. 1/L'),
}, equilibrium);

/**
 * Equilibrium differentiation: find `x̂ = T(x̂; θ)` with a fixed-point solver, then
 * differentiate the fixed point implicitly.
 *
 * By the implicit function theorem `∂x̂/∂θ = (I − ∂ₓT)⁻¹ ∂_θT`, so
 * `∇F = ∇_θℓ + (∂_θT)ᵀ w` with `(I − ∂ₓT)ᵀ w = ∇ₓℓ(x̂)`. The adjoint system is solved
 * matrix-free with VJPs of T (GMRES by default, or the fixed-point iteration
 * `w ← (∂ₓT)ᵀw + ∇ₓℓ`), truncated to a Neumann series (`neumannSeries`), or replaced by a
 * phantom gradient (k damped unrolled steps).
 *
 * Energies `Φ(x; θ)` are handled through `T(x) = x − s∇ₓΦ(x; θ)` with `s = 1/L` (problem
 * `smoothness`) or `options.stepSize`. Then `(I − ∂ₓT)ᵀ = s∇²ₓₓΦ` and `∂_θT = −s∇²_{xθ}Φ`,
 * so the result equals the implicit (IFT) hypergradient for any s; the forward tolerance
 * is on ‖∇ₓΦ‖ (the solver stops when ‖T(x) − x‖ ≤ s·tol).
 *
 * Cost: forward, one map evaluation per iteration; backward, one VJP of T per linear
 * iteration (for energies one HVP each) plus one VJP in θ. The core driver (`defineStrategy`)
 * does the loss split, the result and its status.
 *
 * @param options - see {@link EquilibriumOptions}; defaults in {@link DEFAULT_EQUILIBRIUM_OPTIONS}.
 * @returns an {@link EquilibriumStrategy}.
 * @example
 * ```ts
 * const strategy = equilibrium({ forward: anderson({ memory: 5 }), backward: 'implicit', tol: 1e-6 });
 * const { grad, x, converged } = strategy.compute({ problem, theta, data, loss });
 * ```
 */
export function equilibrium(options: EquilibriumOptions = {}): EquilibriumStrategy {
  EQUILIBRIUM_OPTIONS.check(options);
  const D = DEFAULT_EQUILIBRIUM_OPTIONS;
  // The driver always provides solve and vjpSolution; DrivenStrategy types them as optional (Strategy's shape).
  return defineStrategy({
    name: WHERE,
    forward: fixedPointForward(WHERE, options.forward ?? anderson(), options.stepSize),
    rule: onMap(WHERE, ruleOf(options.backward ?? D.backward), options.stepSize),
    options: Object.freeze({ ...options }),
    // Set by the user on the strategy (beat a solver's own options) vs the exported defaults
    // (yield to an option set explicitly on the forward solver): core's precedence rule.
    defaults: { tol: options.tol, maxIter: options.maxIter, linearTol: options.linearTol, linearMaxIter: options.linearMaxIter },
    softDefaults: { tol: D.tol, maxIter: D.maxIter, linearTol: D.linearTol, linearMaxIter: D.linearMaxIter },
    kindHint: 'For a saddle point (defineSaddle) use piggyback() from @bilevel/piggyback.',
  }) as EquilibriumStrategy;
}
