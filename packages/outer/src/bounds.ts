/**
 * A-posteriori error bounds for inexact implicit hypergradients.
 *
 * Setting (Ehrhardt & Roberts, "Analyzing inexact hypergradients for bilevel learning",
 * IMA J. Appl. Math. 2024; the "unified inexact framework" of seed 002, used by MAID in
 * seeds 001/003): the lower level Φ(·; θ) is μ-strongly convex and the hypergradient
 * estimate is computed as
 *
 * 1. x̃ with ‖x̃ − x̂(θ)‖ ≤ ε (certified by ε = ‖∇ₓΦ(x̃)‖/μ),
 * 2. q̃ with ‖∇²ₓₓΦ(x̃) q̃ − ∇ₓℓ(x̃)‖ ≤ δ (any linear solver, e.g. CG),
 * 3. h = ∇_θℓ(x̃) − ∇²_{xθ}Φ(x̃)ᵀ q̃.
 *
 * Then ‖h − ∇F(θ)‖ = O(ε + δ + ε² + εδ) with computable constants (seed 002, Theorem of
 * Ehrhardt & Roberts 2024). The same structure appears for the piggyback (saddle-point)
 * case in seed 001, Theorem 2, eqs. (16)–(17).
 *
 * @packageDocumentation
 */
import { checkNonNegative } from '@bilevel/core';

/**
 * The constants of the bound. Names follow seed 001's notation L_{∇f}, L_{∇²f}.
 *
 * Which ones are exact and which are usually estimates:
 * - `mu` (μ, strong convexity of Φ in x): often exact (e.g. the ridge ξ, or 1 for a
 *   ½‖x − y‖² data term plus a convex regulariser); otherwise a heuristic lower bound.
 * - `lossLipschitz` (L_{∇ℓ}, Lipschitz constant of ∇ₓℓ in x): exact for quadratic losses
 *   (2/n for the mean squared error, ‖A₁‖² for ½‖A₁x − b₁‖²).
 * - `hessianLipschitz` (L_H, Lipschitz constant of x ↦ ∇²ₓₓΦ(x; θ)): 0 for quadratic energies;
 *   for smoothed TV / Field-of-Experts energies a HEURISTIC estimate (finite differences of
 *   Hessian-vector products, as in the MAID reference code).
 * - `mixedLipschitz` (L_J, Lipschitz constant of x ↦ ∇²_{xθ}Φ(x; θ)): 0 when θ enters Φ
 *   only through a term linear in x; otherwise usually a HEURISTIC estimate.
 * - `mixedNorm` (B_J ≥ ‖∇²_{xθ}Φ(x̃; θ)‖): exact for simple models, else a HEURISTIC
 *   (a few power iterations on v ↦ ∇²_{xθ}Φᵀ∇²_{xθ}Φ v).
 * - `lossThetaLipschitz` (L_θ, Lipschitz constant of x ↦ ∇_θℓ(x, θ)): 0 when the upper-level
 *   loss does not depend on θ directly (the usual case).
 */
export interface BoundConstants {
  /** μ > 0: strong-convexity modulus of Φ(·; θ). */
  mu: number;
  /** L_{∇ℓ}: Lipschitz constant of ∇ₓℓ. */
  lossLipschitz: number;
  /** L_H: Lipschitz constant of ∇²ₓₓΦ in x (0 for quadratic Φ). Default 0. */
  hessianLipschitz?: number;
  /** L_J: Lipschitz constant of ∇²_{xθ}Φ in x. Default 0. */
  mixedLipschitz?: number;
  /** B_J: bound on ‖∇²_{xθ}Φ(x̃; θ)‖ (operator 2-norm). */
  mixedNorm: number;
  /** L_θ: Lipschitz constant of ∇_θℓ in x. Default 0. */
  lossThetaLipschitz?: number;
}

/** Measured quantities at (x̃, q̃) that enter the bound. */
export interface BoundInputs {
  /** ε ≥ ‖x̃ − x̂‖ (use the achieved ‖∇ₓΦ(x̃)‖/μ, not only the requested tolerance). */
  eps: number;
  /** δ ≥ ‖∇²ₓₓΦ(x̃) q̃ − ∇ₓℓ(x̃)‖ (the achieved adjoint residual). */
  delta: number;
  /** ‖q̃‖ if known (a-posteriori form); else `lossGradNorm` must be given. */
  adjointNorm?: number;
  /** ‖∇ₓℓ(x̃)‖: used for the a-priori bound on ‖q̃‖ when `adjointNorm` is absent. */
  lossGradNorm?: number;
}

