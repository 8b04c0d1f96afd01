/**
 * Heuristic estimates of the constants in MAID's hypergradient error bound (see
 * `BoundConstants` in `@bilevel/outer`) for a denoising energy
 * Φ(x; θ) = ½‖x − y‖² + R(x; θ) with a convex R:
 *
 * - μ = 1 and L_{∇ℓ} = 1/n are exact (the data term, and ℓ = (1/n)·½‖x − x_clean‖²);
 * - B_J ≈ ‖∇²_{xθ}Φ‖ by power iteration on JᵀJ (J u from central differences in θ,
 *   Jᵀ v from the problem's mixed product);
 * - L_H ≈ ‖(∇²ₓₓΦ(x₁) − ∇²ₓₓΦ(x₀)) v‖ / ‖x₁ − x₀‖ and L_J ≈ ‖(J(x₁) − J(x₀))ᵀ v‖ / ‖x₁ − x₀‖:
 *   secants between the noisy input x₀ = y and an approximate solution x₁, maximised over a
 *   few random directions v, as the MAID reference code does with finite differences.
 *
 * None of the last three is a certified upper bound: they are measured at θ₀ only, from a
 * few directions. They are multiplied by a safety factor and reported in the summary.
 */
import { tf, lbfgs, normParams, disposeParams, mapParams, zipParams, readScalar, seededNormal } from '@bilevel/core';
import type { Params, Problem } from '@bilevel/core';
import type { BoundConstants } from '@bilevel/outer';

/** Lower-level data of the examples: noisy `y` and the clean target. */
export type DenoisingData = { y: tf.Tensor; clean: tf.Tensor };

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

/** J u = ∂_θ ∇ₓΦ(x; θ)[u] by a central difference of step h in θ. */
function jacobianTimes(problem: Problem<DenoisingData>, x: tf.Tensor, theta: Params, data: DenoisingData, u: Params, h: number): tf.Tensor {
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

/** Estimates of the bound's constants; `safety` multiplies the three heuristic ones. */
export function estimateConstants(
  problem: Problem<DenoisingData>,
  theta: Params,
  data: DenoisingData,
  options: { safety?: number; seed?: number; powerIterations?: number } = {},
): Omit<BoundConstants, 'mu'> & { mu: number } {
  const safety = options.safety ?? 2;
  const seed = options.seed ?? 0;
  const n = data.y.shape[0] ?? 1;
  const x0 = data.y;
  const solved = lbfgs().solve(problem, theta, data, { tol: 1e-2, tolMode: 'relative', maxIter: 200 });
  const x1 = solved.x;
  const dist = readScalar(tf.tidy(() => tf.norm(tf.sub(x1, x0))));

  // B_J by power iteration on JᵀJ (in θ-space).
  let u = randomParams(theta, seed);
  let sigma = 0;
  for (let k = 0; k < (options.powerIterations ?? 6); k++) {
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

  // L_H and L_J by secants between x₀ and x₁, over a few random directions.
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
  x1.dispose();
  return {
    mu: 1,
    lossLipschitz: 1 / n,
    mixedNorm: safety * sigma,
    hessianLipschitz: safety * lh,
    mixedLipschitz: safety * lj,
  };
}
