/**
 * Heuristic estimates, at one θ, of the constants in the hypergradient error bound that MAID,
 * DFO and `implicit({ constants })` certify their accuracies with ({@link BoundConstants}):
 * the one estimator of `bilevel train` (`@bilevel/cli`) and the examples.
 *
 * @packageDocumentation
 */
import { tf, lbfgs, normParams, disposeParams, mapParams, zipParams, readScalar, seededUnit, seededUnitParams, defineOptions, opt } from '@bilevel/core';
import type { Params, Problem } from '@bilevel/core';
import type { BoundConstants } from './bounds.js';

/** Options of {@link estimateBoundConstants}. */
export interface EstimateConstantsOptions {
  /** L_{∇ℓ}, the Lipschitz constant of ∇ₓℓ: exact for the caller's loss (1/n for ℓ = (1/n)·½‖x − x_clean‖²). */
  lossLipschitz: number;
  /** μ, the energy's strong convexity (default: the problem's own `mu(θ, data)`). */
  mu?: number;
  /** Factor on the three heuristic constants (default 2). */
  safety?: number;
  /** Seed of the random directions (default 0). */
  seed?: number;
  /** Power iterations for B_J (default 6). */
  powerIterations?: number;
}

/** What {@link estimateBoundConstants} returns: a complete {@link BoundConstants}, as plain numbers. */
export type EstimatedConstants = { mu: number; lossLipschitz: number; mixedNorm: number; hessianLipschitz: number; mixedLipschitz: number };

/** Exported defaults of {@link estimateBoundConstants}. */
export const ESTIMATE_CONSTANTS_DEFAULTS = Object.freeze({ safety: 2, seed: 0, powerIterations: 6 });

const OPTIONS = defineOptions<EstimateConstantsOptions>('estimateBoundConstants', {
  lossLipschitz: opt.number({ min: 0 }, "give ∇ₓℓ's Lipschitz constant (1/n for the mean of n squared errors ½‖x − x_clean‖²)"),
  mu: opt.number({ gt: 0 }, 'give the energy\'s strong convexity μ > 0'),
  safety: opt.number({ min: 1 }),
  seed: opt.integer({ min: 0 }),
  powerIterations: opt.integer({ min: 1 }),
}, estimateBoundConstants);

/** J u = ∂_θ ∇ₓΦ(x; θ)[u] by a central difference of step h in θ. */
function jacobianTimes<D>(problem: Problem<D>, x: tf.Tensor, theta: Params, data: D, u: Params, h: number): tf.Tensor {
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

/**
 * Estimates the bound constants of an energy Φ(x; θ, data) at θ:
 *
 * - μ: `options.mu`, or the problem's declared strong convexity `mu(θ, data)`; L_{∇ℓ}: given;
 * - B_J ≈ ‖∇²_{xθ}Φ(x₁)‖ by power iteration on JᵀJ (J u by central differences in θ, Jᵀ v by
 *   the problem's mixed product), at an approximate solution x₁ (L-BFGS, relative tol 1e-2);
 * - L_H ≈ max_v ‖(∇²ₓₓΦ(x₁) − ∇²ₓₓΦ(x₀)) v‖ / ‖x₁ − x₀‖ and
 *   L_J ≈ max_v ‖(∇²_{xθ}Φ(x₁) − ∇²_{xθ}Φ(x₀))ᵀ v‖ / ‖x₁ − x₀‖: secants between the start
 *   x₀ = `problem.initialPoint(θ, data)` and x₁ over three seeded unit directions v.
 *
 * The last three are not certified upper bounds — they are measured at one θ from a few
 * directions, as the MAID reference code does with finite differences (Salehi, Mukherjee,
 * Roberts and Ehrhardt, "An adaptively inexact first-order method for bilevel optimization
 * with application to hyperparameter learning", 2023) — so they are multiplied by `safety`.
 *
 * @param problem - the lower-level energy (`defineProblem`).
 * @param theta - where to measure (read, not consumed).
 * @param data - the lower-level data.
 * @param options - {@link EstimateConstantsOptions}: `lossLipschitz` (required), `mu`, `safety`, `seed`, `powerIterations`.
 * @returns `{ mu, lossLipschitz, mixedNorm, hessianLipschitz, mixedLipschitz }` (plain numbers).
 * @example
 * ```ts
 * const n = data.y.shape[0];
 * const constants = estimateBoundConstants(problem, theta0, data, { lossLipschitz: 1 / n, safety: 2 });
 * await train({ method: maid(), problem, strategy, data, loss, constants, theta0, budget: { iterations: 20 } });
 * ```
 */
export function estimateBoundConstants<D>(problem: Problem<D>, theta: Params, data: D, options: EstimateConstantsOptions): EstimatedConstants {
  const where = 'estimateBoundConstants';
  if (options == null || typeof options !== 'object' || options.lossLipschitz == null) throw new Error(`${where}: option 'lossLipschitz' is required: ∇ₓℓ's Lipschitz constant (1/n for the mean of n squared errors ½‖x − x_clean‖²).`);
  const o = OPTIONS.withDefaults(options, ESTIMATE_CONSTANTS_DEFAULTS);
  const mu = o.mu ?? problem.mu(theta, data);
  if (mu == null || !(mu > 0)) throw new Error(`${where}: the energy '${problem.name}' declares no strong convexity μ > 0 at θ, which the bound needs: pass option 'mu', or make the energy strongly convex (a (ξ/2)‖x‖² term).`);
  const x0 = problem.initialPoint(theta, data);
  const x1 = lbfgs().solve(problem, theta, data, { tol: 1e-2, tolMode: 'relative', maxIter: 200 }).x;
  try {
    const dist = Math.max(readScalar(tf.tidy(() => tf.norm(tf.sub(x1, x0)))), 1e-12);
    // B_J by power iteration on JᵀJ (in θ-space).
    let u = seededUnitParams(theta, o.seed);
    let sigma = 0;
    for (let k = 0; k < o.powerIterations; k++) {
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
    // L_H and L_J by secants between x₀ and x₁.
    let lh = 0;
    let lj = 0;
    for (let k = 0; k < 3; k++) {
      const v = seededUnit(x0.shape, o.seed + 100 + k);
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
    return { mu, lossLipschitz: o.lossLipschitz, mixedNorm: o.safety * sigma, hessianLipschitz: o.safety * lh, mixedLipschitz: o.safety * lj };
  } finally {
    tf.dispose([x0, x1]);
  }
}
