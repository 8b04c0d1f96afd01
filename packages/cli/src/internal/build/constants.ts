/**
 * Constants of MAID's (and DFO's) error bounds for the CLI's energies
 * `Φ(x; θ) = ½‖Ax − y‖² + R(x; θ) + (ξ/2)‖x‖²` with the loss `ℓ = (1/n)·½‖x − x_clean‖²`:
 * - μ: the problem's declared strong convexity at θ (exact for the data term and ξ);
 * - L_{∇ℓ} = 1/n: exact;
 * - B_J ≈ ‖∇²_{xθ}Φ‖ by power iteration on JᵀJ (J u by central differences in θ, Jᵀv by the
 *   mixed product), L_H and L_J by secants between x₀ = init and an approximate solution,
 *   maximised over three random directions — heuristics measured at θ₀, as the MAID
 *   reference code does with finite differences, multiplied by `safety`.
 * The same estimator as examples/foe-denoise, generalised from denoising (μ = 1) to any A.
 */
import { tf, lbfgs, normParams, disposeParams, mapParams, zipParams, readScalar, seededNormal } from '@bilevel/core';
import type { Params, Problem } from '@bilevel/core';
import type { BoundConstants } from '@bilevel/outer';
import { FailureError } from '../../errors.js';

/** Lower-level data of the CLI: measurements `y` and the clean target. */
export type PairData = { y: tf.Tensor; clean: tf.Tensor };

function unitLike(t: tf.Tensor, seed: number): tf.Tensor {
  return tf.tidy(() => {
    const r = seededNormal(t.shape, seed);
    return tf.div(r, tf.norm(r));
  });
}

function randomParams(theta: Params, seed: number): Params {
  let s = seed;
  const raw = mapParams(theta, (t) => seededNormal(t.shape, s++));
  const n = normParams(raw);
  const out = mapParams(raw, (t) => tf.div(t, n));
  disposeParams(raw);
  return out;
}

function jacobianTimes(problem: Problem<PairData>, x: tf.Tensor, theta: Params, data: PairData, u: Params, h: number): tf.Tensor {
  const plus = zipParams(theta, u, (a, b) => tf.add(a, tf.mul(h, b)));
  const minus = zipParams(theta, u, (a, b) => tf.sub(a, tf.mul(h, b)));
  const gp = problem.gradient(x, plus, data);
  const gm = problem.gradient(x, minus, data);
  const out = tf.tidy(() => tf.div(tf.sub(gp, gm), 2 * h));
  tf.dispose([gp, gm]);
  disposeParams(plus);
  disposeParams(minus);
  return out;
}

/** Estimated bound constants at θ₀ (see the file's comment). */
export function estimateConstants(problem: Problem<PairData>, theta: Params, data: PairData, safety: number, seed = 0): BoundConstants & { mu: number } {
  const mu = problem.mu(theta, data);
  if (mu == null || !(mu > 0)) throw new FailureError(`the energy '${problem.name}' declares no strong convexity μ > 0 at θ₀, which MAID's and DFO's bounds need: set model.xi > 0 or use method 'adam'.`);
  const n = data.y.shape[0] ?? 1;
  const x0 = problem.initialPoint(theta, data);
  const x1 = lbfgs().solve(problem, theta, data, { tol: 1e-2, tolMode: 'relative', maxIter: 200 }).x;
  const dist = Math.max(readScalar(tf.tidy(() => tf.norm(tf.sub(x1, x0)))), 1e-12);
  let u = randomParams(theta, seed);
  let sigma = 0;
  for (let k = 0; k < 6; k++) {
    const w = jacobianTimes(problem, x1, theta, data, u, 1e-2);
    const wn = readScalar(tf.tidy(() => tf.norm(w)));
    const jt = problem.mixed(x1, theta, data, w);
    const jtn = normParams(jt);
    sigma = wn > 0 ? jtn / wn : 0;
    disposeParams(u);
    u = mapParams(jt, (t) => tf.div(t, jtn > 0 ? jtn : 1));
    disposeParams(jt);
    w.dispose();
  }
  disposeParams(u);
  let lh = 0;
  let lj = 0;
  for (let k = 0; k < 3; k++) {
    const v = unitLike(x0, seed + 100 + k);
    const h1 = problem.hvp(x1, theta, data, v);
    const h0 = problem.hvp(x0, theta, data, v);
    lh = Math.max(lh, readScalar(tf.tidy(() => tf.norm(tf.sub(h1, h0)))) / dist);
    const m1 = problem.mixed(x1, theta, data, v);
    const m0 = problem.mixed(x0, theta, data, v);
    const d = zipParams(m1, m0, (a, b) => tf.sub(a, b));
    lj = Math.max(lj, normParams(d) / dist);
    tf.dispose([v, h1, h0]);
    disposeParams(m1);
    disposeParams(m0);
    disposeParams(d);
  }
  tf.dispose([x0, x1]);
  return { mu, lossLipschitz: 1 / n, mixedNorm: safety * sigma, hessianLipschitz: safety * lh, mixedLipschitz: safety * lj };
}
