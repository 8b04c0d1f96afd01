/**
 * A-posteriori error bounds for inexact implicit (IFT) hypergradients — the one
 * implementation in the monorepo (`@bilevel/outer` re-exports it as `hypergradientBound`,
 * `BoundConstants`, …).
 *
 * Setting (Ehrhardt & Roberts, "Analyzing inexact hypergradients for bilevel learning",
 * IMA J. Appl. Math. 2024, the "unified inexact framework"; used by MAID in Salehi et al. 2025
 * and Bogensperger et al. 2024): the lower level Φ(·; θ) is μ-strongly convex, x̂ = argmin Φ(·; θ),
 * A(x) = ∇²ₓₓΦ(x; θ), B(x) = ∇²_{xθ}Φ(x; θ), q* = A(x̂)⁻¹∇ₓℓ(x̂) and
 * ∇F(θ) = ∇_θℓ(x̂) − B(x̂)ᵀq*. The estimate is computed as
 *
 * 1. x̃ with ‖x̃ − x̂‖ ≤ ε (certified by ε = ‖∇ₓΦ(x̃)‖/μ, {@link distanceBound}),
 * 2. q̃ with ‖A(x̃) q̃ − ∇ₓℓ(x̃)‖ ≤ δ (any linear solver),
 * 3. h = ∇_θℓ(x̃) − B(x̃)ᵀ q̃.
 *
 * Then ‖h − ∇F(θ)‖ = O(ε + δ + ε² + εδ) with computable constants ({@link hypergradientBound}).
 *
 * @packageDocumentation
 */
import { checkNonNegative, checkOptions, opt } from '@bilevel/core';

/**
 * The constants of the bound (names follow Bogensperger et al. 2024's L_{∇f}, L_{∇²f}). All are Lipschitz
 * constants or norms on a ball of radius ε around the computed x̃ (which contains x̂).
 *
 * Which ones are exact and which are usually estimates:
 * - `mu` (μ, strong convexity of Φ in x): often exact (e.g. the ridge ξ, or 1 for a
 *   ½‖x − y‖² data term plus a convex regulariser); otherwise a heuristic lower bound.
 * - `lossLipschitz` (L_{∇ℓ}, Lipschitz constant of x ↦ ∇ₓℓ(x, θ)): exact for quadratic losses
 *   (2/n for the mean squared error, ‖A₁‖² for ½‖A₁x − b₁‖²).
 * - `hessianLipschitz` (L_H, Lipschitz constant of x ↦ ∇²ₓₓΦ(x; θ)): 0 for quadratic energies;
 *   for smoothed TV / Field-of-Experts energies a HEURISTIC estimate (finite differences of
 *   Hessian-vector products, as in the MAID reference code).
 * - `mixedLipschitz` (L_J, Lipschitz constant of x ↦ ∇²_{xθ}Φ(x; θ)): 0 when θ enters Φ
 *   only through a term linear in x; otherwise usually a HEURISTIC estimate.
 * - `mixedNorm` (B_J ≥ ‖∇²_{xθ}Φ(x̃; θ)‖ at the computed x̃): exact for simple models, else a
 *   HEURISTIC (a few power iterations on v ↦ ∇²_{xθ}Φᵀ∇²_{xθ}Φ v).
 * - `lossThetaLipschitz` (L_θ, Lipschitz constant of x ↦ ∇_θℓ(x, θ)): 0 when the upper-level
 *   loss does not depend on θ directly (the usual case, and the default). When ℓ does
 *   depend on θ it must be given: no other constant bounds it.
 */
export interface HypergradientBoundConstants {
  /** μ > 0: strong-convexity modulus of Φ(·; θ). */
  mu: number;
  /** L_{∇ℓ}: Lipschitz constant of ∇ₓℓ in x. */
  lossLipschitz: number;
  /** L_H: Lipschitz constant of ∇²ₓₓΦ in x (0 for quadratic Φ). Default 0. */
  hessianLipschitz?: number;
  /** L_J: Lipschitz constant of ∇²_{xθ}Φ in x. Default 0. */
  mixedLipschitz?: number;
  /** B_J: bound on ‖∇²_{xθ}Φ(x̃; θ)‖ (operator 2-norm). */
  mixedNorm: number;
  /** L_θ: Lipschitz constant of ∇_θℓ in x. Default 0 (ℓ independent of θ). */
  lossThetaLipschitz?: number;
}

