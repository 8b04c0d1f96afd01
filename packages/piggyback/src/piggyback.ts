import { defineStrategy, defineOptions, opt } from '@bilevel/core';
import type { Data, DrivenStrategy, SolveRequest, SolveResult, SolutionVjpRequest, SolutionVjpResult } from '@bilevel/core';
import { pdhgForward } from './forward.js';
import { piggybackRule } from './rule.js';
import { SaddleWarmStart } from './internal/warm.js';

/** Options of {@link piggyback}. */
export interface PiggybackOptions {
  /** Forward tolerance on the primal–dual residual ‖(r_p, r_d)‖ (absolute). */
  tol?: number;
  /** Forward (PDHG) iteration cap. */
  maxIter?: number;
  /** Adjoint tolerance on ‖λ_{k+1} − λ_k‖ (absolute). */
  linearTol?: number;
  /** Adjoint (piggyback) iteration cap. */
  linearMaxIter?: number;
  /** Ratio σ/τ of the PDHG steps (τ = s/(‖K‖√r), σ = s√r/‖K‖). */
  stepRatio?: number;
  /** s in the step sizes above; τσ‖K‖² = s² must stay < 1. */
  stepScale?: number;
  /**
   * Adapt σ/τ during the forward solve at fixed τσ, starting from `stepRatio` (or, with `warmStart`, the
   * ratio the last solve ended with): 'balance' is residual balancing (Goldstein, Li, Yuan, Esser &
   * Baraniuk 2015, "Adaptive primal-dual splitting methods for statistical learning and image processing",
   * Algorithm 1: α₀ = 0.5, η = 0.95, Δ = 1.5), moving τ/σ towards the larger of ‖r_p‖, ‖r_d‖; 'search' is a
   * contraction search (every 30 iterations the observed residual rate decides whether σ/τ keeps moving by
   * ×/÷ 4, turns, or refines, to ×/÷ 1.2, at most 30 moves). The adjoint uses the steps of the last PDHG step,
   * frozen, so it stays the exact transpose of one constant-step PDHG map and the certificate is unchanged.
   * Which one helps is problem-dependent (README, "Step sizes"). Default false (constant steps).
   * Acceleration sets the steps itself: `accelerate: true` with adaptiveSteps is refused, and
   * `accelerate: 'auto'` does not accelerate when adaptiveSteps is on.
   */
  adaptiveSteps?: false | 'balance' | 'search';
  /**
   * Accelerated forward PDHG (Chambolle–Pock Algorithm 2, τ_k → 0, σ_k → ∞): true, false (default),
   * or 'auto' (when μ_g > 0 is known). Certified: the adjoint then linearises the last accelerated step (its
   * τ_k, σ_k/ω_k and extrapolation ω_k), for which the certificate's identities hold unchanged (README, "Acceleration"). Off by default: in float32 the residual (x − x⁺)/τ_k then
   * carries round-off ε‖x‖/τ_k that grows with k (measured: stalls near 7e-3 on 8×8 TV), and with
   * μ_{f*} > 0 too, constant steps already converge linearly.
   */
  accelerate?: boolean | 'auto';
  /**
   * Diagonal preconditioning of Pock & Chambolle (2011), "Diagonal preconditioning for first order
   * primal-dual algorithms in convex optimization" (ICCV, Lemma 2): elementwise steps
   * T = (s/√r)·diag(1/Σ_i|K_ij|^{2−α}), Σ = s√r·diag(1/Σ_j|K_ij|^α), so ‖Σ^{1/2}KT^{1/2}‖² ≤ s² < 1 without ‖K‖.
   * 'diagonal': both sides (needs `defineSaddle`'s `absoluteSums`, `proxGDiagonal` and `proxFStarDiagonal`);
   * 'primal' / 'dual': that side diagonal, the other the scalar min of its diagonal (for a prox that takes
   * scalar steps only). `adaptiveSteps` then moves the ratio r on top of the diagonals. The adjoint runs at
   * the frozen diagonal steps of PDHG's last step (exact transpose) and the certificate is unchanged (its
   * residuals are step-free; derivation in `src/internal/adjoint.ts`). Not with `accelerate: true`.
   * Default false.
   */
  precondition?: false | 'diagonal' | 'primal' | 'dual';
  /** α ∈ [0, 2] of `precondition` (Pock & Chambolle's α; 1 by default, their choice in the experiments). */
  preconditionAlpha?: number;
  /** Power iterations for ‖K‖ when the problem gives no `operatorNorm`. */
  normIterations?: number;
  /** Factor applied to the power-iteration estimate (which approaches ‖K‖ from below). */
  normMargin?: number;
  /** Reuse the last (x, z) and adjoint state as starting points when shapes match. */
  warmStart?: boolean;
  /**
   * L₁, the Lipschitz constant of ∇ₓℓ (1 for ½‖x − t‖²). With the constants `defineSaddle`
   * declares (μ_g, μ_{f*}, hessianLipschitz, dualHessianLipschitz, operatorDerivativeNorm) it turns
   * on the certified hypergradient: `bound` ≥ ‖grad − ∇F(θ)‖ and `valueBound` ≥ |value − F(θ)|
   * (see `saddleHypergradientBound`). null (default): no bound.
   */
  lossLipschitz?: number | null;
  /**
   * With per-entry strong-convexity weights (`defineSaddle`'s `strongConvexityWeights`): the smallest
   * weight among the entries the loss reads (e.g. 1 for the image channel of u = (x, q) when q has
   * weight ε_q), so that L₁ counts as L₁/lossWeight in the weighted metric. null (default): the
   * smallest weight of all.
   */
  lossWeight?: number | null;
  /**
   * What `bound` / `valueBound` report (and MAID is driven by): 'certified' (default) the bound of
   * Theorem 2 in joint form; 'estimated' the smaller of it and `estimatedSaddleBound`, whose
   * distances come from the contraction rate PDHG and the adjoint are observed to have (labelled
   * "estimated (not certified)" in the message). 'estimated' makes both loops take at least
   * `estimateSteps` iterations, so that a rate can be measured.
   */
  certificate?: 'certified' | 'estimated';
  /** Minimum PDHG and adjoint iterations with `certificate: 'estimated'`. */
  estimateSteps?: number;
}