function validateConstants(where: string, c: BoundConstants): Required<BoundConstants> {
  if (c == null || typeof c !== 'object') throw new Error(`${where}: 'constants' must be a BoundConstants object ({ mu, lossLipschitz, mixedNorm, ... }).`);
  checkNonNegative(where, 'constants.mu', c.mu, true);
  checkNonNegative(where, 'constants.lossLipschitz', c.lossLipschitz);
  checkNonNegative(where, 'constants.mixedNorm', c.mixedNorm);
  const full: Required<BoundConstants> = {
    mu: c.mu,
    lossLipschitz: c.lossLipschitz,
    mixedNorm: c.mixedNorm,
    hessianLipschitz: c.hessianLipschitz ?? 0,
    mixedLipschitz: c.mixedLipschitz ?? 0,
    lossThetaLipschitz: c.lossThetaLipschitz ?? 0,
  };
  checkNonNegative(where, 'constants.hessianLipschitz', full.hessianLipschitz);
  checkNonNegative(where, 'constants.mixedLipschitz', full.mixedLipschitz);
  checkNonNegative(where, 'constants.lossThetaLipschitz', full.lossThetaLipschitz);
  return full;
}

/**
 * Certified distance to the lower-level solution from the inner residual: for μ-strongly
 * convex Φ, ‖x̃ − x̂‖ ≤ ‖∇ₓΦ(x̃)‖/μ.
 *
 * @param residual - ‖∇ₓΦ(x̃; θ)‖.
 * @param mu - strong-convexity modulus μ > 0.
 * @returns ε = residual/μ.
 * @example
 * ```ts
 * distanceBound(1e-3, 0.5); // 2e-3
 * ```
 */
export function distanceBound(residual: number, mu: number): number {
  checkNonNegative('distanceBound', 'residual', residual);
  checkNonNegative('distanceBound', 'mu', mu, true);
  return residual / mu;
}

/**
 * Error of the adjoint: with q* = ∇²ₓₓΦ(x̂)⁻¹∇ₓℓ(x̂) the exact adjoint,
 *
 *   ‖q̃ − q*‖ ≤ e_q := (δ + (L_{∇ℓ} + L_H‖q̃‖) ε) / μ,
 *
 * because ∇²ₓₓΦ(x̂)(q̃ − q*) = r + (∇²ₓₓΦ(x̂) − ∇²ₓₓΦ(x̃)) q̃ + ∇ₓℓ(x̃) − ∇ₓℓ(x̂) with
 * ‖r‖ ≤ δ, and ‖∇²ₓₓΦ(x̂)⁻¹‖ ≤ 1/μ (Ehrhardt & Roberts 2024; the same step is eq. (20)–(24)
 * of seed 001 for the piggyback adjoint).
 *
 * @param constants - μ, L_{∇ℓ}, L_H (others ignored).
 * @param eps - ε ≥ ‖x̃ − x̂‖.
 * @param delta - δ ≥ adjoint residual.
 * @param adjointNorm - ‖q̃‖.
 * @returns e_q.
 * @example
 * ```ts
 * adjointErrorBound({ mu: 1, lossLipschitz: 2, mixedNorm: 1 }, 1e-3, 1e-3, 5); // 3e-3
 * ```
 */
export function adjointErrorBound(constants: BoundConstants, eps: number, delta: number, adjointNorm: number): number {
  const c = validateConstants('adjointErrorBound', constants);
  checkNonNegative('adjointErrorBound', 'eps', eps);
  checkNonNegative('adjointErrorBound', 'delta', delta);
  checkNonNegative('adjointErrorBound', 'adjointNorm', adjointNorm);
  return (delta + (c.lossLipschitz + c.hessianLipschitz * adjointNorm) * eps) / c.mu;
}

