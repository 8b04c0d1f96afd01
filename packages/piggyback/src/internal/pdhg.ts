import { tf, addWork, emptyWork, iterate } from '@bilevel/core';
import type { Params, SaddleProblem, Work } from '@bilevel/core';
import { proxGAt, proxFStarAt, scaledStep } from './precondition.js';

/** Step sizes of PDHG: `τσ‖K‖² < 1`; `mu` > 0 turns on the accelerated variant. */
export interface PdhgSteps {
  tau: number;
  sigma: number;
  /** Strong convexity of g used for acceleration, or 0 for constant steps. */
  mu: number;
  /**
   * Residual balancing (Goldstein, Li, Yuan, Esser & Baraniuk 2015, "Adaptive primal-dual splitting
   * methods for statistical learning and image processing", Algorithm 1 without backtracking): after each
   * step, if ‖r_p‖ > Δ‖r_d‖ then τ ← τ/(1 − α), σ ← σ(1 − α), α ← ηα; if ‖r_p‖ < ‖r_d‖/Δ the reverse.
   * τσ is unchanged (so τσ‖K‖² < 1 holds throughout) and α shrinks geometrically, so the steps settle.
   * Not with `mu` > 0.
   */
  balance?: { alpha: number; eta: number; delta: number };
  /**
   * Contraction search: every `window` iterations the observed rate (‖r_k‖/‖r_{k−window}‖)^{1/window}
   * at the current σ/τ is compared with the last one; a better rate keeps moving σ/τ by `factor` the same
   * way, a worse one reverts, turns and re-measures; after both directions fail the factor is
   * square-rooted, and the search ends below `minFactor` or after `maxMoves` changes (so PDHG ends with
   * constant steps). τσ is unchanged. Not with `mu` > 0 or `balance`.
   */
  search?: { window: number; factor: number; minFactor: number; maxMoves: number };
  /**
   * Diagonal preconditioning (Pock & Chambolle 2011): the steps are `tau·T₀` and `sigma·Σ₀` with these
   * fixed positive tensors (broadcastable to x and z); `tau`, `sigma` stay the scalars the adaptive rules
   * move. A side without a tensor keeps its scalar step. Not with `mu` > 0.
   */
  diagonal?: { tau?: tf.Tensor; sigma?: tf.Tensor };
}

/** The contraction search's constants: windows of 30 iterations, σ/τ moved by ×/÷ 4, down to ×/÷ 1.2, at most 30 moves. */
export const CONTRACTION_SEARCH = Object.freeze({ window: 30, factor: 4, minFactor: 1.2, maxMoves: 30 });

/** Goldstein et al. (2015)'s residual-balancing constants: α₀ = 0.5, η = 0.95, Δ = 1.5 (their defaults). */
export const RESIDUAL_BALANCING = Object.freeze({ alpha: 0.5, eta: 0.95, delta: 1.5 });

/** Result of {@link pdhg}. `x` and `z` are kept (the caller disposes them). */
export interface PdhgResult {
  x: tf.Tensor;
  z: tf.Tensor;
  /** ‖(r_p, r_d)‖, the distance of 0 to the saddle operator at the last iterate. */
  residual: number;
  iterations: number;
  converged: boolean;
  diverged: boolean;
  work: Work;
  /** The steps the last iteration used (with balancing they differ from the initial ones). */
  tau: number;
  sigma: number;
  /** The last step's extrapolation x̄ = x⁺ + ω(x⁺ − x): 1, or 1/√(1 + 2μτ_k) accelerated. */
  omega: number;
  /** Step adaptations made by residual balancing. */
  adaptations: number;
  /**
   * With `keepLast`: the iterate (x_k, z_k) the last step started from (so that
   * x = prox_{τg}(x_k − τKᵀz_k) and z = prox_{σf*}(z_k + σK(2x − x_k))), and that step's
   * residual vectors r_p ∈ ∂g(x) + Kᵀz, r_d ∈ ∂f*(z) − Kx. Kept; the caller disposes them.
   */
  last?: { xPrev: tf.Tensor; zPrev: tf.Tensor; rp: tf.Tensor; rd: tf.Tensor };
  /**
   * With `stepGroups` > 0: per iteration, the step norms ‖(x⁺ − x, z⁺ − z)‖ of each of `stepGroups`
   * slices of the leading axis (1: the whole iterate), for {@link contractionEstimate}.
   */
  steps?: number[][];
}

/** PDHG's state: primal, dual, Kᵀz, the current steps, and the residual of the last step. */
interface PdhgState {
  x: tf.Tensor;
  z: tf.Tensor;
  kTz: tf.Tensor;
  tau: number;
  sigma: number;
  /** The steps the last step used (tau, sigma are those of the next one). */
  usedTau: number;
  usedSigma: number;
  usedOmega: number;
  /** Residual balancing's current α. */
  alpha: number;
  adaptations: number;
  residual: number | undefined;
  last?: { xPrev: tf.Tensor; zPrev: tf.Tensor; rp: tf.Tensor; rd: tf.Tensor };
}