/** Exported defaults of {@link piggyback}. */
export const DEFAULT_PIGGYBACK_OPTIONS = Object.freeze({
  tol: 1e-4,
  maxIter: 5000,
  linearTol: 1e-5,
  linearMaxIter: 5000,
  stepRatio: 1,
  stepScale: 0.95,
  adaptiveSteps: false as false | 'balance' | 'search',
  accelerate: false as boolean | 'auto',
  precondition: false as false | 'diagonal' | 'primal' | 'dual',
  preconditionAlpha: 1,
  normIterations: 50,
  normMargin: 1.05,
  warmStart: true,
  lossLipschitz: null as number | null,
  lossWeight: null as number | null,
  certificate: 'certified' as 'certified' | 'estimated',
  estimateSteps: 6,
});

const PIGGYBACK_OPTIONS = defineOptions<PiggybackOptions>('piggyback', {
  tol: opt.number({ gt: 0 }),
  maxIter: opt.integer({ min: 1 }),
  linearTol: opt.number({ gt: 0 }),
  linearMaxIter: opt.integer({ min: 1 }),
  stepRatio: opt.number({ gt: 0 }),
  stepScale: opt.number({ gt: 0, lt: 1 }, 'keep s < 1 so that τσ‖K‖² = s² < 1'),
  adaptiveSteps: opt.oneOf([false, 'balance', 'search']),
  accelerate: opt.oneOf(['auto', true, false]),
  precondition: opt.oneOf([false, 'diagonal', 'primal', 'dual']),
  preconditionAlpha: opt.number({ min: 0, max: 2 }, "Pock & Chambolle's α lies in [0, 2]"),
  normIterations: opt.integer({ min: 1 }),
  normMargin: opt.number({ min: 1 }, 'use a factor ≥ 1: power iteration approaches ‖K‖ from below'),
  warmStart: opt.boolean(),
  lossLipschitz: opt.nullable(opt.number({ min: 0 })),
  lossWeight: opt.nullable(opt.number({ gt: 0 })),
  certificate: opt.oneOf(['certified', 'estimated']),
  estimateSteps: opt.integer({ min: 3 }),
}, piggyback);

