/**
 * A-posteriori bounds on piggyback hypergradients (Bogensperger, Ehrhardt, Pock, Salehi & Wong,
 * "An adaptively inexact method for bilevel learning using primal-dual style differentiation",
 * arXiv preprint 2024: Lemmas 2–3 and Theorem 2). Pure functions of numbers; `certify.ts` feeds
 * them from PDHG's and the adjoint's residuals.
 *
 * @packageDocumentation
 */

/** Constants of {@link saddleHypergradientBound} (Assumptions 1–2 of Bogensperger et al.). */
export interface SaddleBoundConstants {
  /**
   * m > 0: the smallest strong-convexity weight. With scalar moduli m = min(μ_g, μ_{f*}); with
   * per-entry weights W (g − ½⟨W_x x, x⟩ and f* − ½⟨W_y y, y⟩ convex) m = min W.
   */
  weightFloor: number;
  /** Lipschitz constant of x ↦ ∇²g(x) (0 for a quadratic g). */
  hessianLipschitz: number;
  /** Lipschitz constant of y ↦ ∇²f*(y) (0 for a quadratic f*). */
  dualHessianLipschitz: number;
  /**
   * L₁ in the weighted metric: ‖∇ℓ(a) − ∇ℓ(b)‖_{W⁻¹} ≤ L ‖a − b‖_W. With scalar moduli it is
   * L₁/m (L₁ the plain Lipschitz constant of ∇ₓℓ); a loss reading only entries of weight ≥ w
   * has L₁/w, which is where per-entry weights pay off.
   */
  lossLipschitz: number;
  /** c_K = sup_{‖w‖=1} ‖∂_θK[w]‖ (1 when θ is K itself). */
  operatorDerivativeNorm: number;
  /** The smallest weight among the entries ℓ reads (`lossLipschitz` is L₁ over it); default `weightFloor`. Read by the estimated bound only. */
  lossWeight?: number;
}

/** Computed quantities {@link saddleHypergradientBound} reads. */
export interface SaddleBoundInputs {
  /** ‖(r_p, r_d)‖_{W⁻¹}, r_p ∈ ∂g(x̃) + Kᵀỹ, r_d ∈ ∂f*(ỹ) − Kx̃ (PDHG's residual at (x̃, ỹ)); ‖r‖/√m for scalar moduli. */
  forwardResidual: number;
  /** ‖M̄(X̃, Ỹ)‖_{W⁻¹}: residual of the adjoint saddle problem (ASI) at (X̃, Ỹ), linearised at (x̃, ỹ). */
  adjointResidual: number;
  /** ‖(x̃, ỹ)‖. */
  pointNorm: number;
  /** ‖X̃‖ and ‖Ỹ‖. */
  adjointPrimalNorm: number;
  adjointDualNorm: number;
  /** ‖∇ℓ₁(x̃)‖_{W⁻¹} (for the value bound). */
  lossGradNorm: number;
}

/** What {@link saddleHypergradientBound} returns. */
export interface SaddleBound {
  /** ε ≥ ‖(x̃, ỹ) − (x̂, ŷ)‖_W (strong-monotonicity form of Lemma 2). */
  eps: number;
  /** δ ≥ ‖(X̃, Ỹ) − (X̄, Ȳ)‖_W (same form of Lemma 3). */
  delta: number;
  /** ≥ ‖(X̃, Ỹ) − (X̂, Ŷ)‖_W (joint form of (13)–(14)). */
  adjointError: number;
  /** ≥ ‖z − ∇F(θ)‖ (joint form of (16)). */
  bound: number;
  /** ≥ |ℓ(x̃) − ℓ(x̂)|: ‖∇ℓ₁(x̃)‖_{W⁻¹}ε + Lε²/2. */
  valueBound: number;
}

