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
  /** μ_g > 0: strong convexity of g. */
  muG: number;
  /** μ_{f*} > 0: strong convexity of f*. */
  muFStar: number;
  /** Lipschitz constant of x ↦ ∇²g(x) (0 for a quadratic g). */
  hessianLipschitz: number;
  /** Lipschitz constant of y ↦ ∇²f*(y) (0 for a quadratic f*). */
  dualHessianLipschitz: number;
  /** L₁: Lipschitz constant of ∇ℓ₁ (the loss's gradient in x). */
  lossLipschitz: number;
  /** L₂: Lipschitz constant of ∇ℓ₂ (the loss's gradient in y); 0 for a loss of x only. */
  dualLossLipschitz?: number;
  /** c_K = sup_{‖w‖=1} ‖∂_θK[w]‖ (1 when θ is K itself). */
  operatorDerivativeNorm: number;
}

/** Computed quantities {@link saddleHypergradientBound} reads. */
export interface SaddleBoundInputs {
  /** ‖(r_p, r_d)‖, r_p ∈ ∂g(x̃) + Kᵀỹ, r_d ∈ ∂f*(ỹ) − Kx̃ (PDHG's residual at (x̃, ỹ)). */
  forwardResidual: number;
  /** ‖M̄(X̃, Ỹ)‖: residual of the adjoint saddle problem (ASI) at (X̃, Ỹ), linearised at (x̃, ỹ). */
  adjointResidual: number;
  /** ‖(x̃, ỹ)‖. */
  pointNorm: number;
  /** ‖X̃‖ and ‖Ỹ‖. */
  adjointPrimalNorm: number;
  adjointDualNorm: number;
  /** ‖∇ℓ₁(x̃)‖ (for the value bound). */
  lossGradNorm: number;
}

/** What {@link saddleHypergradientBound} returns. */
export interface SaddleBound {
  /** ε ≥ ‖(x̃, ỹ) − (x̂, ŷ)‖ (strong-monotonicity form of Lemma 2). */
  eps: number;
  /** δ ≥ ‖(X̃, Ỹ) − (X̄, Ȳ)‖ (same form of Lemma 3). */
  delta: number;
  /** ≥ ‖(X̃, Ỹ) − (X̂, Ŷ)‖ (joint form of (13)–(14)). */
  adjointError: number;
  /** ≥ ‖z − ∇F(θ)‖ (joint form of (16)). */
  bound: number;
  /** ≥ |ℓ(x̃) − ℓ(x̂)|: ‖∇ℓ₁(x̃)‖ε + L₁ε²/2. */
  valueBound: number;
}

/**
 * The piggyback hypergradient bound in **joint form**, as computed by `piggyback()`: Lemmas 2–3
 * and Theorem 2 of Bogensperger et al. (2024), with the primal and dual distances bounded together
 * by strong monotonicity of the saddle operators instead of separately by (6a/b), (9a/b), which
 * need ∇f, ∇g* and inverse Hessians that a problem given by prox maps does not have.
 *
 * With m = min(μ_g, μ_{f*}): the saddle operator M(x, y) = (∂g(x) + Kᵀy, ∂f*(y) − Kx) is
 * m-strongly monotone (the K terms cancel), so a residual r ∈ M(x̃, ỹ) gives
 * `ε = ‖r‖/m ≥ ‖(x̃, ỹ) − (x̂, ŷ)‖`. The same holds for the adjoint saddle problems (AS) and (ASI),
 * whose operators `(∇²g X + KᵀY + ∇ℓ₁, ∇²f* Y − KX − ∇ℓ₂)` are m-strongly monotone: `δ = ‖M̄(X̃, Ỹ)‖/m`.
 * Replacing (x̃, ỹ) by (x̂, ŷ) in M̄ moves it by at most `(L_{∇²g}‖X̃‖ + L₁)ε_x` and
 * `(L_{∇²f*}‖Ỹ‖ + L₂)ε_y`, so with `C = max(L_{∇²g}‖X̃‖ + L₁, L_{∇²f*}‖Ỹ‖ + L₂)/m`
 * (the joint analogue of (17a–d)): `‖(X̃, Ỹ) − (X̂, Ŷ)‖ ≤ e_A = δ + Cε`. Finally, for
 * `z = ∇_θ[⟨K(θ)X̃, ỹ⟩ + ⟨K(θ)x̃, Ỹ⟩]` (= ỹ⊗X̃ + Ỹ⊗x̃ when θ = K, eq. (15)), expanding the six
 * rank-one differences and Cauchy–Schwarz give the analogue of (16):
 *
 * `‖z − ∇F(θ)‖ ≤ c_K (‖(x̃, ỹ)‖ e_A + ε‖(X̃, Ỹ)‖ + ε e_A)`.
 *
 * @param constants - μ_g, μ_{f*}, Hessian-Lipschitz constants, L₁ (L₂), c_K.
 * @param inputs - residuals and norms at the computed points.
 * @returns ε, δ, the adjoint error, the hypergradient bound and the value bound.
 * @example
 * ```ts
 * const b = saddleHypergradientBound(
 *   { muG: 1, muFStar: 2, hessianLipschitz: 0, dualHessianLipschitz: 0, lossLipschitz: 1, operatorDerivativeNorm: 1 },
 *   { forwardResidual: 1e-4, adjointResidual: 1e-5, pointNorm: 2, adjointPrimalNorm: 0.5, adjointDualNorm: 0.3, lossGradNorm: 0.4 });
 * console.log(b.bound); // ≥ ‖z − ∇F(θ)‖
 * ```
 */
export function saddleHypergradientBound(constants: SaddleBoundConstants, inputs: SaddleBoundInputs): SaddleBound {
  const { muG, muFStar, hessianLipschitz, dualHessianLipschitz, lossLipschitz, operatorDerivativeNorm } = constants;
  const l2 = constants.dualLossLipschitz ?? 0;
  const m = Math.min(muG, muFStar);
  const eps = inputs.forwardResidual / m;
  const delta = inputs.adjointResidual / m;
  const c = Math.max(hessianLipschitz * inputs.adjointPrimalNorm + lossLipschitz, dualHessianLipschitz * inputs.adjointDualNorm + l2) / m;
  const adjointError = delta + c * eps;
  const adjointNorm = Math.hypot(inputs.adjointPrimalNorm, inputs.adjointDualNorm);
  const bound = operatorDerivativeNorm * (inputs.pointNorm * adjointError + eps * adjointNorm + eps * adjointError);
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