/**
 * A-posteriori bound on the hypergradient error (Ehrhardt & Roberts 2024, as used by MAID):
 *
 *   ‖h − ∇F(θ)‖ ≤ B_J e_q + L_J ε (‖q̃‖ + e_q) + L_θ ε,
 *   e_q = (δ + (L_{∇ℓ} + L_H ‖q̃‖) ε) / μ,
 *
 * from h − ∇F = [∇_θℓ(x̃) − ∇_θℓ(x̂)] − ∇²_{xθ}Φ(x̃)ᵀ(q̃ − q*) − (∇²_{xθ}Φ(x̃) − ∇²_{xθ}Φ(x̂))ᵀ q*
 * and ‖q*‖ ≤ ‖q̃‖ + e_q. Expanded, this is
 *
 *   (B_J L_{∇ℓ}/μ + B_J L_H ‖q̃‖/μ + L_J ‖q̃‖ + L_θ) ε + (B_J/μ) δ
 *     + (L_J (L_{∇ℓ} + L_H‖q̃‖)/μ) ε² + (L_J/μ) εδ,
 *
 * i.e. O(ε + δ + ε² + εδ) as stated in seed 002. When ‖q̃‖ is not available it is replaced
 * by the a-priori bound ‖q̃‖ ≤ (‖∇ₓℓ(x̃)‖ + δ)/μ (from ∇²ₓₓΦ ⪰ μI), which is what gives the
 * ε² and εδ terms of the a-priori form (cf. the MAID reference code,
 * `c·ε + (B_J/μ)δ + (L_J/μ)ε²`).
 *
 * For a quadratic lower level (L_H = L_J = 0) and ℓ independent of θ this reduces to
 * (B_J/μ)(δ + L_{∇ℓ} ε).
 *
 * @param constants - the {@link BoundConstants}.
 * @param inputs - ε, δ and ‖q̃‖ (or ‖∇ₓℓ(x̃)‖).
 * @returns an upper bound on ‖h − ∇F(θ)‖.
 * @example
 * ```ts
 * const bound = hypergradientBound(
 *   { mu: 0.5, lossLipschitz: 1, mixedNorm: 2 },
 *   { eps: 1e-3, delta: 1e-3, adjointNorm: 3 },
 * ); // (2/0.5)·(1e-3 + 1·1e-3) = 8e-3
 * ```
 */
export function hypergradientBound(constants: BoundConstants, inputs: BoundInputs): number {
  const c = validateConstants('hypergradientBound', constants);
  if (inputs == null || typeof inputs !== 'object') throw new Error("hypergradientBound: 'inputs' must be { eps, delta, adjointNorm | lossGradNorm }.");
  checkNonNegative('hypergradientBound', 'inputs.eps', inputs.eps);
  checkNonNegative('hypergradientBound', 'inputs.delta', inputs.delta);
  let qNorm = inputs.adjointNorm;
  if (qNorm == null) {
    if (inputs.lossGradNorm == null) {
      throw new Error("hypergradientBound: give 'inputs.adjointNorm' (‖q̃‖, a-posteriori) or 'inputs.lossGradNorm' (‖∇ₓℓ(x̃)‖, a-priori).");
    }
    checkNonNegative('hypergradientBound', 'inputs.lossGradNorm', inputs.lossGradNorm);
    qNorm = (inputs.lossGradNorm + inputs.delta) / c.mu;
  }
  checkNonNegative('hypergradientBound', 'inputs.adjointNorm', qNorm);
  const { eps, delta } = inputs;
  const eq = (delta + (c.lossLipschitz + c.hessianLipschitz * qNorm) * eps) / c.mu;
  return c.mixedNorm * eq + c.mixedLipschitz * eps * (qNorm + eq) + c.lossThetaLipschitz * eps;
}

/**
 * Bound on the error of the inexact upper-level value (seed 003: Δ = ‖∇g‖ε + Lε²/2):
 *
 *   |ℓ(x̃) − ℓ(x̂)| ≤ ‖∇ₓℓ(x̃)‖ ε + L_{∇ℓ} ε² / 2,
 *
 * by Taylor's theorem for L_{∇ℓ}-smooth ℓ and ‖x̃ − x̂‖ ≤ ε. MAID's inexact sufficient
 * decrease test adds this Δ at both points of the line search.
 *
 * @param lossGradNorm - ‖∇ₓℓ(x̃)‖.
 * @param eps - ε ≥ ‖x̃ − x̂‖.
 * @param lossLipschitz - L_{∇ℓ}.
 * @returns Δ.
 * @example
 * ```ts
 * valueBound(2, 1e-2, 4); // 2·0.01 + 4·1e-4/2 = 0.0202
 * ```
 */
export function valueBound(lossGradNorm: number, eps: number, lossLipschitz: number): number {
  checkNonNegative('valueBound', 'lossGradNorm', lossGradNorm);
  checkNonNegative('valueBound', 'eps', eps);
  checkNonNegative('valueBound', 'lossLipschitz', lossLipschitz);
  return lossGradNorm * eps + 0.5 * lossLipschitz * eps * eps;
}
