import { tf } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import type { Regularizer } from './types.js';
import { checkPositive } from '../internal/checks.js';
import { param, read, filterL1Norms, checkFilters } from '../internal/params.js';
import { dctFilters } from './filters.js';

/** Options of {@link fieldsOfExperts}. */
export interface FieldsOfExpertsOptions {
  /** Initial filters `[S, S, 1, K]` (copied). Default: the DCT basis of side `size`. */
  filters?: tf.Tensor;
  /** Filter side of the default DCT filters. */
  size?: number;
  /** Initial expert weight α_k (stored as `logAlpha`), the same for every filter. */
  alpha?: number;
  /** Initial smoothing ν_k (stored as `logNu`), the same for every filter. */
  nu?: number;
  /** Convolution boundary. */
  padding?: 'valid' | 'same';
}

/** Defaults of {@link fieldsOfExperts}: 3×3 DCT filters (8), α = 0.01, ν = 0.1, valid padding. */
export const FIELDS_OF_EXPERTS_DEFAULTS = { size: 3, alpha: 0.01, nu: 0.1, padding: 'valid' } as const;

/**
 * Fields of Experts (Roth & Black) with Student-t experts:
 * `R(x; θ) = Σ_k e^{α_k} 1ᵀ ρ.(c_k ∗ x; ν_k)`, `ρ(z; ν) = log(1 + z²/ν²)`, with learnable
 * filters `c_k`, weights `α_k` and smoothings `ν_k = e^{θ.logNu_k}`.
 *
 * **Non-convex**: `ρ''(z) = 2(ν² − z²)/(ν² + z²)² ∈ [−1/(4ν²), 2/ν²]`, so R is only weakly
 * convex, `∇²R ⪰ −Σ_k e^{α_k}‖c_k‖₁²/(4ν_k²) I =: μ I` (μ < 0), and `∇R` is Lipschitz with
 * `L = Σ_k e^{α_k}‖c_k‖₁² · 2/ν_k²`. Pair it with a strongly convex term whose modulus
 * exceeds |μ| (the data term `½‖x − y‖²` for denoising, or {@link tikhonov} ξ) to get a
 * strongly convex lower-level problem; {@link foeProblem} declares μ accordingly.
 *
 * @param options - see {@link FIELDS_OF_EXPERTS_DEFAULTS}.
 * @returns a {@link Regularizer} with parameters `{ filters: [S, S, 1, K], logAlpha: [K], logNu: [K] }`.
 * @example
 * ```ts
 * const R = fieldsOfExperts({ size: 5 });   // 24 DCT filters
 * const theta = R.init();
 * ```
 */
export function fieldsOfExperts(options: FieldsOfExpertsOptions = {}): Regularizer {
  const o = { ...FIELDS_OF_EXPERTS_DEFAULTS, ...options };
  checkPositive('fieldsOfExperts', 'alpha', o.alpha);
  checkPositive('fieldsOfExperts', 'nu', o.nu);
  if (o.padding !== 'valid' && o.padding !== 'same') throw new Error(`fieldsOfExperts: option 'padding' must be 'valid' or 'same', got ${String(o.padding)}.`);
  if (options.filters != null) checkFilters('fieldsOfExperts', options.filters);
  const where = 'fieldsOfExperts';
  const constants = (theta: Params) => {
    const alpha = read(() => tf.exp(param(theta, 'logAlpha', where)));
    const nu = read(() => tf.exp(param(theta, 'logNu', where)));
    const l1 = filterL1Norms(param(theta, 'filters', where));
    return Array.from(alpha, (a, k) => (a * l1[k] * l1[k]) / (nu[k] * nu[k]));
  };
  return {
    name: 'Fields of Experts',
    convex: false,
    value: (x, theta) =>
      tf.tidy(() => {
        const z = tf.conv2d(x as tf.Tensor4D, param(theta, 'filters', where) as tf.Tensor4D, 1, o.padding);
        const nu2 = tf.exp(tf.mul(2, param(theta, 'logNu', where)));
        const perFilter = tf.sum(tf.log1p(tf.div(tf.square(z), nu2)), [0, 1, 2]);
        return tf.sum(tf.mul(tf.exp(param(theta, 'logAlpha', where)), perFilter));
      }),
    mu: (theta) => -constants(theta).reduce((s, c) => s + c, 0) / 4,
    lipschitz: (theta) => 2 * constants(theta).reduce((s, c) => s + c, 0),
    init() {
      const filters = options.filters != null ? options.filters.clone() : dctFilters(o.size);
      const count = filters.shape[3] as number;
      return { filters, logAlpha: tf.fill([count], Math.log(o.alpha)), logNu: tf.fill([count], Math.log(o.nu)) };
    },
  };
}
