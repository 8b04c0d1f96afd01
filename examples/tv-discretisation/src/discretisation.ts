/**
 * TV denoising with a learned discretisation, as a saddle point for PDHG + piggyback:
 *
 *   min_x max_z ⟨K_θ x, z⟩ + ½‖x − y‖² − δ_{‖z‖_{2,∞} ≤ α}(z),   K_θ = I_W ∘ D,
 *
 * D the forward differences (Neumann boundary, two channels on staggered grids) and I_W a
 * learned interpolation: a `s × s` convolution from the 2 gradient channels to `n` channels
 * (Bogensperger et al., "An adaptively inexact method for bilevel learning using primal-dual
 * style differentiation", 2024, §4.1; Condat; Chambolle & Pock, "learning consistent discretizations of TV"). The
 * ℓ2 norm groups the n channels of a pixel. W₀ = the identity stencil (centre tap 1 for
 * channel c ← c) gives K_θ₀ = D, i.e. plain isotropic TV. Building K on D keeps every learned
 * stencil consistent: it annihilates constants, whatever W is.
 */
import { tf, defineSaddle } from '@bilevel/core';
import type { Params, SaddleProblem } from '@bilevel/core';

/** Data of one batch: noisy images y and their clean versions, `[B, h, w, 1]`. */
export interface DenoisingPair {
  y: tf.Tensor;
  clean: tf.Tensor;
}

/** Forward differences along width and height, `[B, h, w, 1]` → `[B, h, w, 2]`, zero in the last column / row. */
export function forwardDifferences(x: tf.Tensor): tf.Tensor {
  const [, h, w] = x.shape as number[];
  const dx = tf.pad(tf.sub(tf.slice(x, [0, 0, 1, 0], [-1, -1, -1, -1]), tf.slice(x, [0, 0, 0, 0], [-1, -1, w - 1, -1])), [[0, 0], [0, 0], [0, 1], [0, 0]]);
  const dy = tf.pad(tf.sub(tf.slice(x, [0, 1, 0, 0], [-1, -1, -1, -1]), tf.slice(x, [0, 0, 0, 0], [-1, h - 1, -1, -1])), [[0, 0], [0, 1], [0, 0], [0, 0]]);
  return tf.concat([dx, dy], 3);
}

/** The adjoint Dᵀ (minus the divergence), `[B, h, w, 2]` → `[B, h, w, 1]`. */
export function forwardDifferencesAdjoint(p: tf.Tensor): tf.Tensor {
  const [, h, w] = p.shape as number[];
  const px = tf.slice(p, [0, 0, 0, 0], [-1, -1, w - 1, 1]);
  const py = tf.slice(p, [0, 0, 0, 1], [-1, h - 1, -1, 1]);
  const tx = tf.sub(tf.pad(px, [[0, 0], [0, 0], [1, 0], [0, 0]]), tf.pad(px, [[0, 0], [0, 0], [0, 1], [0, 0]]));
  const ty = tf.sub(tf.pad(py, [[0, 0], [1, 0], [0, 0], [0, 0]]), tf.pad(py, [[0, 0], [0, 1], [0, 0], [0, 0]]));
  return tf.add(tx, ty);
}

/**
 * The stencils of plain TV: `[s, s, 2, n]` with centre tap 1 on channel c ← c (c < 2) and
 * the extra channels (c ≥ 2) filled with `extraScale`-sized seeded noise, because a channel
 * that starts at exactly zero is a stationary point (its dual stays zero, so does its gradient).
 */
export function identityStencils(size: number, channels: number, extraScale = 0.02, seed = 1): tf.Tensor4D {
  const values = new Float32Array(size * size * 2 * channels);
  let s = seed >>> 0;
  const random = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const c0 = Math.floor(size / 2);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      for (let a = 0; a < 2; a++) {
        for (let c = 0; c < channels; c++) {
          const k = ((i * size + j) * 2 + a) * channels + c;
          values[k] = c < 2 ? (i === c0 && j === c0 && a === c ? 1 : 0) : extraScale * (2 * random() - 1);
        }
      }
    }
  }
  return tf.tensor4d(values, [size, size, 2, channels]);
}

/**
 * An upper bound on ‖K_θ‖ = ‖I_W D‖: ‖D‖ ≤ √8, and per channel pair Young's inequality gives
 * ‖I_W‖ ≤ ‖M‖₂ with M_{ac} = ‖W_{·,·,a,c}‖₁, bounded by √(max row sum · max column sum) of M.
 * At W₀ (plain TV) M is the identity, so the bound is the usual √8 and the steps are TV's.
 */
export function operatorNormBound(stencils: tf.Tensor): number {
  const sums = tf.tidy(() => tf.sum(tf.abs(stencils), [0, 1]));
  const m = sums.arraySync() as number[][]; // [2, channels]
  sums.dispose();
  const rowSums = m.map((row) => row.reduce((s, v) => s + v, 0));
  const colSums = m[0].map((_, c) => m.reduce((s, row) => s + row[c], 0));
  return Math.sqrt(8) * Math.sqrt(Math.max(...rowSums) * Math.max(...colSums));
}

/** Options of {@link learnedTV}. */
export interface LearnedTVOptions {
  /** Stencils to use instead of θ.stencils (plain TV with the stencil fixed: only α is learned). */
  fixedStencils?: tf.Tensor;
}

/**
 * The saddle problem with θ = { stencils `[s, s, 2, n]`, logAlpha }, or θ = { logAlpha }
 * when `fixedStencils` is given. α = exp(logAlpha) keeps the weight positive without a constraint.
 *
 * @param options - {@link LearnedTVOptions}.
 * @returns the {@link SaddleProblem}; its ‖K_θ‖ bound and μ_g = 1 are given, so PDHG needs no power iteration.
 */
export function learnedTV(options: LearnedTVOptions = {}): SaddleProblem<DenoisingPair> {
  const stencilsOf = (theta: Params) => options.fixedStencils ?? theta.stencils;
  return defineSaddle<DenoisingPair>({
    apply: (x, theta) => tf.conv2d(forwardDifferences(x) as tf.Tensor4D, stencilsOf(theta) as tf.Tensor4D, 1, 'same'),
    adjoint: (z, theta) => {
      const [b, h, w] = z.shape as number[];
      return forwardDifferencesAdjoint(tf.conv2dTranspose(z as tf.Tensor4D, stencilsOf(theta) as tf.Tensor4D, [b, h, w, 2], 1, 'same'));
    },
    proxG: (x, tau, _theta, data) => tf.div(tf.add(x, tf.mul(data.y, tau)), 1 + tau),
    // Projection onto {‖z_p‖₂ ≤ α} per pixel; sqrt(· + 1e-12) because d√u/du is infinite at 0.
    proxFStar: (z, _sigma, theta) => {
      const magnitude = tf.sqrt(tf.add(tf.sum(tf.square(z), 3, true), 1e-12));
      return tf.div(z, tf.maximum(1, tf.div(magnitude, tf.exp(theta.logAlpha))));
    },
    init: (_theta, data) => data.y.clone(),
    operatorNorm: (theta) => operatorNormBound(stencilsOf(theta)),
    strongConvexity: 1,
    name: 'learned-discretisation TV',
  });
}
