import { tf, addWork, emptyWork, iterate } from '@bilevel/core';
import type { Params, SaddleProblem, Work } from '@bilevel/core';

/** Step sizes of PDHG: `τσ‖K‖² < 1`; `mu` > 0 turns on the accelerated variant. */
export interface PdhgSteps {
  tau: number;
  sigma: number;
  /** Strong convexity of g used for acceleration, or 0 for constant steps. */
  mu: number;
}

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
 */
export function pdhg<D>(
  problem: SaddleProblem<D>, theta: Params, data: D, x0: tf.Tensor, z0: tf.Tensor,
  steps: PdhgSteps, tol: number, maxIter: number, keepLast = false, stepGroups = 0, minSteps = 0,
): PdhgResult {
  const xShape = x0.shape;
  const history: number[][] | undefined = stepGroups > 0 ? [] : undefined;
  const groupSquares = (t: tf.Tensor) => tf.sum(tf.reshape(tf.square(t), [stepGroups, -1]), 1);
  const work = addWork(emptyWork(), { vjps: 1 });
  // The residual is only known after a step: the initial state has none (undefined).
  const { state, iterations, status } = iterate<PdhgState>({
    init: () => ({
      x: x0.clone(), z: z0.clone(), kTz: problem.adjoint(z0, theta, data, xShape), tau: steps.tau, sigma: steps.sigma, residual: undefined,
    }),
    // With minSteps, no convergence before that many recorded steps (a contraction rate needs them).
    residual: ({ residual }) => (history != null && history.length < minSteps ? undefined : residual),
    step: ({ x, z, kTz, tau, sigma }) => {
      const omega = steps.mu > 0 ? 1 / Math.sqrt(1 + 2 * steps.mu * tau) : 1;
      const xn = problem.proxG(tf.sub(x, tf.mul(kTz, tau)), tau, theta, data);
      const dx = tf.sub(xn, x);
      const xBar = tf.add(xn, tf.mul(dx, omega));
      const zn = problem.proxFStar(tf.add(z, tf.mul(problem.apply(xBar, theta, data), sigma / omega)), sigma / omega, theta, data);
      const kTzn = problem.adjoint(zn, theta, data, xShape);
      const rp = tf.sub(tf.div(tf.neg(dx), tau), tf.sub(kTz, kTzn));
      const rd = tf.add(tf.div(tf.sub(z, zn), sigma / omega), tf.mul(problem.apply(dx, theta, data), omega));
      const r2 = tf.add(tf.sum(tf.square(rp)), tf.sum(tf.square(rd)));
      let residual: number;
      if (history != null) {
        // one read for the residual and the step norms of each group
        const v = tf.concat([tf.reshape(r2, [1]), tf.sqrt(tf.add(groupSquares(dx), groupSquares(tf.sub(zn, z))))]).dataSync();
        residual = Math.sqrt(v[0]);
        history.push(Array.from(v.subarray(1)));
      } else residual = Math.sqrt(r2.dataSync()[0]);
      const last = keepLast ? { xPrev: x, zPrev: z, rp, rd } : undefined;
      return { state: { x: xn, z: zn, kTz: kTzn, tau: tau * omega, sigma: sigma / omega, residual, last } };
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
  return { x, z, residual, iterations, converged: residual <= tol, diverged, work: out, last, steps: history };
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