function readSquaredNorm(t: tf.Tensor): number {
  const n = tf.tidy(() => tf.sum(tf.square(t)));
  const v = n.dataSync()[0];
  n.dispose();
  return v;
}

/**
 * Chambolle–Pock PDHG (Algorithm 1, or Algorithm 2 when `steps.mu > 0`):
 *
 * `x⁺ = prox_{τg}(x − τKᵀz)`, `ω = 1` (or `1/√(1+2μτ)`, then `τ ← ωτ`, `σ ← σ/ω`),
 * `x̄ = x⁺ + ω(x⁺ − x)`, `z⁺ = prox_{σf*}(z + σKx̄)`.
 *
 * The stopping residual is step-size independent: `r_p = (x − x⁺)/τ − Kᵀ(z − z⁺) ∈ ∂g(x⁺) + Kᵀz⁺`
 * and `r_d = (z − z⁺)/σ + ωK(x⁺ − x) ∈ ∂f*(z⁺) − Kx⁺`, so `‖(r_p, r_d)‖ = 0` exactly at a saddle point.
 * With `steps.balance` the steps are re-balanced between iterations from ‖r_p‖ / ‖r_d‖ (see {@link PdhgSteps});
 * each step's residual is computed with the steps that step used, so it stays exact.
 */
export function pdhg<D>(
  problem: SaddleProblem<D>, theta: Params, data: D, x0: tf.Tensor, z0: tf.Tensor,
  steps: PdhgSteps, tol: number, maxIter: number, keepLast = false, stepGroups = 0, minSteps = 0,
): PdhgResult {
  const xShape = x0.shape;
  const history: number[][] | undefined = stepGroups > 0 ? [] : undefined;
  const groupSquares = (t: tf.Tensor) => tf.sum(tf.reshape(tf.square(t), [stepGroups, -1]), 1);
  const work = addWork(emptyWork(), { vjps: 1 });
  const balance = steps.mu > 0 ? undefined : steps.balance;
  const search = steps.mu > 0 || balance != null ? undefined : steps.search;
  // the search's state: the accepted ratio's rate, direction (±1), factor, failed turns, and the window's start
  const sr = { best: NaN, trial: false, dir: 1, factor: search?.factor ?? 1, fails: 0, start: NaN, count: 0, done: search == null, warm: true };
  // The residual is only known after a step: the initial state has none (undefined).
  const { state, iterations, status } = iterate<PdhgState>({
    init: () => ({
      x: x0.clone(), z: z0.clone(), kTz: problem.adjoint(z0, theta, data, xShape), tau: steps.tau, sigma: steps.sigma,
      usedTau: steps.tau, usedSigma: steps.sigma, usedOmega: 1, alpha: balance?.alpha ?? 0, adaptations: 0, residual: undefined,
    }),
    // With minSteps, no convergence before that many recorded steps (a contraction rate needs them).
    residual: ({ residual }) => (history != null && history.length < minSteps ? undefined : residual),
    step: ({ x, z, kTz, tau, sigma, alpha, adaptations }) => {
      const omega = steps.mu > 0 ? 1 / Math.sqrt(1 + 2 * steps.mu * tau) : 1;
      // T = τ·T₀ and Σ = σ·Σ₀ with preconditioning (T₀, Σ₀ diagonal), the scalars otherwise
      const tauStep = scaledStep(steps.diagonal?.tau, tau);
      const sigmaStep = scaledStep(steps.diagonal?.sigma, sigma / omega);
      const xn = proxGAt(problem, tf.sub(x, tf.mul(kTz, tauStep)), tauStep, theta, data);
      const dx = tf.sub(xn, x);
      const xBar = tf.add(xn, tf.mul(dx, omega));
      const zn = proxFStarAt(problem, tf.add(z, tf.mul(problem.apply(xBar, theta, data), sigmaStep)), sigmaStep, theta, data);
      const kTzn = problem.adjoint(zn, theta, data, xShape);
      // T⁻¹(x − x⁺) − Kᵀ(z − z⁺) ∈ ∂g(x⁺) + Kᵀz⁺ and Σ⁻¹(z − z⁺) + K(x⁺ − x) ∈ ∂f*(z⁺) − Kx⁺ hold for any
      // positive diagonal T, Σ (the prox optimality conditions in the T⁻¹, Σ⁻¹ metrics), so the residual
      // stays step-free and the certificate (certify.ts) reads it unchanged.
      const rp = tf.sub(tf.div(tf.neg(dx), tauStep), tf.sub(kTz, kTzn));
      const rd = tf.add(tf.div(tf.sub(z, zn), sigmaStep), tf.mul(problem.apply(dx, theta, data), omega));
      // one read for ‖r_p‖², ‖r_d‖² and (when recording) the step norms of each group
      const parts = [tf.reshape(tf.sum(tf.square(rp)), [1]), tf.reshape(tf.sum(tf.square(rd)), [1])];
      if (history != null) parts.push(tf.sqrt(tf.add(groupSquares(dx), groupSquares(tf.sub(zn, z)))));
      const v = tf.concat(parts).dataSync();
      const residual = Math.sqrt(v[0] + v[1]);
      if (history != null) history.push(Array.from(v.subarray(2)));
      const last = keepLast ? { xPrev: x, zPrev: z, rp, rd } : undefined;
      let next = { tau: tau * omega, sigma: sigma / omega, alpha, adaptations };
      if (balance != null && Number.isFinite(residual)) {
        const p = Math.sqrt(v[0]);
        const d = Math.sqrt(v[1]);
        // a large primal residual asks for a longer primal step, and vice versa (τσ kept)
        if (p > balance.delta * d) next = { tau: tau / (1 - alpha), sigma: sigma * (1 - alpha), alpha: alpha * balance.eta, adaptations: adaptations + 1 };
        else if (p < d / balance.delta) next = { tau: tau * (1 - alpha), sigma: sigma / (1 - alpha), alpha: alpha * balance.eta, adaptations: adaptations + 1 };
      }
      if (!sr.done && search != null && Number.isFinite(residual) && residual > 0) {
        if (sr.count === 0) sr.start = residual;
        if (++sr.count > search.window) {
          const rate = Math.pow(residual / sr.start, 1 / search.window);
          sr.count = 0;
          let move = 0; // log of the ratio change
          if (sr.warm) sr.warm = false; // the first window is PDHG's transient: not a rate of any ratio
          else if (!sr.trial || rate < sr.best) {
            // a baseline, or a better trial (the new baseline): move on the same way
            if (sr.trial) sr.fails = 0;
            sr.best = rate;
            move = sr.dir * Math.log(sr.factor);
            sr.trial = true;
          } else {
            // worse: back to the accepted ratio, turn, and measure it afresh there (rates drift as PDHG proceeds)
            move = -sr.dir * Math.log(sr.factor);
            sr.dir = -sr.dir;
            sr.trial = false;
            if (++sr.fails >= 2) {
              sr.factor = Math.sqrt(sr.factor);
              sr.fails = 0;
              sr.done = sr.factor < search.minFactor;
            }
          }
          if (move !== 0) {
            const m = Math.exp(move / 2);
            next = { ...next, tau: next.tau / m, sigma: next.sigma * m, adaptations: next.adaptations + 1 };
            sr.done ||= next.adaptations >= search.maxMoves;
          }
        }
      }
      return { state: { x: xn, z: zn, kTz: kTzn, ...next, usedTau: tau, usedSigma: sigma / omega, usedOmega: omega, residual, last } };
    },
  }, { threshold: tol, maxIter });
  const { x, z, kTz } = state;
  const residual = state.residual ?? Infinity;
  const diverged = status === 'nan';
  tf.keep(x);
  tf.keep(z);
  kTz.dispose();
  const last = state.last;
  if (last != null) for (const t of Object.values(last)) tf.keep(t);
  // Per iteration: two prox evaluations, two applications of K, one of Kᵀ.
  const out = addWork(work, { energyEvals: 2 * iterations, jvps: 2 * iterations, vjps: iterations, innerIterations: iterations });
  return { x, z, residual, iterations, converged: residual <= tol, diverged, work: out, tau: state.usedTau, sigma: state.usedSigma, omega: state.usedOmega, adaptations: state.adaptations, last, steps: history };
}

