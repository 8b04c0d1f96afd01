/**
 * **Estimated** (not certified) piggyback hypergradient bounds: the distances of Theorem 2 of
 * Bogensperger, Ehrhardt, Pock, Salehi & Wong (2024) taken from the contraction PDHG and the
 * adjoint iteration are observed to have, instead of from strong monotonicity (which divides by
 * the smallest strong-convexity weight m and is loose by 1/√m or 1/m when m is a small smoothing).
 *
 * @packageDocumentation
 */

/** What {@link contractionEstimate} returns. */
export interface ContractionEstimate {
  /** ρ̂: the observed per-iteration contraction of the step norms. */
  rate: number;
  /** max(s_k, floor)/(1 − ρ̂) ≳ ‖u_k − û‖: the tail sum of the steps, plus one step as margin. */
  error: number;
  /** Steps the rate was measured over. */
  window: number;
  /** Whether the last step is at or below the round-off `floor` (then ρ̂ comes from the steps before it). */
  atFloor?: boolean;
}

/**
 * Error of a linearly converging fixed-point iteration from its step norms
 * `s_j = ‖u_j − u_{j−1}‖`: if `s_{j+1} ≤ ρ s_j` from step k on, then
 * `‖u_k − û‖ ≤ Σ_{j>k} s_j ≤ s_k ρ/(1 − ρ)`. ρ is estimated as the larger of the geometric-mean
 * ratios over the last w and the last ⌈w/2⌉ steps (w = min(window, k − 1)), and the estimate
 * returned is `s_k/(1 − ρ̂)` (one step more than the tail, as margin). It is an **estimate**: the rate
 * is observed, not proven, and a later slow-down (a change of active set) breaks it.
 *
 * **Round-off floor.** In float32 the steps stop contracting near `floor` ≈ a few ε₃₂‖u‖: there they are
 * rounding noise, their ratios scatter around 1 (measured 0.999, i.e. a factor 1/(1 − ρ̂) = 10³ on the
 * extrapolated error) or are 0 (error 0). Steps ≤ `floor` therefore carry no rate: ρ̂ is measured over the
 * steps above it that end the history before the floor was reached, and the error is `max(s_k, floor)/(1 − ρ̂)`
 * (`atFloor: true`). With fewer than 3 such steps there is no estimate.
 *
 * @param steps - s_1, …, s_k in order (s_k: the step that produced the returned iterate).
 * @param window - the most recent steps to measure ρ over (default 10).
 * @param floor - step norms at or below it are round-off (default 0: none).
 * @returns the rate and the error estimate, or undefined with fewer than 3 steps above the floor or ρ̂ ≥ 0.9999.
 * @example
 * ```ts
 * contractionEstimate([1, 0.5, 0.25, 0.125]); // { rate: 0.5, error: 0.25, window: 3 }
 * contractionEstimate([1, 0.5, 0.25, 1e-6, 2e-6], 10, 1e-5); // rate 0.5 from the first three, error 2e-5, atFloor
 * ```
 */
export function contractionEstimate(steps: number[], window = 10, floor = 0): ContractionEstimate | undefined {
  let k = steps.length;
  while (k > 0 && steps[k - 1] <= floor) k--;
  const atFloor = k < steps.length;
  const w = Math.min(window, k - 1);
  if (w < 2) return undefined;
  const last = steps[k - 1];
  if (!Number.isFinite(last)) return undefined;
  if (last === 0) return { rate: 0, error: 0, window: w };
  const rateOver = (span: number) => (steps[k - 1 - span] > 0 ? (last / steps[k - 1 - span]) ** (1 / span) : Infinity);
  const rate = Math.max(rateOver(w), rateOver(Math.ceil(w / 2)));
  if (!(rate < 0.9999)) return undefined;
  if (!atFloor) return { rate, error: last / (1 - rate), window: w };
  return { rate, error: Math.max(steps[steps.length - 1], floor) / (1 - rate), window: w, atFloor };
}

/** The round-off floor of a float32 step norm ‖u_{k+1} − u_k‖ at an iterate of norm ‖u‖: 2·2⁻²⁴·‖u‖ (one rounding per entry) (see {@link contractionEstimate}). */
export const stepFloor = (iterateNorm: number): number => 2 * 2 ** -24 * iterateNorm;

/** Constants of {@link estimatedSaddleBound} (plain, Euclidean). */
export interface EstimatedBoundConstants {
  /** m: the smallest strong-convexity weight (scalar: min(μ_g, μ_{f*})). */
  weightFloor: number;
  /** The smallest weight among the entries the loss reads (scalar moduli: m). */
  lossWeight: number;
  hessianLipschitz: number;
  dualHessianLipschitz: number;
  /** L₁, the plain Lipschitz constant of ∇ₓℓ. */
  lossLipschitz: number;
  /** c_K = sup_{‖w‖=1}‖∂_θK[w]‖. */
  operatorDerivativeNorm: number;
}

