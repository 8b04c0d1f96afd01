import { tf } from '@bilevel/core';
import type { Params, SaddleProblem } from '@bilevel/core';

/** A PDHG step: a scalar, or an elementwise (diagonal) step tensor broadcastable to the variable. */
export type Step = number | tf.Tensor;

/** Which sides get a diagonal step: both, or one (the other then takes the scalar minimum of its diagonal). */
export type Precondition = false | 'diagonal' | 'primal' | 'dual';

/** `prox_{τg}(u)` with a scalar τ (`proxG`) or an elementwise T (`proxGDiagonal`). */
export function proxGAt<D>(problem: SaddleProblem<D>, u: tf.Tensor, tau: Step, theta: Params, data: D): tf.Tensor {
  return typeof tau === 'number' ? problem.proxG(u, tau, theta, data) : problem.proxGDiagonal!(u, tau, theta, data);
}

/** `prox_{σf*}(u)` with a scalar σ (`proxFStar`) or an elementwise Σ (`proxFStarDiagonal`). */
export function proxFStarAt<D>(problem: SaddleProblem<D>, u: tf.Tensor, sigma: Step, theta: Params, data: D): tf.Tensor {
  return typeof sigma === 'number' ? problem.proxFStar(u, sigma, theta, data) : problem.proxFStarDiagonal!(u, sigma, theta, data);
}

/** The step `scale · diag` (or the scalar `scale` without a diagonal); a new tensor when there is one. */
export function scaledStep(diagonal: tf.Tensor | undefined, scale: number): Step {
  return diagonal == null ? scale : tf.mul(diagonal, scale);
}

/** `Kᵀ(σ ⊙ c)`: for a scalar σ as `σKᵀc` (as before preconditioning), else with σ applied in z-space. */
export function adjointScaled<D>(problem: SaddleProblem<D>, c: tf.Tensor, sigma: Step, theta: Params, data: D, xShape: number[]): tf.Tensor {
  return typeof sigma === 'number' ? tf.mul(problem.adjoint(c, theta, data, xShape), sigma) : problem.adjoint(tf.mul(c, sigma), theta, data, xShape);
}

/** `K(τ ⊙ c)`: for a scalar τ as `τKc`, else with T applied in x-space. */
export function applyScaled<D>(problem: SaddleProblem<D>, c: tf.Tensor, tau: Step, theta: Params, data: D): tf.Tensor {
  return typeof tau === 'number' ? tf.mul(problem.apply(c, theta, data), tau) : problem.apply(tf.mul(c, tau), theta, data);
}

/** The diagonal steps of {@link diagonalSteps}: T₀, Σ₀ as tensors (kept) or, on a side without a diagonal, the scalar min. */
export interface DiagonalSteps {
  /** T₀ = diag(1/Σ_i |K_ij|^{2−α}), or undefined when the primal side is scalar (then `tauScalar`). */
  tau?: tf.Tensor;
  sigma?: tf.Tensor;
  /** The scalar step of a side without a diagonal: min of its diagonal (1 on a diagonal side). */
  tauScalar: number;
  sigmaScalar: number;
}

/**
 * Pock & Chambolle (2011), "Diagonal preconditioning for first order primal-dual algorithms in convex
 * optimization" (ICCV), Lemma 2: for α ∈ [0, 2],
 *
 * `T = diag(τ_j), τ_j = 1/Σ_i |K_ij|^{2−α}`,  `Σ = diag(σ_i), σ_i = 1/Σ_j |K_ij|^α`
 *
 * give ‖Σ^{1/2} K T^{1/2}‖ ≤ 1 (Cauchy–Schwarz: (Σ_j K_ij x_j)² ≤ Σ_j |K_ij|^α · Σ_j |K_ij|^{2−α} x_j², then
 * sum over i with the weights σ_i and swap the sums). The caller multiplies by s/√r and s√r (s < 1), so
 * `‖Σ^{1/2}KT^{1/2}‖² ≤ s² < 1` — the condition of their convergence theorem (Theorem 1) — whatever σ/τ ratio r adaptive steps
 * choose. Any upper bounds on the sums keep the lemma (smaller steps), and so does replacing one side's
 * diagonal by its minimum (a scalar step ≤ every entry): `precondition: 'primal'` / `'dual'` for a problem
 * whose other prox takes scalar steps only. A zero sum (an entry K does not touch) gets the side's
 * largest sum, i.e. its smallest step.
 *
 * @returns kept step tensors (the caller disposes them) and the scalar steps of non-diagonal sides.
 */