/**
 * Upper estimate of ‖K‖ by power iteration on KᵀK from a seeded random start. Power iteration
 * approaches ‖K‖ from below, so the estimate is multiplied by `margin` before it sets step sizes.
 */
export function estimateOperatorNorm<D>(
  problem: SaddleProblem<D>, theta: Params, data: D, xShape: number[], iterations: number, margin: number,
): { norm: number; work: Work } {
  // A fixed-steps method on core's shared loop (no residual): ‖KᵀKv‖ with ‖v‖ = 1 → ‖K‖².
  const { state, iterations: done } = iterate<{ v: tf.Tensor; estimate: number }>({
    init: () => {
      const r = tf.randomNormal(xShape, 0, 1, 'float32', 12345);
      return { v: tf.div(r, tf.norm(r)), estimate: 0 };
    },
    residual: () => undefined,
    step: ({ v }) => {
      const w = problem.adjoint(problem.apply(v, theta, data), theta, data, xShape);
      const estimate = Math.sqrt(readSquaredNorm(w));
      // KᵀKv = 0: v is in the null space, and nothing more is learnt from it.
      if (!(estimate > 0)) return { state: { v, estimate }, stop: { status: 'converged', detail: 'KᵀKv = 0' } };
      return { state: { v: tf.div(w, estimate), estimate } };
    },
  }, { threshold: 0, maxIter: iterations, facts: { where: 'piggyback.estimateOperatorNorm' } });
  state.v.dispose();
  const estimate = state.estimate;
  return { norm: Math.sqrt(estimate) * margin, work: addWork({ jvps: done, vjps: done }) };
}
