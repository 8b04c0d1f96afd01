import { tf } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import type { Regularizer } from './types.js';
import { gradient2d } from '../operators/finite-difference.js';
import { checkPositive } from '../internal/checks.js';
import { param, read } from '../internal/params.js';
import { checkOptions } from '@bilevel/core';
import { TV_SCHEMA } from '../internal/options.js';
import { tvDerivatives } from '../internal/tv-derivatives.js';
import { withDenoising } from '../internal/fused-denoising.js';

/** Options of {@link smoothedTV} and {@link huberTV}. */
export interface TVOptions {
  /** Smoothing ν > 0 (corner rounding for smoothed TV, Huber threshold for Huber TV). */
  nu?: number;
  /** Initial weight α (stored as `theta.logAlpha = log α`). */
  alpha?: number;
  /**
   * Smoothed TV only: make ν a learnable parameter `theta.logNu = log ν` (initialised at
   * `nu`), as in the papers' (α, ν) learning experiments.
   */
  learnNu?: boolean;
}

/** Defaults of {@link smoothedTV} and {@link huberTV}: ν = 0.01, α = 0.1. */
export const TV_DEFAULTS = { nu: 0.01, alpha: 0.1 } as const;

function options(where: string, o: TVOptions): { nu: number; alpha: number } {
  checkOptions(where, o, TV_SCHEMA);
  const r = { ...TV_DEFAULTS, ...o };
  checkPositive(where, 'nu', r.nu);
  checkPositive(where, 'alpha', r.alpha);
  return r;
}

const alphaOf = (theta: Params, where: string) => read(() => tf.exp(param(theta, 'logAlpha', where)))[0];

/**
 * Smoothed (corner-rounded) isotropic total variation
 * `R(x; θ) = e^{θ.logAlpha} Σ_{pixels} √(|∇x|² + ν²)` with forward differences, Neumann boundary.
 *
 * Convex; `∇R` is Lipschitz with `L = α‖∇‖²/ν ≤ 8α/ν` (the Hessian of `√(|g|² + ν²)` in g
 * has norm ≤ 1/ν).
 *
 * @param options - `{ nu, alpha }`, see {@link TV_DEFAULTS}.
 * @returns a {@link Regularizer} with parameters `{ logAlpha: scalar }`.
 * @example
 * ```ts
 * const tv = smoothedTV({ nu: 0.01 });
 * const theta = tv.init();                 // { logAlpha: log 0.1 }
 * const r = tv.value(x, theta);            // scalar
 * ```
 */
export function smoothedTV(options_: TVOptions = {}): Regularizer {
  const { nu, alpha } = options('smoothedTV', options_);
  const learnNu = options_.learnNu === true;
  const nuOf = (theta: Params) => (learnNu ? read(() => tf.exp(param(theta, 'logNu', 'smoothedTV')))[0] : nu);
  const { fusedValue, denoising, ...derivatives } = tvDerivatives({ kind: 'smoothed', nu, learnNu, where: 'smoothedTV' });
  return withDenoising({
    name: learnNu ? 'smoothed TV (learned ν)' : `smoothed TV (ν = ${nu})`,
    convex: true,
    value: (x, theta) =>
      fusedValue(x, theta) ?? tf.tidy(() => {
        const g = gradient2d(x);
        const nuSquared = learnNu ? tf.exp(tf.mul(2, param(theta, 'logNu', 'smoothedTV'))) : nu * nu;
        const r = tf.sum(tf.sqrt(tf.add(tf.sum(tf.square(g), 3), nuSquared)));
        return tf.mul(tf.exp(param(theta, 'logAlpha', 'smoothedTV')), r);
      }),
    ...derivatives,
    mu: () => 0,
    lipschitz: (theta) => (8 * alphaOf(theta, 'smoothedTV')) / nuOf(theta),
    init: (): Params => {
      const theta: Params = { logAlpha: tf.scalar(Math.log(alpha)) };
      if (learnNu) theta.logNu = tf.scalar(Math.log(nu));
      return theta;
    },
  }, denoising);
}

/**
 * Huber total variation `R(x; θ) = e^{θ.logAlpha} Σ_{pixels} h_ν(|∇x|)`, with
 * `h_ν(t) = t²/(2ν)` for `t ≤ ν` and `t − ν/2` otherwise.
 *
 * Convex, `C¹` with `L ≤ 8α/ν`. Written without `√` at 0 so its gradient (and HVP) is
 * finite everywhere.
 *
 * @param options - `{ nu, alpha }`, see {@link TV_DEFAULTS}.
 * @returns a {@link Regularizer} with parameters `{ logAlpha: scalar }`.
 * @example
 * ```ts
 * const r = huberTV({ nu: 0.05 }).value(x, { logAlpha: tf.scalar(-2) });
 * ```
 */
export function huberTV(options_: TVOptions = {}): Regularizer {
  const { nu, alpha } = options('huberTV', options_);
  const { fusedValue, denoising, ...derivatives } = tvDerivatives({ kind: 'huber', nu, learnNu: false, where: 'huberTV' });
  return withDenoising({
    name: `Huber TV (ν = ${nu})`,
    convex: true,
    value: (x, theta) =>
      fusedValue(x, theta) ?? tf.tidy(() => {
        const n2 = tf.sum(tf.square(gradient2d(x)), 3);
        // h_ν(t) = min(t², ν²)/(2ν) + max(t, ν) − ν, written with min/max of t² only: no √ at 0
        // (NaN gradient) and no boolean masks (tf.where breaks double backprop in tfjs).
        const quadratic = tf.div(tf.minimum(n2, nu * nu), 2 * nu);
        const linear = tf.sqrt(tf.maximum(n2, nu * nu));
        const r = tf.sub(tf.sum(tf.add(quadratic, linear)), nu * n2.size);
        return tf.mul(tf.exp(param(theta, 'logAlpha', 'huberTV')), r);
      }),
    ...derivatives,
    mu: () => 0,
    lipschitz: (theta) => (8 * alphaOf(theta, 'huberTV')) / nu,
    init: () => ({ logAlpha: tf.scalar(Math.log(alpha)) }),
  }, denoising);
}