/** Measured quantities at (x̃, q̃) that enter {@link hypergradientBound}. */
export interface HypergradientBoundInputs {
  /** ε ≥ ‖x̃ − x̂‖ (use the achieved ‖∇ₓΦ(x̃)‖/μ, not only the requested tolerance). */
  eps: number;
  /** δ ≥ ‖∇²ₓₓΦ(x̃) q̃ − ∇ₓℓ(x̃)‖ (the achieved adjoint residual). */
  delta: number;
  /** ‖q̃‖ if known (a-posteriori form); else `lossGradNorm` must be given. */
  adjointNorm?: number;
  /** ‖∇ₓℓ(x̃)‖: gives the a-priori ‖q̃‖ ≤ (‖∇ₓℓ(x̃)‖ + δ)/μ and ‖q*‖ ≤ (‖∇ₓℓ(x̃)‖ + L_{∇ℓ}ε)/μ. */
  lossGradNorm?: number;
}

/** Keys of the bound constants (values are checked below, with the bound's own messages). */
export const CONSTANTS_SCHEMA = { lossLipschitz: opt.any(), mixedNorm: opt.any(), hessianLipschitz: opt.any(), mixedLipschitz: opt.any(), lossThetaLipschitz: opt.any() };
const measured = opt.custom('a number', (v) => typeof v === 'number');
const INPUTS_SCHEMA = {
  epsilon: measured, delta: measured, mu: measured, adjointNorm: measured, lossGradNorm: measured,
  // a full HypergradientBoundConstants (with mu) is accepted too; the top-level mu is used
  constants: opt.object({ mu: opt.any(), ...CONSTANTS_SCHEMA }),
};

