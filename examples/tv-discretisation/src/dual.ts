/**
 * The learned TV discretisation with the interpolation on the **dual** side (Bogensperger, Ehrhardt,
 * Pock, Salehi & Wong 2024, eqs. (27)–(29); Condat; Chambolle & Pock):
 *
 *   TV(x) = sup_y ⟨Dx, y⟩ s.t. ‖K_W y‖*_Z ≤ 1  =  min_{q : K_Wᵀq = Dx} ‖q‖_Z,
 *
 * with ‖q‖_Z = Σ_{k, pixel} ‖q_{k, pixel}‖₂ over n two-vectors per pixel and K_W an `s × s`
 * convolution from the two staggered gradient channels of y to 2n channels. (29) in the form
 * `min_u max_y ⟨𝒦u, y⟩ + g̃(u) − f*(y)` of `defineSaddle`, with u = (x, q) packed as channels
 * `[B, h, w, 1 + 2n]`, and two changes that make the certified bound (Theorem 2) defined:
 *
 * - the weight λ moves into the operator: min_{K_Wᵀq = λDx} ‖q‖_Z = λ TV(x) (homogeneity), so
 *   `𝒦(x, q) = λDx − K_Wᵀq` and `g̃(x, q) = ½‖x − y_δ‖² + ‖q‖_Z + (ε_q/2)‖q‖²`: θ = {W, log λ}
 *   enters 𝒦 only, with c_K = √(s² + 8λ²) (λ⁻¹K_Wᵀq' instead would put a factor λ⁻¹ into c_K);
 * - f*(y) = (ε_y/2)‖y‖² relaxes the constraint K_Wᵀq = λDx to a penalty (ε_y = 0 is (29)),
 *   which makes f* strongly convex (μ_{f*} = ε_y) and g̃ strongly convex (μ = min(1, ε_q)).
 *
 * `‖q‖_Z` is not smooth (as in the paper, which also applies piggyback to the unsmoothed (29)):
 * `hessianLipschitz: 0` holds off the kinks of ‖·‖_Z only and is labelled an assumption.
 */
import { tf, defineSaddle } from '@bilevel/core';
import type { Params, SaddleProblem } from '@bilevel/core';
import { forwardDifferences, forwardDifferencesAdjoint, type DenoisingPair } from './discretisation.js';

/** Options of {@link dualLearnedTV}. */
export interface DualTVOptions {
  /** n: two-vector channels of K_W y. */
  filters: number;
  /** ε_q and ε_y of the smoothing above. */
  epsilonQ: number;
  epsilonY: number;
  /** Stencils to use instead of θ.stencils (standard TV: only log λ learned). */
  fixedStencils?: tf.Tensor;
}

/** ‖K_W‖ ≤ √(max row sum · max column sum) of M_{ac} = ‖W_{·,·,a,c}‖₁ (Young per channel pair). */
export function convNormBound(stencils: tf.Tensor): number {
  const sums = tf.tidy(() => tf.sum(tf.abs(stencils), [0, 1]));
  const m = sums.arraySync() as number[][]; // [2, channels]
  sums.dispose();
  const rows = m.map((row) => row.reduce((s, v) => s + v, 0));
  const cols = m[0].map((_, c) => m.reduce((s, row) => s + row[c], 0));
  return Math.sqrt(Math.max(...rows) * Math.max(...cols));
}

/**
 * Identity stencils `[s, s, 2, 2n]` for the dual variant: pair 0 copies (y₁, y₂) (so K_W = [I; …]
 * and TV(x) is standard isotropic TV on the staggered grid), the other pairs start at
 * `extraScale`-sized seeded noise (a zero pair is a stationary point).
 */
export function dualIdentityStencils(size: number, filters: number, extraScale = 0.02, seed = 1): tf.Tensor4D {
  const values = new Float32Array(size * size * 2 * 2 * filters);
  let s = seed >>> 0;
  const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const c0 = Math.floor(size / 2);
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) for (let a = 0; a < 2; a++) for (let c = 0; c < 2 * filters; c++) {
    values[((i * size + j) * 2 + a) * 2 * filters + c] = c < 2 ? (i === c0 && j === c0 && a === c ? 1 : 0) : extraScale * (2 * random() - 1);
  }
  return tf.tensor4d(values, [size, size, 2, 2 * filters]);
}

