import { tf } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import type { Regularizer } from './types.js';
import { gradient2d } from '../operators/finite-difference.js';
import { checkImage, checkPositive } from '../internal/checks.js';
import { param, read } from '../internal/params.js';
import { checkOptions } from '@bilevel/core';
import { TGV_SCHEMA } from '../internal/options.js';

/** Options of {@link tgv}. */
export interface TGVOptions {
  /** Smoothing ν > 0 of both Euclidean norms, `|·| ≈ √(|·|² + ν²)`. */
  nu?: number;
  /** Initial weight α of the first-order term (stored as `theta.logAlpha = log α`). */
  alpha?: number;
  /** Initial ratio β of the second-order to the first-order weight (`theta.logBeta = log β`). */
  beta?: number;
}

/** Defaults of {@link tgv}: ν = 0.01, α = 0.1, β = 1. */
export const TGV_DEFAULTS = { nu: 0.01, alpha: 0.1, beta: 1 } as const;

/**
 * The image `u` of a TGV field `z = (u, w)`: channel 0 of `[b, h, w, 3]`.
 *
 * @param z - `[b, h, w, 3]`, channels (u, w_vertical, w_horizontal).
 * @returns `[b, h, w, 1]`.
 * @example
 * ```ts
 * const loss = (z, _theta, data) => tf.sum(tf.square(tf.sub(tgvImage(z), data.clean)));
 * ```
 */
export function tgvImage(z: tf.Tensor): tf.Tensor4D {
  checkImage('tgvImage', 'z', z, 3);
  return tf.slice(z, [0, 0, 0, 0], [-1, -1, -1, 1]) as tf.Tensor4D;
}

/**
 * Symmetrised gradient `E w = ½(∇w + ∇wᵀ)` of a vector field, forward differences with
 * Neumann boundary ({@link gradient2d} on each component), as its three distinct entries.
 *
 * `(E w)₁₁ = ∂_v w_v`, `(E w)₂₂ = ∂_h w_h`, `(E w)₁₂ = ½(∂_h w_v + ∂_v w_h)`, so that the
 * Frobenius norm is `|E w|² = (E w)₁₁² + (E w)₂₂² + 2 (E w)₁₂²`. `‖E‖² ≤ 8`
 * (`|E w|² ≤ |∇w_v|² + |∇w_h|²` and `‖∇‖² ≤ 8`).
 *
 * @param w - `[b, h, w, 2]` field (vertical, horizontal) like the output of {@link gradient2d}.
 * @returns `[b, h, w, 3]`: (E₁₁, E₂₂, E₁₂).
 * @example
 * ```ts
 * const e = symmetricGradient(gradient2d(x));   // a discrete Hessian of x (interior)
 * ```
 */
export function symmetricGradient(w: tf.Tensor): tf.Tensor4D {
  checkImage('symmetricGradient', 'w', w, 2);
  return tf.tidy(() => {
    const gv = gradient2d(tf.slice(w, [0, 0, 0, 0], [-1, -1, -1, 1]));
    const gh = gradient2d(tf.slice(w, [0, 0, 0, 1], [-1, -1, -1, 1]));
    const e11 = tf.slice(gv, [0, 0, 0, 0], [-1, -1, -1, 1]);
    const e22 = tf.slice(gh, [0, 0, 0, 1], [-1, -1, -1, 1]);
    const e12 = tf.mul(0.5, tf.add(tf.slice(gv, [0, 0, 0, 1], [-1, -1, -1, 1]), tf.slice(gh, [0, 0, 0, 0], [-1, -1, -1, 1])));
    return tf.concat([e11, e22, e12], 3) as tf.Tensor4D;
  });
}

/**
 * Smoothed second-order total generalised variation (Bredies, Kunisch & Pock 2010) on the
 * stacked field `z = (u, w)`, `[b, h, w, 3]`:
 *
 * `R(z; θ) = α Σ_pixels √(|∇u − w|² + ν²) + αβ Σ_pixels √(|E w|²_F + ν²)`,
 * `α = e^{θ.logAlpha}`, `β = e^{θ.logBeta}`.
 *
 * `TGV²(u) = min_w R((u, w))` at ν = 0 (the talk's `inf_v ‖∇x − v‖₁ + β‖∇v‖₁`, weighted by α and
 * with the symmetrised gradient). The auxiliary field w is part of the lower-level variable, so
 * the lower level stays a smooth minimisation over z and every strategy applies unchanged;
 * read the image with {@link tgvImage}.
 *
 * Convex. `∇R` is Lipschitz with `L = α(9 + 8β)/ν` (`‖(u, w) ↦ ∇u − w‖² ≤ ‖∇‖² + 1 ≤ 9`,
 * `‖E‖² ≤ 8`, and the Hessian of `√(|g|² + ν²)` has norm ≤ 1/ν).
 *
 * @param options - `{ nu, alpha, beta }`, see {@link TGV_DEFAULTS}.
 * @returns a {@link Regularizer} of `[b, h, w, 3]` fields with parameters `{ logAlpha, logBeta }`.
 * @example
 * ```ts
 * const R = tgv({ nu: 0.01, alpha: 0.1, beta: 2 });
 * const theta = R.init();
 * const z = tf.concat([u, tf.zerosLike(gradient2d(u))], 3);   // w = 0: R = α·TV_ν(u) + αβνN
 * const r = R.value(z, theta);
 * ```
 */
export function tgv(options: TGVOptions = {}): Regularizer {
  checkOptions('tgv', options, TGV_SCHEMA);
  const { nu, alpha, beta } = { ...TGV_DEFAULTS, ...options };
  checkPositive('tgv', 'nu', nu);
  checkPositive('tgv', 'alpha', alpha);
  checkPositive('tgv', 'beta', beta);
  const weights = (theta: Params) => read(() => tf.stack([tf.exp(param(theta, 'logAlpha', 'tgv')), tf.exp(param(theta, 'logBeta', 'tgv'))]));
  return {
    name: `TGV² (ν = ${nu})`,
    convex: true,
    value: (z, theta) =>
      tf.tidy(() => {
        checkImage('tgv.value', 'z', z, 3);
        const u = tf.slice(z, [0, 0, 0, 0], [-1, -1, -1, 1]);
        const w = tf.slice(z, [0, 0, 0, 1], [-1, -1, -1, 2]);
        const first = tf.sum(tf.sqrt(tf.add(tf.sum(tf.square(tf.sub(gradient2d(u), w)), 3), nu * nu)));
        const e = symmetricGradient(w);
        // |E w|²_F counts the off-diagonal entry twice
        const eNormSq = tf.add(tf.sum(tf.square(tf.slice(e, [0, 0, 0, 0], [-1, -1, -1, 2])), 3), tf.mul(2, tf.sum(tf.square(tf.slice(e, [0, 0, 0, 2], [-1, -1, -1, 1])), 3)));
        const second = tf.sum(tf.sqrt(tf.add(eNormSq, nu * nu)));
        const a = tf.exp(param(theta, 'logAlpha', 'tgv'));
        return tf.mul(a, tf.add(first, tf.mul(tf.exp(param(theta, 'logBeta', 'tgv')), second)));
      }),
    mu: () => 0,
    lipschitz: (theta) => {
      const [a, b] = weights(theta);
      return (a * (9 + 8 * b)) / nu;
    },
    init: (): Params => ({ logAlpha: tf.scalar(Math.log(alpha)), logBeta: tf.scalar(Math.log(beta)) }),
  };
}