/** The piggyback strategy: the core driver on a PDHG forward solve and the piggyback adjoint rule, with warm-start state. */
export interface PiggybackStrategy extends DrivenStrategy<Readonly<Required<PiggybackOptions>>> {
  solve<D = Data>(request: SolveRequest<D>): SolveResult;
  vjpSolution<D = Data>(request: SolutionVjpRequest<D>): SolutionVjpResult;
}

/**
 * Piggyback differentiation of a saddle-point lower level (Griewank–Faure; Bogensperger,
 * Ehrhardt, Pock, Salehi & Wong, inexact piggyback hypergradients, Algorithm 1).
 *
 * For `min_x max_z ⟨K(θ)x, z⟩ + g(x; θ) − f*(z; θ)` from `defineSaddle`, it runs PDHG to an
 * approximate saddle point `u = (x, z)` (optionally accelerated, given μ_g), then the adjoint of
 * one PDHG step `T` at u, `λ ← (∂_u T)ᵀλ + (∇ₓℓ, 0)`, which is PDHG on the adjoint saddle-point
 * problem, and returns `∇F(θ) = ∇_θℓ + (∂_θ T)ᵀλ`. θ may sit in K (a learned discretisation),
 * in g or in f*; the prox Jacobians come from tfjs autodiff. Work: PDHG iterations are inner
 * iterations, adjoint iterations are linear iterations.
 *
 * **Certified mode** (Theorem 2 of Bogensperger et al., in the joint form of
 * `saddleHypergradientBound`): when `defineSaddle` declares μ_g, μ_{f*}, `hessianLipschitz`,
 * `dualHessianLipschitz` and `operatorDerivativeNorm` (θ then enters K only) and `lossLipschitz`
 * is given, the adjoint is linearised at the PDHG step that produced (x̃, ỹ), the result is
 * z = ∇_θ[⟨K(θ)X̃, ỹ⟩ + ⟨K(θ)x̃, Ỹ⟩] (eq. (15)), and `bound` ≥ ‖z − ∇F(θ)‖, `valueBound` ≥
 * |ℓ(x̃) − ℓ(x̂)|. Otherwise `bound` is undefined and the message says which constant is missing;
 * with μ_g and μ_{f*} it still reports `‖(x, z) − (x̂, ẑ)‖ ≤ ‖(r_p, r_d)‖ / min(μ_g, μ_{f*})`.
 *
 * @param options - tolerances, iteration caps, step sizes, acceleration, warm starts.
 * @returns a {@link PiggybackStrategy}.
 * @example
 * ```ts
 * import { hypergradient, defineSaddle } from '@bilevel/core';
 * import { piggyback } from '@bilevel/piggyback';
 * const r = hypergradient({ problem: saddle, theta, data, loss, strategy: piggyback({ tol: 1e-4, linearTol: 1e-5 }) });
 * console.log(r.grad, r.work.innerIterations, r.work.linearIterations, r.message);
 * r.dispose();
 * ```
 */
export function piggyback(options: PiggybackOptions = {}): PiggybackStrategy {
  const where = 'piggyback';
  const opts = Object.freeze(PIGGYBACK_OPTIONS.withDefaults(options, DEFAULT_PIGGYBACK_OPTIONS)) as Required<PiggybackOptions>;
  if (opts.accelerate === true && opts.adaptiveSteps !== false) {
    throw new Error(`${where}: options 'accelerate: true' and 'adaptiveSteps: '${opts.adaptiveSteps}'' exclude each other (acceleration sets τ_k, σ_k itself); drop one of them.`);
  }
  if (opts.accelerate === true && opts.precondition !== false) {
    throw new Error(`${where}: options 'accelerate: true' and 'precondition: '${opts.precondition}'' exclude each other (Chambolle–Pock Algorithm 2 is analysed for scalar steps); drop one of them.`);
  }
  // Warm start of the pair (x, z) and of λ: the strategy's own, since the driver keeps x only.
  const warm = new SaddleWarmStart();
  const forward = pdhgForward(opts, warm);
  return defineStrategy({
    name: where,
    forward,
    rule: piggybackRule(forward, warm, opts),
    options: opts,
    defaults: { tol: opts.tol, maxIter: opts.maxIter, linearTol: opts.linearTol, linearMaxIter: opts.linearMaxIter },
    kindHint: 'For energies and fixed points use implicit(...), equilibrium(...) or jacobianFree(...).',
    reset: () => warm.clear(),
  }) as PiggybackStrategy;
}