/** |D|·v: forward differences with both taps +1 (the row sums of |D| for v = 1: 2, 0 in the last column / row). */
function absoluteDifferences(x: tf.Tensor): tf.Tensor {
  const [, h, w] = x.shape as number[];
  const dx = tf.pad(tf.add(tf.slice(x, [0, 0, 1, 0], [-1, -1, -1, -1]), tf.slice(x, [0, 0, 0, 0], [-1, -1, w - 1, -1])), [[0, 0], [0, 0], [0, 1], [0, 0]]);
  const dy = tf.pad(tf.add(tf.slice(x, [0, 1, 0, 0], [-1, -1, -1, -1]), tf.slice(x, [0, 0, 0, 0], [-1, h - 1, -1, -1])), [[0, 0], [0, 1], [0, 0], [0, 0]]);
  return tf.concat([dx, dy], 3);
}

/** |D|ᵀ·p (the column sums of |D| for p = 1: 2–4 per pixel, fewer at the border). */
function absoluteDifferencesAdjoint(p: tf.Tensor): tf.Tensor {
  const [, h, w] = p.shape as number[];
  const px = tf.slice(p, [0, 0, 0, 0], [-1, -1, w - 1, 1]);
  const py = tf.slice(p, [0, 0, 0, 1], [-1, h - 1, -1, 1]);
  const tx = tf.add(tf.pad(px, [[0, 0], [0, 0], [1, 0], [0, 0]]), tf.pad(px, [[0, 0], [0, 0], [0, 1], [0, 0]]));
  const ty = tf.add(tf.pad(py, [[0, 0], [1, 0], [0, 0], [0, 0]]), tf.pad(py, [[0, 0], [0, 1], [0, 0], [0, 0]]));
  return tf.add(tx, ty);
}

/** Per two-vector group of q (channels 2k, 2k + 1): the larger entry on both, so a group shrinkage sees one step per group. */
function groupMax(t: tf.Tensor, n: number): tf.Tensor {
  const [b, h, w] = t.shape as number[];
  const g = tf.max(tf.reshape(t, [b, h, w, n, 2]), 4, true);
  return tf.reshape(tf.tile(g, [1, 1, 1, 1, 2]), [b, h, w, 2 * n]);
}

/**
 * The dual-side saddle problem above, θ = { stencils `[s, s, 2, 2n]`, logLambda } (or { logLambda }
 * with `fixedStencils`). Primal u = `[B, h, w, 1 + 2n]` (channel 0 is the image x), dual y = `[B, h, w, 2]`.
 *
 * @param o - {@link DualTVOptions}.
 * @returns the {@link SaddleProblem}, with ‖𝒦‖, μ_g, μ_{f*} and the bound's constants declared.
 */