/**
 * The piggyback hypergradient bound in **joint form**, as computed by `piggyback()`: Lemmas 2–3
 * and Theorem 2 of Bogensperger et al. (2024), with the primal and dual distances bounded together
 * by strong monotonicity of the saddle operators instead of separately by (6a/b), (9a/b), which
 * need ∇f, ∇g* and inverse Hessians that a problem given by prox maps does not have.
 *
 * With W the strong-convexity weights (scalars μ_g, μ_{f*} or per-entry), the saddle operator
 * M(x, y) = (∂g(x) + Kᵀy, ∂f*(y) − Kx) satisfies ⟨M(u) − M(û), u − û⟩ ≥ ‖u − û‖²_W (the K terms
 * cancel), so a residual r ∈ M(x̃, ỹ) gives `ε = ‖r‖_{W⁻¹} ≥ ‖(x̃, ỹ) − (x̂, ŷ)‖_W`. The same holds for
 * the adjoint saddle problems (AS), (ASI), whose operators `(∇²g X + KᵀY + ∇ℓ₁, ∇²f* Y − KX)` have
 * Hessians ⪰ W: `δ = ‖M̄(X̃, Ỹ)‖_{W⁻¹}`. Replacing (x̃, ỹ) by (x̂, ŷ) in M̄ moves it by at most
 * `(L + max(L_{∇²g}‖X̃‖, L_{∇²f*}‖Ỹ‖)/m) ε` in ‖·‖_{W⁻¹} (m = min W), so
 * `‖(X̃, Ỹ) − (X̂, Ŷ)‖_W ≤ e_A = δ + (L + max(L_{∇²g}‖X̃‖, L_{∇²f*}‖Ỹ‖)/m) ε` (the joint analogue of
 * (13)–(14), (17a–d)). Finally, for `z = ∇_θ[⟨K(θ)X̃, ỹ⟩ + ⟨K(θ)x̃, Ỹ⟩]` (= ỹ⊗X̃ + Ỹ⊗x̃ when θ = K,
 * eq. (15)), expanding the six rank-one differences, Cauchy–Schwarz and ‖·‖ ≤ ‖·‖_W/√m give the
 * analogue of (16):
 *
 * `‖z − ∇F(θ)‖ ≤ c_K (‖(x̃, ỹ)‖ e_A/√m + ε‖(X̃, Ỹ)‖/√m + ε e_A/m)`.
 *
 * With scalar moduli (W = m·I) this is `c_K(‖ũ‖ e/m + …)` with ε = ‖r‖/√m, i.e. distances ‖r‖/m.
 *
 * @param constants - m, Hessian-Lipschitz constants, the weighted L, c_K.
 * @param inputs - weighted residuals and plain norms at the computed points.
 * @returns ε, δ, the adjoint error, the hypergradient bound and the value bound.
 * @example
 * ```ts
 * const b = saddleHypergradientBound(
 *   { weightFloor: 1, hessianLipschitz: 0, dualHessianLipschitz: 0, lossLipschitz: 1, operatorDerivativeNorm: 1 },
 *   { forwardResidual: 1e-4, adjointResidual: 1e-5, pointNorm: 2, adjointPrimalNorm: 0.5, adjointDualNorm: 0.3, lossGradNorm: 0.4 });
 * console.log(b.bound); // ≥ ‖z − ∇F(θ)‖
 * ```
 */
export function saddleHypergradientBound(constants: SaddleBoundConstants, inputs: SaddleBoundInputs): SaddleBound {
  const { weightFloor: m, hessianLipschitz, dualHessianLipschitz, lossLipschitz, operatorDerivativeNorm } = constants;
  const eps = inputs.forwardResidual;
  const delta = inputs.adjointResidual;
  const c = lossLipschitz + Math.max(hessianLipschitz * inputs.adjointPrimalNorm, dualHessianLipschitz * inputs.adjointDualNorm) / m;
  const adjointError = delta + c * eps;
  const adjointNorm = Math.hypot(inputs.adjointPrimalNorm, inputs.adjointDualNorm);
  const root = Math.sqrt(m);
  const bound = operatorDerivativeNorm * ((inputs.pointNorm * adjointError) / root + (eps * adjointNorm) / root + (eps * adjointError) / m);
  const valueBound = inputs.lossGradNorm * eps + (lossLipschitz * eps * eps) / 2;
  return { eps, delta, adjointError, bound, valueBound };
}

/** Constants of {@link theorem2Bound}: those of (17a–d), named as in Bogensperger et al. (2024). */
export interface Theorem2Constants {
  muG: number;
  muFStar: number;
  /** ‖K‖. */
  operatorNorm: number;
  /** L₁, L₂: Lipschitz constants of ∇ℓ₁, ∇ℓ₂. */
  lossLipschitz: number;
  dualLossLipschitz: number;
  /** L_{∇²g*}(L_{∇g})³: Lipschitz constant of ∇²g (Lemma 4). */
  hessianLipschitzG: number;
  /** L_{∇²g*}L_{∇g}: Lipschitz constant of x ↦ ∇²g(x)⁻¹. */
  inverseHessianLipschitzG: number;
  /** L_{∇²f}(L_{∇f*})³: Lipschitz constant of ∇²f*. */
  hessianLipschitzFStar: number;
  /** L_{∇²f}L_{∇f*}: Lipschitz constant of y ↦ ∇²f*(y)⁻¹. */
  inverseHessianLipschitzFStar: number;
}