/** Inputs of {@link estimatedSaddleBound}: the extrapolated correction and errors. */
export interface EstimatedBoundInputs {
  /**
   * ‖c‖ for c = B(ΔX, ỹ) + B(x̃, ΔY) + B(X̃, Δy) + B(Δx, Ỹ) − B(ΔX, Δy) − B(Δx, ΔY), B(u, v) =
   * ∇_θ⟨K(θ)u, v⟩, with the errors extrapolated as Δ = (last step)/(1 − ρ̂) for PDHG (Δx, Δy) and the
   * adjoint (ΔX, ΔY): z − ∇F exactly, were the Δ exact.
   */
  correctionNorm: number;
  /** ‖B(ΔX, ỹ) + B(x̃, ΔY)‖ / ‖(ΔX, ΔY)‖: the observed θ-gradient per unit adjoint error. */
  adjointGain: number;
  /** ‖Δx‖, ‖Δy‖: the extrapolated primal and dual forward errors. */
  primalError: number;
  dualError: number;
  /** ‖X̃‖, ‖Ỹ‖. */
  adjointPrimalNorm: number;
  adjointDualNorm: number;
  /** |⟨∇ℓ₁(x̃), Δx⟩| with the extrapolated Δx. */
  lossGradInner: number;
}

/**
 * An **estimated** (not certified) bound on the piggyback hypergradient error ‖z − ∇F(θ)‖,
 * z = ∇_θ[⟨K(θ)X̃, ỹ⟩ + ⟨K(θ)x̃, Ỹ⟩] (eq. (15) of Bogensperger et al. 2024). Expanding z − ∇F as in the
 * proof of Theorem 2 gives exactly c of {@link EstimatedBoundInputs.correctionNorm} with the true
 * errors. A linearly converging iteration's error points along its last step (the slowest mode
 * dominates), so the errors are extrapolated as (last step)/(1 − ρ̂) and c is evaluated by
 * θ-gradients instead of being bounded by c_K‖·‖‖·‖, which on TV-like models is loose by 10²–10⁴
 * (the gradient is nearly orthogonal to most error directions). The adjoint (ASI) is linearised at
 * (x̃, ỹ), not (x̂, ŷ); that shift of its solution is bounded by strong monotonicity as in the
 * certified form and enters through the observed gain:
 *
 * `shift = L₁‖Δx‖/√(w_ℓ m) + (L_{∇²g}‖X̃‖‖Δx‖ + L_{∇²f*}‖Ỹ‖‖Δy‖)/m`,
 * `bound ≈ 2(‖c‖ + gain·shift)`, `valueBound ≈ 2(|⟨∇ℓ(x̃), Δx⟩| + L₁‖Δx‖²/2)` (ℓ(x̂) − ℓ(x̃) to first order along Δx),
 *
 * with a factor 2 as margin on the extrapolation. Not a certificate: the rate and the direction are
 * observed, and a later change of the active set breaks them.
 *
 * @param c - m, w_ℓ, Hessian-Lipschitz constants, L₁ (c_K is not used).
 * @param i - the extrapolated correction, the gain and the extrapolated errors.
 * @returns the estimated hypergradient bound and value bound.
 * @example
 * ```ts
 * const e = estimatedSaddleBound(
 *   { weightFloor: 0.01, lossWeight: 1, hessianLipschitz: 0, dualHessianLipschitz: 0, lossLipschitz: 1, operatorDerivativeNorm: 3 },
 *   { correctionNorm: 2e-4, adjointGain: 0.1, primalError: 1e-3, dualError: 1e-2, adjointPrimalNorm: 1, adjointDualNorm: 1, lossGradInner: 1e-4 });
 * console.log(e.bound); // 2(2e-4 + 0.1·1e-3/0.1) = 2.4e-3
 * ```
 */
export function estimatedSaddleBound(c: EstimatedBoundConstants, i: EstimatedBoundInputs): { bound: number; valueBound: number } {
  const m = c.weightFloor;
  const dx = i.primalError;
  const shift = (c.lossLipschitz * dx) / Math.sqrt(c.lossWeight * m) + (c.hessianLipschitz * i.adjointPrimalNorm * dx + c.dualHessianLipschitz * i.adjointDualNorm * i.dualError) / m;
  const bound = 2 * (i.correctionNorm + i.adjointGain * shift);
  const valueBound = 2 * (i.lossGradInner + (c.lossLipschitz * dx * dx) / 2);
  return { bound, valueBound };
}
