/**
 * Constants of the a-posteriori hypergradient bound. All are Lipschitz constants or norms
 * on a neighbourhood of the computed `x` that contains the true `x̂` (a ball of radius ε).
 */
export interface BoundConstants {
  /** `L_ℓ`: Lipschitz constant of `x ↦ ∇ₓℓ(x, θ)`. */
  lossLipschitz?: number;
  /** Lipschitz constant of `x ↦ ∇_θℓ(x, θ)`; defaults to `lossLipschitz` (0 is right when ℓ does not depend on θ). */
  lossThetaLipschitz?: number;
  /** `L_H`: Lipschitz constant of `x ↦ ∇²ₓₓΦ(x; θ)` (0 for quadratic energies). */
  hessianLipschitz?: number;
  /** `L_B`: Lipschitz constant of `x ↦ ∇²_{xθ}Φ(x; θ)` (0 when Φ is quadratic in x). */
  mixedLipschitz?: number;
  /** `‖B‖`: a bound on the operator norm of `∇²_{xθ}Φ(x; θ)` at the computed x. */
  mixedNorm?: number;
}

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
  /** ‖∇ₓℓ(x)‖ at the computed x (for the value bound). */
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
 * A-posteriori bound on the error of an implicit (IFT) hypergradient computed from an
 * inexact lower-level solution and an inexact adjoint (Ehrhardt & Roberts 2024, the
 * "unified inexact framework": ‖h_{ε,δ} − ∇F‖ = O(ε + δ + ε² + εδ) with computable constants).
 *
 * With `x` the computed point, `‖x − x̂‖ ≤ ε`, `A = ∇²ₓₓΦ(x)`, `B = ∇²_{xθ}Φ(x)`,
 * `q` the computed adjoint with `‖Aq − ∇ₓℓ(x)‖ ≤ δ` and `h = ∇_θℓ(x) − Bᵀq`:
 *
 * `A(x̂)(q − q*) = (A(x̂) − A)q + (∇ₓℓ(x) − ∇ₓℓ(x̂)) + (Aq − ∇ₓℓ(x))` gives
 * `‖q − q*‖ ≤ (L_H ε‖q‖ + L_ℓ ε + δ)/μ`, and then
 *
 * `‖h − ∇F(θ)‖ ≤ L_{ℓθ} ε + L_B ε ‖q‖ + (‖B‖ + L_B ε)(L_H ε ‖q‖ + L_ℓ ε + δ)/μ`.
 *
 * The value bound is the descent-lemma bound `|ℓ(x) − ℓ(x̂)| ≤ ‖∇ₓℓ(x)‖ε + L_ℓ ε²/2`.
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
  const { epsilon: e, delta: d, mu, adjointNorm: qn, lossGradNorm, constants: c } = inputs;
  const missing: string[] = [];
  for (const k of ['lossLipschitz', 'hessianLipschitz', 'mixedLipschitz', 'mixedNorm'] as const) {
    const v = c[k];
    if (v == null) missing.push(k);
    else if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new Error(`implicitErrorBound: constant '${k}' must be a finite number ≥ 0, got ${String(v)}.`);
    }
  }
  const valueBound = c.lossLipschitz == null ? undefined : lossGradNorm * e + (c.lossLipschitz * e * e) / 2;
  if (missing.length > 0 || !(mu > 0)) return { valueBound, missing: mu > 0 ? missing : [...missing, 'mu'] };
  const lossL = c.lossLipschitz!;
  const lossThetaL = c.lossThetaLipschitz ?? lossL;
  const hessL = c.hessianLipschitz!;
  const mixedL = c.mixedLipschitz!;
  const mixedN = c.mixedNorm!;
  const adjointError = (hessL * e * qn + lossL * e + d) / mu;
  const bound = lossThetaL * e + mixedL * e * qn + (mixedN + mixedL * e) * adjointError;
  return { bound, valueBound, missing };
}