/** Inputs of {@link theorem2Bound}: the accuracies of Theorem 2 and the norms it reads. */
export interface Theorem2Inputs {
  /** ε^x ≥ ‖x̃ − x̂‖, ε^y ≥ ‖ỹ − ŷ‖ (e.g. by (6a), (6b)). */
  epsX: number;
  epsY: number;
  /** δ^X ≥ δ₁(X̃, x̃, ỹ), δ^Y ≥ δ₂(Ỹ, x̃, ỹ) of (9a), (9b). */
  deltaX: number;
  deltaY: number;
  /** ‖x̃‖, ‖ỹ‖, ‖X̃‖, ‖Ỹ‖, ‖∇ℓ₁(x̃)‖, ‖∇ℓ₂(ỹ)‖. */
  xNorm: number;
  yNorm: number;
  adjointXNorm: number;
  adjointYNorm: number;
  lossGradNorm: number;
  dualLossGradNorm: number;
}

/**
 * Theorem 2 of Bogensperger et al. (2024) as stated: the bound (16) on ‖z − ∇L(K)‖ for
 * `z = ỹ⊗X̃ + Ỹ⊗x̃`, with the constants (17a–d):
 *
 * `C₁^X = (L_{∇²g*}L_{∇g}³‖X̃‖ + L₁)/μ_g`,
 * `C₂^X = L_{∇²f}L_{∇f*}‖K‖(‖K‖‖X̃‖ + ‖∇ℓ₂(ỹ)‖)/μ_g + L₂‖K‖/(μ_g μ_{f*})`,
 * `C₁^Y = L_{∇²g*}L_{∇g}‖K‖(‖K‖‖Ỹ‖ + ‖∇ℓ₁(x̃)‖)/μ_{f*} + L₁‖K‖/(μ_g μ_{f*})`,
 * `C₂^Y = (L_{∇²f}L_{∇f*}³‖Ỹ‖ + L₂)/μ_{f*}`, and
 * `‖z − ∇L‖ ≤ (C₁^Y‖x̃‖ + C₁^X‖ỹ‖ + ‖Ỹ‖)ε^x + (C₂^Y‖x̃‖ + C₂^X‖ỹ‖ + ‖X̃‖)ε^y + ‖ỹ‖δ^X + ‖x̃‖δ^Y
 *   + C₁^Y(ε^x)² + C₂^X(ε^y)² + δ^Xε^y + δ^Yε^x + (C₁^X + C₂^Y)ε^xε^y`.
 *
 * The last term is not in (16) as printed: expanding ε^y‖X̂‖ + ε^x‖Ŷ‖ with (13)–(14), as the
 * proof does, produces it (ε^y·C₁^Xε^x and ε^x·C₂^Yε^y); it is added here so the bound follows from
 * the proof.
 *
 * It needs δ^X, δ^Y from (9a/b) (inverse Hessians of g and f*) and ε^x, ε^y from (6a/b) (∇f, ∇g*),
 * which problems given by prox maps lack; `piggyback()` uses {@link saddleHypergradientBound}
 * instead. This one is tested on closed-form problems where (6a/b), (9a/b) can be evaluated.
 *
 * @param c - the constants of (17a–d).
 * @param i - the accuracies and norms.
 * @returns the right-hand side of (16) and the four constants.
 * @example
 * ```ts
 * const { bound } = theorem2Bound(constants, { epsX: 1e-4, epsY: 1e-4, deltaX: 1e-5, deltaY: 1e-5,
 *   xNorm: 1, yNorm: 1, adjointXNorm: 0.5, adjointYNorm: 0.5, lossGradNorm: 0.3, dualLossGradNorm: 0 });
 * ```
 */
export function theorem2Bound(c: Theorem2Constants, i: Theorem2Inputs): { bound: number; c1x: number; c2x: number; c1y: number; c2y: number } {
  const k = c.operatorNorm;
  const c1x = (c.hessianLipschitzG * i.adjointXNorm + c.lossLipschitz) / c.muG;
  const c2x = (c.inverseHessianLipschitzFStar * k * (k * i.adjointXNorm + i.dualLossGradNorm)) / c.muG + (c.dualLossLipschitz * k) / (c.muG * c.muFStar);
  const c1y = (c.inverseHessianLipschitzG * k * (k * i.adjointYNorm + i.lossGradNorm)) / c.muFStar + (c.lossLipschitz * k) / (c.muG * c.muFStar);
  const c2y = (c.hessianLipschitzFStar * i.adjointYNorm + c.dualLossLipschitz) / c.muFStar;
  const bound = (c1y * i.xNorm + c1x * i.yNorm + i.adjointYNorm) * i.epsX
    + (c2y * i.xNorm + c2x * i.yNorm + i.adjointXNorm) * i.epsY
    + i.yNorm * i.deltaX + i.xNorm * i.deltaY
    + c1y * i.epsX ** 2 + c2x * i.epsY ** 2 + i.deltaX * i.epsY + i.deltaY * i.epsX
    // The proof's last step also produces ε^y·C₁^Xε^x + ε^x·C₂^Yε^y, which (16) as printed omits.
    + (c1x + c2y) * i.epsX * i.epsY;
  return { bound, c1x, c2x, c1y, c2y };
}