function validateConstants(where: string, c: HypergradientBoundConstants): Required<HypergradientBoundConstants> {
  if (c == null || typeof c !== 'object') throw new Error(`${where}: 'constants' must be a BoundConstants object ({ mu, lossLipschitz, mixedNorm, ... }).`);
  checkOptions(where, c, { mu: opt.any(), ...CONSTANTS_SCHEMA }, 'constants.');
  checkNonNegative(where, 'constants.mu', c.mu, true);
  checkNonNegative(where, 'constants.lossLipschitz', c.lossLipschitz);
  checkNonNegative(where, 'constants.mixedNorm', c.mixedNorm);
  const full: Required<HypergradientBoundConstants> = {
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
 * because A(x̂)(q̃ − q*) = r + (A(x̂) − A(x̃)) q̃ + ∇ₓℓ(x̃) − ∇ₓℓ(x̂) with r = A(x̃)q̃ − ∇ₓℓ(x̃),
 * ‖r‖ ≤ δ, and ‖A(x̂)⁻¹‖ ≤ 1/μ (Ehrhardt & Roberts 2024; the same step is eqs. (20)–(24) of
 * Bogensperger et al. 2024, Theorem 2, for the piggyback adjoint). {@link hypergradientBound} uses this with ‖q̃‖
 * replaced by min(‖q̃‖, ‖q*‖-bound) when ‖∇ₓℓ(x̃)‖ is known (see there).
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
export function adjointErrorBound(constants: HypergradientBoundConstants, eps: number, delta: number, adjointNorm: number): number {
  const c = validateConstants('adjointErrorBound', constants);
  checkNonNegative('adjointErrorBound', 'eps', eps);
  checkNonNegative('adjointErrorBound', 'delta', delta);
  checkNonNegative('adjointErrorBound', 'adjointNorm', adjointNorm);
  return (delta + (c.lossLipschitz + c.hessianLipschitz * adjointNorm) * eps) / c.mu;
}

/**
 * A-posteriori bound on the hypergradient error (Ehrhardt & Roberts 2024, as used by MAID):
 *
 *   ‖h − ∇F(θ)‖ ≤ L_θ ε + B_J e_q + L_J ε Q*,
 *   e_q = (δ + (L_{∇ℓ} + L_H Q) ε) / μ ≥ ‖q̃ − q*‖,
 *
 * with Q ≥ min(‖q̃‖, ‖q*‖) and Q* ≥ ‖q*‖ as below.
 *
 * Derivation. From ∇F = ∇_θℓ(x̂) − B(x̂)ᵀq* and h = ∇_θℓ(x̃) − B(x̃)ᵀq̃,
 *
 *   h − ∇F = [∇_θℓ(x̃) − ∇_θℓ(x̂)] − B(x̃)ᵀ(q̃ − q*) − (B(x̃) − B(x̂))ᵀ q*,
 *
 * so ‖h − ∇F‖ ≤ L_θ ε + B_J ‖q̃ − q*‖ + L_J ε ‖q*‖ (B_J bounds ‖B(x̃)‖ at the computed point).
 * The adjoint error has two valid forms:
 * - A(x̂)(q̃ − q*) = r + (A(x̂) − A(x̃))q̃ + ∇ₓℓ(x̃) − ∇ₓℓ(x̂) gives (δ + (L_{∇ℓ} + L_H‖q̃‖)ε)/μ;
 * - A(x̃)(q̃ − q*) = r + ∇ₓℓ(x̃) − ∇ₓℓ(x̂) − (A(x̃) − A(x̂))q* gives (δ + (L_{∇ℓ} + L_H‖q*‖)ε)/μ;
 *
 * (‖r‖ ≤ δ, ‖A(·)⁻¹‖ ≤ 1/μ on the ball), hence Q = min(‖q̃‖, ‖q*‖-bound). For ‖q*‖:
 * ‖q*‖ ≤ ‖q̃‖ + e_q, and ‖q*‖ ≤ ‖∇ₓℓ(x̂)‖/μ ≤ (‖∇ₓℓ(x̃)‖ + L_{∇ℓ}ε)/μ; Q* is the smaller
 * of those available. With only ‖q̃‖ known (Q = ‖q̃‖, Q* = ‖q̃‖ + e_q) the bound is
 *
 *   B_J e_q + L_J ε (‖q̃‖ + e_q) + L_θ ε
 *   = (B_J L_{∇ℓ}/μ + B_J L_H ‖q̃‖/μ + L_J ‖q̃‖ + L_θ) ε + (B_J/μ) δ
 *     + (L_J (L_{∇ℓ} + L_H‖q̃‖)/μ) ε² + (L_J/μ) εδ,
 *
 * i.e. O(ε + δ + ε² + εδ) as stated by Ehrhardt & Roberts 2024; it equals the grouping
 * L_θ ε + L_J ε‖q̃‖ + (B_J + L_J ε) e_q of the other split (B(x̂)ᵀ(q̃ − q*) + (B(x̃) − B(x̂))ᵀq̃).
 * When ‖q̃‖ is not available it is replaced by the a-priori ‖q̃‖ ≤ (‖∇ₓℓ(x̃)‖ + δ)/μ (from
 * ∇²ₓₓΦ ⪰ μI), cf. the MAID reference code `c·ε + (B_J/μ)δ + (L_J/μ)ε²`.
 *
 * For a quadratic lower level (L_H = L_J = 0) and ℓ independent of θ this reduces to
 * (B_J/μ)(δ + L_{∇ℓ} ε).
 *
 * @param constants - the {@link HypergradientBoundConstants} (`BoundConstants` in `@bilevel/outer`).
 * @param inputs - ε, δ and ‖q̃‖ and/or ‖∇ₓℓ(x̃)‖.
 * @returns an upper bound on ‖h − ∇F(θ)‖.
 * @example
 * ```ts
 * const bound = hypergradientBound(
 *   { mu: 0.5, lossLipschitz: 1, mixedNorm: 2 },
 *   { eps: 1e-3, delta: 1e-3, adjointNorm: 3 },
 * ); // (2/0.5)·(1e-3 + 1·1e-3) = 8e-3
 * ```
 */
export function hypergradientBound(constants: HypergradientBoundConstants, inputs: HypergradientBoundInputs): number {
  const c = validateConstants('hypergradientBound', constants);
  if (inputs == null || typeof inputs !== 'object') throw new Error("hypergradientBound: 'inputs' must be { eps, delta, adjointNorm | lossGradNorm }.");
  checkOptions('hypergradientBound', inputs, { eps: opt.any(), delta: opt.any(), adjointNorm: opt.any(), lossGradNorm: opt.any() }, 'inputs.');
  checkNonNegative('hypergradientBound', 'inputs.eps', inputs.eps);
  checkNonNegative('hypergradientBound', 'inputs.delta', inputs.delta);
  const { eps, delta, lossGradNorm } = inputs;
  if (inputs.adjointNorm == null && lossGradNorm == null) {
    throw new Error("hypergradientBound: give 'inputs.adjointNorm' (‖q̃‖, a-posteriori) or 'inputs.lossGradNorm' (‖∇ₓℓ(x̃)‖, a-priori).");
  }
  if (lossGradNorm != null) checkNonNegative('hypergradientBound', 'inputs.lossGradNorm', lossGradNorm);
  const qNorm = inputs.adjointNorm ?? (lossGradNorm! + delta) / c.mu;
  checkNonNegative('hypergradientBound', 'inputs.adjointNorm', qNorm);
  // ‖q*‖ ≤ ‖∇ₓℓ(x̂)‖/μ ≤ (‖∇ₓℓ(x̃)‖ + L_{∇ℓ}ε)/μ when ‖∇ₓℓ(x̃)‖ is known.
  const qStarDirect = lossGradNorm == null ? Infinity : (lossGradNorm + c.lossLipschitz * eps) / c.mu;
  const eq = (delta + (c.lossLipschitz + c.hessianLipschitz * Math.min(qNorm, qStarDirect)) * eps) / c.mu;
  const qStar = Math.min(qNorm + eq, qStarDirect);
  return c.mixedNorm * eq + c.mixedLipschitz * eps * qStar + c.lossThetaLipschitz * eps;
}

/**
 * Bound on the error of the inexact upper-level value (Salehi et al. 2025: Δ = ‖∇g‖ε + Lε²/2):
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

/**
 * Constants of the `constants` option of `implicit(...)`: the
 * {@link HypergradientBoundConstants} without μ (the problem's `strongConvexity` gives it),
 * all optional. `lossLipschitz`, `hessianLipschitz`, `mixedLipschitz` and `mixedNorm` must
 * all be given (0 where exact, e.g. L_H = L_J = 0 for quadratic energies) or the bound is
 * left undefined; `lossThetaLipschitz` defaults to 0 (ℓ independent of θ).
 */
export type BoundConstants = Partial<Omit<HypergradientBoundConstants, 'mu'>>;

/** What {@link implicitErrorBound} takes: the computable quantities of one hypergradient. */
export interface BoundInputs {
  /** ε ≥ ‖x − x̂‖, e.g. ‖∇ₓΦ(x)‖/μ. */
  epsilon: number;
  /** δ = ‖∇²ₓₓΦ(x) q − ∇ₓℓ(x)‖, the adjoint residual. */
  delta: number;
  /** Strong-convexity modulus μ of Φ in x. */
  mu: number;
  /** ‖q‖ of the computed adjoint. */
  adjointNorm: number;
  /** ‖∇ₓℓ(x)‖ at the computed x (for the value bound and ‖q*‖). */
  lossGradNorm: number;
  constants: BoundConstants;
}

/** The bounds, or the names of the constants that are missing. */
export interface BoundOutputs {
  /** Bound on ‖h − ∇F(θ)‖; undefined when a constant is missing. */
  bound?: number;
  /** Bound on |ℓ(x) − F(θ)|; undefined when `lossLipschitz` is missing. */
  valueBound?: number;
  /** Constants the bound needed and did not get. */
  missing: string[];
}

/**
 * The bound as the `implicit` strategy reports it: {@link hypergradientBound} (a-posteriori,
 * with both ‖q̃‖ and ‖∇ₓℓ(x̃)‖) and {@link valueBound}, except that a missing constant
 * leaves the bound undefined and is named in `missing` instead of defaulting to 0.
 *
 * @param inputs - ε, δ, μ, ‖q‖, ‖∇ₓℓ‖ and the constants.
 * @returns `{ bound, valueBound, missing }`.
 * @example
 * ```ts
 * const { bound } = implicitErrorBound({ epsilon: 1e-4, delta: 1e-5, mu: 0.5, adjointNorm: 2, lossGradNorm: 1,
 *   constants: { lossLipschitz: 1, hessianLipschitz: 0, mixedLipschitz: 0, mixedNorm: 3 } });
 * ```
 */
export function implicitErrorBound(inputs: BoundInputs): BoundOutputs {
  checkOptions('implicitErrorBound', inputs, INPUTS_SCHEMA);
  const { epsilon, delta, mu, adjointNorm, lossGradNorm, constants: c } = inputs;
  const missing: string[] = [];
  for (const k of ['lossLipschitz', 'hessianLipschitz', 'mixedLipschitz', 'mixedNorm', 'lossThetaLipschitz'] as const) {
    const v = c[k];
    if (v == null) {
      if (k !== 'lossThetaLipschitz') missing.push(k);
    } else if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new Error(`implicitErrorBound: constant '${k}' must be a finite number ≥ 0, got ${String(v)}.`);
    }
  }
  // A diverged solve (non-finite residual or norm) certifies nothing: Infinity (NaN for NaN), no throw.
  const broken = (measured: number[]): number | undefined =>
    measured.some((v) => Number.isNaN(v)) ? NaN : measured.some((v) => !(v >= 0 && v < Infinity)) ? Infinity : undefined;
  const vBroken = broken([epsilon, lossGradNorm]);
  const vBound = c.lossLipschitz == null ? undefined : (vBroken ?? valueBound(lossGradNorm, epsilon, c.lossLipschitz));
  if (missing.length > 0 || !(mu > 0)) return { valueBound: vBound, missing: mu > 0 ? missing : [...missing, 'mu'] };
  const bBroken = broken([epsilon, delta, adjointNorm, lossGradNorm]);
  if (bBroken !== undefined) return { bound: bBroken, valueBound: vBound, missing };
  const bound = hypergradientBound(
    {
      mu,
      lossLipschitz: c.lossLipschitz!,
      mixedNorm: c.mixedNorm!,
      hessianLipschitz: c.hessianLipschitz,
      mixedLipschitz: c.mixedLipschitz,
      lossThetaLipschitz: c.lossThetaLipschitz,
    },
    { eps: epsilon, delta, adjointNorm, lossGradNorm },
  );
  return { bound, valueBound: vBound, missing };
}