export function diagonalSteps<D>(problem: SaddleProblem<D>, theta: Params, data: D, alpha: number, mode: Exclude<Precondition, false>): DiagonalSteps {
  const where = 'piggyback';
  const sums = tf.tidy(() => problem.absoluteSums!(alpha, theta, data));
  const steps = tf.tidy(() => {
    const inverse = (s: tf.Tensor) => {
      const top = tf.max(s);
      const safe = tf.where(tf.greater(s, 0), s, tf.broadcastTo(top, s.shape));
      return { step: tf.reciprocal(safe), top };
    };
    const p = inverse(sums.primal);
    const d = inverse(sums.dual);
    return [p.step, d.step, tf.stack([p.top, d.top, tf.min(sums.primal), tf.min(sums.dual)])];
  });
  tf.dispose([sums.primal, sums.dual]);
  const [t, s, extremes] = steps;
  const [pTop, dTop, pMin, dMin] = extremes.dataSync();
  extremes.dispose();
  if (!(pTop > 0 && dTop > 0) || !Number.isFinite(pTop) || !Number.isFinite(dTop) || pMin < 0 || dMin < 0) {
    tf.dispose([t, s]);
    throw new Error(`${where}: option 'precondition' read absoluteSums of '${problem.name}' with primal max ${pTop}, dual max ${dTop}, minima ${pMin}, ${dMin}; the sums Σ|K_ij|^p must be finite, ≥ 0 and not all 0 (check absoluteSums, or drop 'precondition').`);
  }
  const primal = mode === 'diagonal' || mode === 'primal';
  const dual = mode === 'diagonal' || mode === 'dual';
  if (!primal) t.dispose();
  if (!dual) s.dispose();
  return { tau: primal ? t : undefined, sigma: dual ? s : undefined, tauScalar: primal ? 1 : 1 / pTop, sigmaScalar: dual ? 1 : 1 / dTop };
}

/** Throws naming the option when the problem cannot run `precondition: mode` (missing sums or tensor-step proxes). */
export function checkPreconditionable<D>(problem: SaddleProblem<D>, mode: Exclude<Precondition, false>): void {
  const where = 'piggyback';
  const option = `precondition: '${mode}'`;
  if (problem.absoluteSums == null) {
    throw new Error(`${where}: option '${option}' needs '${problem.name}' to declare absoluteSums(alpha, θ, data) (Σ_i |K_ij|^{2−α} and Σ_j |K_ij|^α, matrix-free from the operators' absoluteSums) in defineSaddle; declare it, or drop 'precondition'.`);
  }
  if ((mode === 'diagonal' || mode === 'primal') && problem.proxGDiagonal == null) {
    throw new Error(`${where}: option '${option}' needs elementwise primal steps, but '${problem.name}' has no proxGDiagonal (its proxG takes a scalar τ); declare proxGDiagonal in defineSaddle, or use precondition: 'dual' (diagonal Σ, scalar τ = min T).`);
  }
  if ((mode === 'diagonal' || mode === 'dual') && problem.proxFStarDiagonal == null) {
    throw new Error(`${where}: option '${option}' needs elementwise dual steps, but '${problem.name}' has no proxFStarDiagonal (its proxFStar takes a scalar σ); declare proxFStarDiagonal in defineSaddle, or use precondition: 'primal' (diagonal T, scalar σ = min Σ).`);
  }
}