export function dualLearnedTV(o: DualTVOptions): SaddleProblem<DenoisingPair> {
  const stencilsOf = (theta: Params) => o.fixedStencils ?? theta.stencils;
  const n = o.filters;
  const lambda = (theta: Params) => Math.exp(theta.logLambda.dataSync()[0]);
  return defineSaddle<DenoisingPair>({
    apply: (u, theta) => {
      const [b, h, w] = u.shape as number[];
      const x = tf.slice(u, [0, 0, 0, 0], [b, h, w, 1]);
      const q = tf.slice(u, [0, 0, 0, 1], [b, h, w, 2 * n]);
      const ktq = tf.conv2dTranspose(q as tf.Tensor4D, stencilsOf(theta) as tf.Tensor4D, [b, h, w, 2], 1, 'same');
      return tf.sub(tf.mul(forwardDifferences(x), tf.exp(theta.logLambda)), ktq);
    },
    adjoint: (y, theta) => {
      const dty = tf.mul(forwardDifferencesAdjoint(y), tf.exp(theta.logLambda));
      const ky = tf.conv2d(y as tf.Tensor4D, stencilsOf(theta) as tf.Tensor4D, 1, 'same');
      return tf.concat([dty, tf.neg(ky)], 3);
    },
    proxG: (u, tau, _theta, data) => {
      const [b, h, w] = u.shape as number[];
      const x = tf.slice(u, [0, 0, 0, 0], [b, h, w, 1]);
      const q = tf.reshape(tf.slice(u, [0, 0, 0, 1], [b, h, w, 2 * n]), [b, h, w, n, 2]);
      const xp = tf.div(tf.add(x, tf.mul(data.y, tau)), 1 + tau);
      // group soft-threshold of each two-vector by τ, then the ε_q shrink; sqrt(· + 1e-12): d√u/du is infinite at 0
      const mag = tf.sqrt(tf.add(tf.sum(tf.square(q), 4, true), 1e-12));
      const qp = tf.div(tf.mul(q, tf.div(tf.relu(tf.sub(mag, tau)), mag)), 1 + tau * o.epsilonQ);
      return tf.concat([xp, tf.reshape(qp, [b, h, w, 2 * n])], 3);
    },
    proxFStar: (y, sigma) => tf.div(y, 1 + sigma * o.epsilonY),
    // Elementwise steps for piggyback's `precondition` (Pock & Chambolle 2011): the same proxes entrywise;
    // the group shrinkage of q is exact because absoluteSums gives both entries of a group the same sum.
    proxGDiagonal: (u, tau, _theta, data) => {
      const [b, h, w] = u.shape as number[];
      const t = tf.broadcastTo(tau, u.shape);
      const x = tf.slice(u, [0, 0, 0, 0], [b, h, w, 1]);
      const tx = tf.slice(t, [0, 0, 0, 0], [b, h, w, 1]);
      const q = tf.reshape(tf.slice(u, [0, 0, 0, 1], [b, h, w, 2 * n]), [b, h, w, n, 2]);
      const tq = tf.reshape(tf.slice(t, [0, 0, 0, 1], [b, h, w, 2 * n]), [b, h, w, n, 2]);
      const xp = tf.div(tf.add(x, tf.mul(data.y, tx)), tf.add(tx, 1));
      const mag = tf.sqrt(tf.add(tf.sum(tf.square(q), 4, true), 1e-12));
      const qp = tf.div(tf.mul(q, tf.div(tf.relu(tf.sub(mag, tq)), mag)), tf.add(tf.mul(tq, o.epsilonQ), 1));
      return tf.concat([xp, tf.reshape(qp, [b, h, w, 2 * n])], 3);
    },
    proxFStarDiagonal: (y, sigma) => tf.div(y, tf.add(tf.mul(sigma, o.epsilonY), 1)),
    // Row sums Σ_j |𝒦_ij|^α (per y entry) and column sums Σ_i |𝒦_ij|^{2−α} (per u entry) of 𝒦 = [λD, −K_Wᵀ],
    // matrix-free: each entry of a stride-1 convolution is one tap, so |K_W|^p is the convolution with |W|^p
    // (0^0 counts as 1 at α ∈ {0, 2}: larger sums, smaller steps, still an upper bound).
    absoluteSums: (alpha, theta, data) => {
      const [, h, w] = data.y.shape as number[];
      const lambda = tf.exp(theta.logLambda);
      const W = tf.abs(stencilsOf(theta) as tf.Tensor4D);
      const onesY = tf.ones([1, h, w, 2]);
      const dual = tf.add(tf.mul(absoluteDifferences(tf.ones([1, h, w, 1])), tf.pow(lambda, alpha)),
        tf.conv2dTranspose(tf.ones([1, h, w, 2 * n]) as tf.Tensor4D, tf.pow(W, alpha) as tf.Tensor4D, [1, h, w, 2], 1, 'same'));
      const primalX = tf.mul(absoluteDifferencesAdjoint(onesY), tf.pow(lambda, 2 - alpha));
      const primalQ = groupMax(tf.conv2d(onesY as tf.Tensor4D, tf.pow(W, 2 - alpha) as tf.Tensor4D, 1, 'same'), n);
      return { primal: tf.concat([primalX, primalQ], 3), dual };
    },
    init: (_theta, data) => tf.tidy(() => {
      const [b, h, w] = data.y.shape as number[];
      return tf.concat([data.y, tf.zeros([b, h, w, 2 * n])], 3);
    }),
    operatorNorm: (theta) => Math.sqrt(8) * lambda(theta) + convNormBound(stencilsOf(theta)),
    strongConvexity: Math.min(1, o.epsilonQ),
    dualStrongConvexity: o.epsilonY,
    // per entry: 1 on the image channel, ε_q on q, ε_y on y (the bound then measures ‖·‖_W; give piggyback lossWeight: 1)
    strongConvexityWeights: () => tf.tensor4d([1, ...new Array(2 * n).fill(o.epsilonQ)], [1, 1, 1, 1 + 2 * n]),
    dualStrongConvexityWeights: () => tf.fill([1, 1, 1, 2], o.epsilonY),
    hessianLipschitz: 0,
    dualHessianLipschitz: 0,
    // ∂𝒦[w](x, q) = w_λ λDx − K_{w_W}ᵀq: ‖·‖ ≤ √(8λ² + s²), with ‖K_w‖ ≤ s‖w‖₂ for s × s stencils.
    operatorDerivativeNorm: (theta) => {
      const s = stencilsOf(theta).shape[0];
      return Math.sqrt(8 * lambda(theta) ** 2 + (o.fixedStencils != null ? 0 : s * s));
    },
    name: 'dual-side learned TV',
  });
}

/** The image channel x of a primal point u = (x, q). */
export function imageOf(u: tf.Tensor): tf.Tensor {
  const [b, h, w] = u.shape as number[];
  return tf.slice(u, [0, 0, 0, 0], [b, h, w, 1]);
}
